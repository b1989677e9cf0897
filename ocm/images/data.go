package images

import (
	"sync"

	"ocm/ocm/data"
	rt "ocm/runtime"
)

// Data is an image data set as an ocm.DataSource: batch i of size n is batch i of a
// data.Loader of batch size n, so the stream depends only on the seed, i and n.
type Data struct {
	Images *data.Images
	Seed   uint64

	mu      sync.Mutex
	loaders map[int]*data.Loader
	hash    string // ContentHash, once computed
}

// ContentHash is the SHA-256 of the data set's shape, pixels and labels (see
// data.Images.ContentHash), computed once: checkpoints record it so that a resumed
// run on other images under the same name is refused.
func (d *Data) ContentHash() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hash == "" {
		d.hash = d.Images.ContentHash()
	}
	return d.hash
}

// NewData serves ds with the given seed.
func NewData(ds *data.Images, seed uint64) *Data {
	return &Data{Images: ds, Seed: seed, loaders: map[int]*data.Loader{}}
}

// Batch returns batch i of n images (n, C, H, W) scaled to [−1, 1].
func (d *Data) Batch(dev rt.Device, i, n int) *rt.Tensor {
	d.mu.Lock()
	l, ok := d.loaders[n]
	if !ok {
		l = data.NewLoader(d.Images, n, d.Seed)
		d.loaders[n] = l
	}
	d.mu.Unlock()
	x, _ := l.Batch(i)
	return rt.FromSlice(dev, x, n, d.Images.C, d.Images.H, d.Images.W)
}

// ExampleShape is (C, H, W).
func (d *Data) ExampleShape() []int { return []int{d.Images.C, d.Images.H, d.Images.W} }
