package data

import (
	"slices"
	"testing"
)

// indexed is a data set of n 1×1×2 images whose pixels are (i, 255−i) and
// whose label is i, so a batch shows which images it holds.
func indexed(n int) *Images {
	ds := &Images{N: n, C: 1, H: 1, W: 2, Pixels: make([]uint8, 2*n), Labels: make([]int, n), NumClasses: n}
	for i := range n {
		ds.Pixels[2*i], ds.Pixels[2*i+1] = uint8(i), uint8(255-i)
		ds.Labels[i] = i
	}
	return ds
}

func TestLoaderReproducible(t *testing.T) {
	ds := indexed(100)
	a, b, c := NewLoader(ds, 8, 42), NewLoader(ds, 8, 42), NewLoader(ds, 8, 43)
	if a.BatchesPerEpoch() != 12 {
		t.Fatalf("BatchesPerEpoch = %d, want 12 (100/8, last partial batch dropped)", a.BatchesPerEpoch())
	}
	differ := false
	// Visit b out of order: batch i depends only on (seed, i).
	for _, i := range []int{30, 0, 11, 12, 5, 29, 1, 100} {
		xa, ya := a.Batch(i)
		xb, yb := b.Batch(i)
		if !slices.Equal(xa, xb) || !slices.Equal(ya, yb) {
			t.Fatalf("batch %d differs between two loaders with the same seed", i)
		}
		_, yc := c.Batch(i)
		differ = differ || !slices.Equal(ya, yc)
	}
	if !differ {
		t.Fatal("seeds 42 and 43 gave the same batches")
	}
	if y0, y12 := a.indices(0), a.indices(12); slices.Equal(y0, y12) {
		t.Fatal("epochs 0 and 1 start with the same batch")
	}
}

func TestLoaderEpochIsPermutation(t *testing.T) {
	for _, tc := range []struct{ n, batch int }{{100, 10}, {100, 7}, {5, 5}, {7, 1}} {
		ds := indexed(tc.n)
		l := NewLoader(ds, tc.batch, 7)
		bpe := l.BatchesPerEpoch()
		for e := range 3 {
			seen := make([]int, tc.n)
			for j := range bpe {
				x, y := l.Batch(e*bpe + j)
				if len(x) != tc.batch*2 || len(y) != tc.batch {
					t.Fatalf("batch size %d/%d, want %d", len(x), len(y), tc.batch)
				}
				for k, i := range y {
					seen[i]++
					// Pixels match the label's image: (i, 255−i) scaled.
					if x[2*k] != scale[i] || x[2*k+1] != scale[255-i] {
						t.Fatalf("image %d pixels %v, want %v %v", i, x[2*k:2*k+2], scale[i], scale[255-i])
					}
				}
			}
			total := 0
			for i, s := range seen {
				if s > 1 {
					t.Fatalf("n=%d batch=%d epoch %d: image %d seen %d times", tc.n, tc.batch, e, i, s)
				}
				total += s
			}
			if total != bpe*tc.batch || (tc.n%tc.batch == 0 && total != tc.n) {
				t.Fatalf("n=%d batch=%d epoch %d: %d images seen, want %d", tc.n, tc.batch, e, total, bpe*tc.batch)
			}
		}
	}
}

func TestLoaderScaling(t *testing.T) {
	ds := indexed(256)
	ds.Labels, ds.NumClasses = nil, 0
	l := NewLoader(ds, 256, 1)
	x, y := l.Batch(0)
	if y != nil {
		t.Fatalf("labels %v, want nil for an unlabelled data set", y)
	}
	for _, v := range x {
		if v < -1 || v > 1 {
			t.Fatalf("value %v outside [-1, 1]", v)
		}
	}
	if scale[0] != -1 || scale[255] != 1 || scale[51] != float32(2.0*51/255-1) {
		t.Fatalf("scale 0 → %v, 255 → %v, 51 → %v", scale[0], scale[255], scale[51])
	}
	if !slices.Contains(x, -1) || !slices.Contains(x, 1) {
		t.Fatal("pixels 0 and 255 did not map to −1 and 1")
	}
}

func TestLoaderPanicsOnBadArguments(t *testing.T) {
	for name, f := range map[string]func(){
		"batch 0":        func() { NewLoader(indexed(4), 0, 1) },
		"batch > N":      func() { NewLoader(indexed(4), 5, 1) },
		"nil data set":   func() { NewLoader(nil, 1, 1) },
		"negative index": func() { NewLoader(indexed(4), 2, 1).Batch(-1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestContentHash: the hash changes with any pixel, label or the shape, and not
// with a copy.
func TestContentHash(t *testing.T) {
	mk := func() *Images {
		im := &Images{N: 2, C: 1, H: 2, W: 2, Pixels: []uint8{1, 2, 3, 4, 5, 6, 7, 8}, Labels: []int{0, 1}, NumClasses: 2}
		return im
	}
	base := mk().ContentHash()
	if mk().ContentHash() != base {
		t.Fatal("a copy hashes differently")
	}
	for name, spoil := range map[string]func(*Images){
		"pixel": func(im *Images) { im.Pixels[5]++ },
		"label": func(im *Images) { im.Labels[1] = 0 },
		"shape": func(im *Images) { im.N, im.H = 4, 1 },
	} {
		im := mk()
		spoil(im)
		if im.ContentHash() == base {
			t.Errorf("another %s hashes the same", name)
		}
	}
}
