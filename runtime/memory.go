package runtime

import (
	"os"
	"runtime/debug"
)

// SetMemoryBudget tunes the Go garbage collector for tensor work: collect only when
// the heap reaches limit bytes, instead of whenever it doubles. Training and sampling
// loops make the same large short-lived tensors every step; with the default setting
// the collector runs constantly and freed pages go back to the operating system only
// to be faulted in again, which costs more than the arithmetic of a small model.
// A GOGC or GOMEMLIMIT environment variable set by the user takes precedence. Call it
// once, from main or a benchmark's TestMain.
func SetMemoryBudget(limit int64) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(-1)
}
