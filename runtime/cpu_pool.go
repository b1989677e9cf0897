package runtime

import (
	"math/bits"
	goruntime "runtime"
	"sync"
)

// bufferPool recycles the float32 slices of CPU buffers. A buffer's slice returns to
// the pool when the garbage collector finds the buffer unreachable (a finalizer), so
// a training loop that makes the same tensors every step stops allocating and
// page-faulting fresh memory after its first steps. Every CPU device method keeps its
// buffer arguments alive until it returns (runtime.KeepAlive), so a slice is never
// recycled while a kernel reads it.
type bufferPool struct {
	mu       sync.Mutex
	free     [48][][]float32 // by size class: capacity 2^c
	held     int             // values held in free lists
	maxHeld  int             // cap on held values; beyond it slices are left to the GC
	disabled bool
}

// poolMinValues is the smallest buffer worth pooling (smaller ones are cheap to allocate).
const poolMinValues = 4096

func newBufferPool(maxHeld int) *bufferPool { return &bufferPool{maxHeld: maxHeld} }

// get returns a zeroed slice of n values, recycled when one of its size class is free.
func (p *bufferPool) get(n int) *cpuBuf {
	if n < poolMinValues || p.disabled {
		return &cpuBuf{d: make([]float32, n)}
	}
	c := bits.Len(uint(n - 1))
	p.mu.Lock()
	var s []float32
	if l := len(p.free[c]); l > 0 {
		s = p.free[c][l-1]
		p.free[c] = p.free[c][:l-1]
		p.held -= cap(s)
	}
	p.mu.Unlock()
	if s == nil {
		s = make([]float32, n, 1<<c)
	} else {
		s = s[:n]
		clear(s)
	}
	b := &cpuBuf{d: s}
	goruntime.SetFinalizer(b, p.put)
	return b
}

// put takes back the slice of an unreachable buffer.
func (p *bufferPool) put(b *cpuBuf) {
	s := b.d
	c := bits.Len(uint(cap(s) - 1))
	p.mu.Lock()
	if p.held+cap(s) <= p.maxHeld && cap(s) == 1<<c {
		p.free[c] = append(p.free[c], s[:0])
		p.held += cap(s)
	}
	p.mu.Unlock()
}

// keepAlive keeps buffers reachable until the deferred call runs.
func keepAlive(bufs ...Buffer) { goruntime.KeepAlive(bufs) }
