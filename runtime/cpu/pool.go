package cpu

import (
	"math/bits"
	"sync"
)

// Pool recycles large float32 slices by size class, so that a training or sampling
// loop, which makes the same large short-lived tensors at every step, reuses memory
// that is already mapped and warm instead of having the kernel fault in and zero new
// pages. The classes are four per power of two (a slice is at most 25 % larger than
// asked for); requests below PoolMinLen values are not pooled. The pool holds at most
// Limit bytes of free slices and drops what would exceed it. It is safe for
// concurrent use; its zero value is not usable, call NewPool.
type Pool struct {
	limit int64
	mu    sync.Mutex
	free  map[int][][]float32 // by capacity
	st    PoolStats
}

// PoolStats are a pool's counters.
type PoolStats struct {
	Gets      int64 // slices handed out (pooled sizes only)
	Hits      int64 // of which reused
	Puts      int64 // slices given back
	Dropped   int64 // given back but not kept (over the limit)
	HeldBytes int64 // free bytes in the pool now
	PeakHeld  int64 // most free bytes held at once
	OutBytes  int64 // bytes handed out and not given back
	PeakOut   int64 // most bytes out at once
}

// PoolMinLen is the smallest request, in values, that a Pool serves from its classes.
const PoolMinLen = 1 << 12

// NewPool returns a pool that keeps at most limit bytes of free slices.
func NewPool(limit int64) *Pool {
	return &Pool{limit: limit, free: map[int][][]float32{}}
}

// poolCap is the capacity of n's class: n rounded up to a quarter of its power of two.
func poolCap(n int) int {
	c := bits.Len(uint(n - 1)) // 2^(c-1) < n ≤ 2^c
	step := 1 << max(c-3, 0)
	return (n + step - 1) / step * step
}

// Get returns a slice of n values and whether it is fresh (zero) memory; a reused
// slice holds whatever its last user left. Slices below PoolMinLen are always fresh.
func (p *Pool) Get(n int) (s []float32, fresh bool) {
	if n < PoolMinLen {
		return make([]float32, n), true
	}
	c := poolCap(n)
	p.mu.Lock()
	p.st.Gets++
	p.st.OutBytes += int64(c) * 4
	p.st.PeakOut = max(p.st.PeakOut, p.st.OutBytes)
	if list := p.free[c]; len(list) > 0 {
		s = list[len(list)-1]
		list[len(list)-1] = nil
		p.free[c] = list[:len(list)-1]
		p.st.Hits++
		p.st.HeldBytes -= int64(c) * 4
		p.mu.Unlock()
		return s[:n], false
	}
	p.mu.Unlock()
	return make([]float32, n, c), true
}

// Put gives back a slice from Get; the caller must not use it afterwards. Slices
// that Get did not pool are ignored.
func (p *Pool) Put(s []float32) {
	c := cap(s)
	if c < PoolMinLen || poolCap(c) != c {
		return
	}
	b := int64(c) * 4
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.Puts++
	p.st.OutBytes -= b
	if p.st.HeldBytes+b > p.limit {
		p.st.Dropped++
		return
	}
	p.free[c] = append(p.free[c], s[:c])
	p.st.HeldBytes += b
	p.st.PeakHeld = max(p.st.PeakHeld, p.st.HeldBytes)
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st
}

// Release drops every free slice (their memory goes back to the Go heap).
func (p *Pool) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.free)
	p.st.HeldBytes = 0
}
