package runtime

import (
	goruntime "runtime"
	"sync"
	"weak"
)

// Recycler hands the memory of dead tensors back to their device, so that the next
// allocations of the same size reuse it, warm and without the zeroing a fresh Go
// allocation costs (a serial pass over every byte, on the allocating goroutine). Its
// user counts the references it holds with Hold and Drop; a tensor whose count falls
// to zero is recycled if the device recycles, it was allocated after NewRecycler, and
// HostData never let its memory out. Tensors made before NewRecycler (parameters,
// inputs, saved activations) are never recycled. Grad uses one for its cotangents.
type Recycler struct {
	dev  recycler // nil: the device does not recycle
	mark uint64
	refs map[Buffer]int
}

// Recycle hands t's memory back to its device for reuse now, if the device recycles
// and HostData never let the memory out. t and every tensor sharing its memory (its
// views) must not be used again; on the CPU they panic if they are. It is for values
// that nothing else can reach, such as a layer's intermediate activations once the
// next op has read them and no tape keeps them.
func Recycle(t *Tensor) {
	if d, ok := t.dev.(recycler); ok && d.recyclable(t.buf, 0) {
		d.recycle(t.buf)
	}
}

// SameMemory reports whether a and b share their memory (one is the other or a view
// of it).
func SameMemory(a, b *Tensor) bool { return a != nil && b != nil && a.buf == b.buf }

// recycler is implemented by devices that can reuse a dead buffer's memory.
type recycler interface {
	// allocMark returns a mark that every buffer allocated later is past.
	allocMark() uint64
	// recyclable reports whether b was allocated past mark and may be recycled.
	recyclable(b Buffer, mark uint64) bool
	// recycle takes b's memory back; b must not be used again.
	recycle(b Buffer)
}

// NewRecycler returns a Recycler for tensors allocated on dev from now on.
func NewRecycler(dev Device) *Recycler {
	r := &Recycler{refs: map[Buffer]int{}}
	if d, ok := dev.(recycler); ok {
		r.dev, r.mark = d, d.allocMark()
	}
	return r
}

// Hold counts one more reference to t's memory (nothing for nil).
func (r *Recycler) Hold(t *Tensor) {
	if t != nil && r.dev != nil && r.dev.recyclable(t.buf, r.mark) {
		r.refs[t.buf]++
	}
}

// Drop removes a reference that Hold counted. When none is left, the device may
// reuse the memory: t and every tensor sharing it (its views) must not be used
// again; on the CPU they panic if they are.
func (r *Recycler) Drop(t *Tensor) {
	if t == nil {
		return
	}
	n, ok := r.refs[t.buf]
	switch {
	case !ok:
		return
	case n > 1:
		r.refs[t.buf] = n - 1
		return
	}
	delete(r.refs, t.buf)
	r.dev.recycle(t.buf)
}

// freeList keeps recycled CPU buffers by exact length (a training step makes the
// same shapes every step) up to limit bytes. Buffers that stay unused through a
// whole garbage-collection cycle are dropped, so that a run that moves on to other
// shapes does not keep them.
type freeList struct {
	mu        sync.Mutex
	limit     int64
	cur, aged map[int][][]float32 // recycled since the last collection, and before it
	st        RecycleStats        // st.HeldBytes: the bytes in cur and aged
}

// RecycleStats are the counters of a CPU device's recycled buffers.
type RecycleStats struct {
	Recycled  int64 // buffers a Recycler handed back and the device kept
	Reused    int64 // allocations served from them
	HeldBytes int64 // recycled bytes waiting for reuse now
}

func newFreeList(limit int64) *freeList {
	f := &freeList{limit: limit, cur: map[int][][]float32{}, aged: map[int][][]float32{}}
	armAging(weak.Make(f))
	return f
}

// armAging ages f's buffers at the next garbage collection, and again at each one
// after it, until f itself is collected. The sentinel is 16 bytes: the Go runtime
// packs smaller pointer-free objects together, and their cleanups may never run.
func armAging(w weak.Pointer[freeList]) {
	goruntime.AddCleanup(new([2]uint64), func(w weak.Pointer[freeList]) {
		if f := w.Value(); f != nil {
			f.age()
			armAging(w)
		}
	}, w)
}

// age drops the buffers that were recycled before the last collection and not used
// since.
func (f *freeList) age() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n, l := range f.aged {
		f.st.HeldBytes -= int64(4 * n * len(l))
	}
	f.aged, f.cur = f.cur, map[int][][]float32{}
}

// get returns a recycled buffer of n values, or nil.
func (f *freeList) get(n int) []float32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range []map[int][][]float32{f.cur, f.aged} {
		if l := m[n]; len(l) > 0 {
			s := l[len(l)-1]
			l[len(l)-1] = nil
			m[n] = l[:len(l)-1]
			f.st.HeldBytes -= int64(4 * n)
			f.st.Reused++
			return s
		}
	}
	return nil
}

// put keeps s unless that would pass the limit.
func (f *freeList) put(s []float32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := int64(4 * len(s)); f.st.HeldBytes+b <= f.limit {
		f.st.HeldBytes += b
		f.cur[len(s)] = append(f.cur[len(s)], s)
		f.st.Recycled++
	}
}

// drop lets go of every kept buffer.
func (f *freeList) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cur, f.aged, f.st.HeldBytes = map[int][][]float32{}, map[int][][]float32{}, 0
}

func (f *freeList) stats() RecycleStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
