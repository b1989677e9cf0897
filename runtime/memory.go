package runtime

import (
	"os"
	"sync"
)

// heapReserve is a block of virtual memory that is allocated once and never touched,
// so it costs no physical memory; see ReserveHeap. Written once under reserveOnce.
var (
	heapReserve []byte
	reserveOnce sync.Once
)

// ReserveHeap makes the Go garbage collector run less often for tensor work. Each
// training or sampling step makes the same large short-lived tensors; with a small
// live heap the collector runs every few steps and the pages it frees go back to the
// operating system, only to be faulted in again, which costs more than the arithmetic
// of a small model. Reserving bytes of never-touched heap raises the collector's
// target (it collects when the heap reaches twice its live size) without using
// physical memory, and unlike a memory limit it keeps the collector's normal
// behaviour for models whose live heap is larger than the reserve. A GOGC or
// GOMEMLIMIT environment variable set by the user disables it. Call it once, from
// main or a benchmark's TestMain.
func ReserveHeap(bytes int) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	reserveOnce.Do(func() { heapReserve = make([]byte, bytes) })
}
