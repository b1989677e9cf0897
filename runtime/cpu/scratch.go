package cpu

import (
	"math/bits"
	"sync"
)

// scratchPools hold reusable float32 scratch slices by power-of-two size class, so
// the steady state of a training loop allocates no scratch buffers (im2col columns,
// padded inputs, output grids). Immutable after init.
var scratchPools [40]sync.Pool

// Scratch returns a slice of n values with undefined contents, for a buffer that an
// op uses and gives back with PutScratch before it returns.
func Scratch(n int) []float32 {
	c := bits.Len(uint(max(n-1, 1)))
	if s, ok := scratchPools[c].Get().(*[]float32); ok {
		return (*s)[:n]
	}
	return make([]float32, n, 1<<c)
}

// PutScratch gives back a slice from Scratch; the caller must not use it afterwards.
func PutScratch(s []float32) {
	c := bits.Len(uint(max(cap(s)-1, 1)))
	if cap(s) == 1<<c {
		scratchPools[c].Put(&s)
	}
}
