package cpu

import (
	"runtime"
	"sync"
)

// ParallelFor calls body(lo, hi) over disjoint ranges that together cover
// [0, n): for i := 0; i < n; i++ is split into at most GOMAXPROCS contiguous
// chunks of at least minChunk items each (minChunk < 1 counts as 1), run
// concurrently; ParallelFor returns when all have finished. It runs
// body(0, n) on the calling goroutine when n < 2*minChunk or GOMAXPROCS is 1,
// and does nothing when n <= 0.
func ParallelFor(n, minChunk int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if minChunk < 1 {
		minChunk = 1
	}
	chunks := min(n/minChunk, runtime.GOMAXPROCS(0))
	if chunks <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < chunks; i++ {
		lo, hi := n*i/chunks, n*(i+1)/chunks
		wg.Go(func() { body(lo, hi) })
	}
	body(0, n/chunks)
	wg.Wait()
}

// parallelMinWork is the number of float32 elements of work below which a
// kernel does not bother to spread itself across goroutines.
const parallelMinWork = 1 << 15

// chunkFor returns the minChunk for ParallelFor over items of perItem
// elements of work each.
func chunkFor(perItem int) int {
	return max(1, parallelMinWork/max(1, perItem))
}
