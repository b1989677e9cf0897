package cudart

import (
	"math/bits"
	goruntime "runtime"
	"sync"
	"time"
)

// Stats counts what the device has done; read it with (*Device).Stats.
type Stats struct {
	BytesInUse   int64 // bytes of live buffers (size-class rounded)
	BytesCached  int64 // bytes in the free lists, ready for reuse
	PeakInUse    int64 // largest BytesInUse seen
	CudaMallocs  int64 // cudaMalloc calls (flat in a steady state)
	CudaFrees    int64 // cudaFree calls (beyond the cache bound, when memory runs out, or Trim)
	Launches     int64 // PTX kernel launches
	Gemms        int64 // cuBLAS GEMM calls
	Fallbacks    int64 // ops run on the host through the slow path (copy, CPU kernel, copy back)
	FallbackByOp map[string]int64
}

// sizeClass rounds a request up to its size class: powers of two up to 4 KiB, then
// four classes per power of two (at most 25% waste).
func sizeClass(bytes int) int {
	if bytes <= 256 {
		return 256
	}
	if bytes <= 4096 {
		return 1 << bits.Len(uint(bytes-1))
	}
	k := bits.Len(uint(bytes-1)) - 1 // 2^k < bytes ≤ 2^(k+1)
	step := 1 << (k - 2)
	return (bytes + step - 1) / step * step
}

// allocator is a caching allocator over cudaMalloc: freed blocks go to per-class free
// lists and are reused. The cache holds at most maxCached bytes (0: no bound): a block
// freed beyond that is queued and returned with cudaFree by the next get, so memory
// flows back gradually rather than only when cudaMalloc reports out of memory (which
// still drops the whole cache and retries).
type allocator struct {
	mu        sync.Mutex
	free      map[int][]uintptr
	maxCached int64
	surplus   []block // over maxCached: to cudaFree in the next get (put makes no CUDA call)
	stats     Stats
}

// get returns a block of class size, reusing a cached one when possible. malloc and
// cfree call cudaMalloc and cudaFree (with the context current).
func (a *allocator) get(size int, malloc func(int) (uintptr, int32), cfree func(uintptr)) (uintptr, int32) {
	a.mu.Lock()
	for _, b := range a.surplus {
		cfree(b.p)
		a.stats.CudaFrees++
	}
	a.surplus = a.surplus[:0]
	if l := a.free[size]; len(l) > 0 {
		p := l[len(l)-1]
		a.free[size] = l[:len(l)-1]
		a.stats.BytesCached -= int64(size)
		a.use(size)
		a.mu.Unlock()
		return p, 0
	}
	a.mu.Unlock()
	p, rc := malloc(size)
	if rc == cudaErrorMemoryAlloc { // let the collector free dead buffers, drop the cache, retry
		for range 3 {
			goruntime.GC()
			time.Sleep(5 * time.Millisecond) // cleanups run on their own goroutine
		}
		a.trim(cfree)
		p, rc = malloc(size)
	}
	if rc != 0 {
		return 0, rc
	}
	a.mu.Lock()
	a.stats.CudaMallocs++
	a.use(size)
	a.mu.Unlock()
	return p, 0
}

func (a *allocator) use(size int) {
	a.stats.BytesInUse += int64(size)
	a.stats.PeakInUse = max(a.stats.PeakInUse, a.stats.BytesInUse)
}

// put returns a block to its free list. It makes no CUDA call, so the collector's
// cleanup goroutine may call it.
func (a *allocator) put(p uintptr, size int) {
	a.mu.Lock()
	a.stats.BytesInUse -= int64(size)
	if a.maxCached > 0 && a.stats.BytesCached+int64(size) > a.maxCached {
		a.surplus = append(a.surplus, block{p, size})
	} else {
		a.free[size] = append(a.free[size], p)
		a.stats.BytesCached += int64(size)
	}
	a.mu.Unlock()
}

// trim frees every cached block with cudaFree.
func (a *allocator) trim(cfree func(uintptr)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.surplus {
		cfree(b.p)
		a.stats.CudaFrees++
	}
	a.surplus = a.surplus[:0]
	for size, l := range a.free {
		for _, p := range l {
			cfree(p)
			a.stats.CudaFrees++
			a.stats.BytesCached -= int64(size)
		}
		delete(a.free, size)
	}
}
