package data

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// scale maps a pixel u to 2·u/255 − 1, exactly −1 for 0 and 1 for 255.
var scale = func() (t [256]float32) {
	for u := range t {
		t[u] = float32(2*float64(u)/255 - 1)
	}
	return t
}()

// Loader yields reproducible shuffled batches of a data set, scaled to
// [-1, 1] as float32 NCHW.
//
// The batch stream is split into epochs of BatchesPerEpoch batches. Epoch e
// visits the images in the order of a permutation drawn from math/rand/v2's
// PCG seeded with (seed, e), so batch i depends only on (seed, i) and on the
// data set: a run can resume at any batch. The last partial batch of each
// epoch (N mod batch images) is dropped; each epoch draws a fresh
// permutation, so every image is still seen.
//
// A Loader is safe for concurrent use.
type Loader struct {
	ds    *Images
	batch int
	seed  uint64

	mu    sync.Mutex
	epoch int   // epoch of perm, −1 before the first
	perm  []int // permutation of epoch
}

// NewLoader returns a Loader over ds with batch images per batch. It panics
// (a programming error, not a data error) when ds is nil or empty, or when
// batch is not in [1, ds.N].
func NewLoader(ds *Images, batch int, seed uint64) *Loader {
	if ds == nil || ds.N < 1 {
		panic("data: NewLoader: empty data set")
	}
	if batch < 1 || batch > ds.N {
		panic(fmt.Sprintf("data: NewLoader: batch %d outside [1, %d] (the data set size)", batch, ds.N))
	}
	return &Loader{ds: ds, batch: batch, seed: seed, epoch: -1}
}

// BatchesPerEpoch returns ⌊N / batch⌋, the number of full batches in an
// epoch.
func (l *Loader) BatchesPerEpoch() int { return l.ds.N / l.batch }

// Batch returns batch i of the stream (i ≥ 0; it panics on i < 0): batch·C·H·W
// pixels in [-1, 1] in NCHW order, and the batch labels, or nil when the
// data set has none. Both slices are new.
func (l *Loader) Batch(i int) ([]float32, []int) {
	idx := l.indices(i)
	ds := l.ds
	n := ds.C * ds.H * ds.W
	x := make([]float32, len(idx)*n)
	var y []int
	if ds.Labels != nil {
		y = make([]int, len(idx))
	}
	for k, j := range idx {
		dst := x[k*n : (k+1)*n]
		for p, u := range ds.Pixels[j*n : (j+1)*n] {
			dst[p] = scale[u]
		}
		if y != nil {
			y[k] = ds.Labels[j]
		}
	}
	return x, y
}

// indices returns the data set indices of batch i (a copy).
func (l *Loader) indices(i int) []int {
	if i < 0 {
		panic(fmt.Sprintf("data: Loader.Batch: negative batch index %d", i))
	}
	bpe := l.BatchesPerEpoch()
	e, j := i/bpe, i%bpe
	l.mu.Lock()
	defer l.mu.Unlock()
	if e != l.epoch {
		r := rand.New(rand.NewPCG(l.seed, uint64(e)))
		l.perm, l.epoch = r.Perm(l.ds.N), e
	}
	return append([]int(nil), l.perm[j*l.batch:(j+1)*l.batch]...)
}

// Scaled returns images lo…hi−1 of ds in [−1, 1] (NCHW float32), in data set order.
func (ds *Images) Scaled(lo, hi int) []float32 {
	per := ds.C * ds.H * ds.W
	out := make([]float32, (hi-lo)*per)
	for i, u := range ds.Pixels[lo*per : hi*per] {
		out[i] = scale[u]
	}
	return out
}
