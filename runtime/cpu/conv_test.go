package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// Shared helpers for the kernel tests in this package (prefixed kt to stay
// clear of other test files).

func ktRand(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func ktNaN(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func ktDot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func ktMaxAbs(a []float64) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, math.Abs(v))
	}
	return m
}

// ktClose reports the first i with |got[i]-want[i]| > tol, or -1.
func ktClose(got []float32, want []float64, tol float64) int {
	for i := range want {
		if !(math.Abs(float64(got[i])-want[i]) <= tol) {
			return i
		}
	}
	return -1
}

func ktPanics(t *testing.T, prefix string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want %q...", prefix)
			return
		}
		if s, ok := r.(string); !ok || !strings.HasPrefix(s, prefix) {
			t.Errorf("panic %v, want prefix %q", r, prefix)
		}
	}()
	f()
}

func TestParallelFor(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 5, 100, 1001} {
			for _, mc := range []int{-1, 0, 1, 7, 1000} {
				hits := make([]int32, n)
				var calls atomic.Int32
				ParallelFor(n, mc, func(lo, hi int) {
					calls.Add(1)
					if lo >= hi || lo < 0 || hi > n {
						t.Errorf("procs=%d n=%d mc=%d: bad range [%d,%d)", procs, n, mc, lo, hi)
						return
					}
					if hi-lo < max(mc, 1) && hi-lo != n {
						t.Errorf("procs=%d n=%d mc=%d: chunk [%d,%d) below minChunk", procs, n, mc, lo, hi)
					}
					for i := lo; i < hi; i++ {
						atomic.AddInt32(&hits[i], 1)
					}
				})
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("procs=%d n=%d mc=%d: index %d visited %d times", procs, n, mc, i, h)
					}
				}
				c := int(calls.Load())
				wantMax := min(procs, max(1, n/max(mc, 1)))
				if n == 0 {
					wantMax = 0
				}
				if c > wantMax || (n > 0 && c < 1) {
					t.Errorf("procs=%d n=%d mc=%d: %d calls, want 1..%d", procs, n, mc, c, wantMax)
				}
				if procs > 1 && n >= 2*max(mc, 1) && c < 2 {
					t.Errorf("procs=%d n=%d mc=%d: ran serially", procs, n, mc)
				}
			}
		}
	}
}

// im2colRef is a direct float64 transcription of Im2col's definition with
// row stride OutH·OutW.
func im2colRef(img []float32, g ConvGeom) []float64 {
	oh, ow := g.OutH(), g.OutW()
	col := make([]float64, g.C*g.KH*g.KW*oh*ow)
	for c := 0; c < g.C; c++ {
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				r := c*g.KH*g.KW + ki*g.KW + kj
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						ih, iw := y*g.Stride-g.Pad+ki, x*g.Stride-g.Pad+kj
						if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
							col[r*oh*ow+y*ow+x] = float64(img[(c*g.H+ih)*g.W+iw])
						}
					}
				}
			}
		}
	}
	return col
}

// col2imRef scatters col (row stride ldcol) into a fresh float64 image.
func col2imRef(col []float32, ldcol int, g ConvGeom) []float64 {
	oh, ow := g.OutH(), g.OutW()
	img := make([]float64, g.C*g.H*g.W)
	for c := 0; c < g.C; c++ {
		for ki := 0; ki < g.KH; ki++ {
			for kj := 0; kj < g.KW; kj++ {
				r := c*g.KH*g.KW + ki*g.KW + kj
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						ih, iw := y*g.Stride-g.Pad+ki, x*g.Stride-g.Pad+kj
						if ih >= 0 && ih < g.H && iw >= 0 && iw < g.W {
							img[(c*g.H+ih)*g.W+iw] += float64(col[r*ldcol+y*ow+x])
						}
					}
				}
			}
		}
	}
	return img
}

// convGeoms lists the geometries the Im2col/Col2im tests sweep.
func convGeoms() []ConvGeom {
	var gs []ConvGeom
	sizes := []int{1, 3, 7, 8, 28}
	kernels := [][2]int{{1, 1}, {3, 3}, {3, 1}, {5, 5}}
	for _, c := range []int{1, 3, 5} {
		for _, h := range sizes {
			for _, w := range sizes {
				for _, k := range kernels {
					for _, s := range []int{1, 2, 3} {
						for _, p := range []int{0, 1, 2} {
							g := ConvGeom{C: c, H: h, W: w, KH: k[0], KW: k[1], Stride: s, Pad: p}
							if g.KH > h+2*p || g.KW > w+2*p {
								continue
							}
							if s == 3 && (c != 3 || k[0] != 3) {
								continue // keep the sweep short
							}
							gs = append(gs, g)
						}
					}
				}
			}
		}
	}
	// Large enough to take the parallel path.
	gs = append(gs, ConvGeom{C: 64, H: 28, W: 28, KH: 3, KW: 3, Stride: 1, Pad: 1})
	return gs
}

func TestIm2colCol2imReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range convGeoms() {
		ohw := g.OutH() * g.OutW()
		rows := g.C * g.KH * g.KW
		for _, extra := range []int{0, 5} {
			ldcol := ohw + extra
			name := fmt.Sprintf("%+v/ld+%d", g, extra)
			img := ktRand(r, g.C*g.H*g.W)
			const guard = 7
			col := ktNaN((rows-1)*ldcol + ohw + guard)
			Im2col(col, ldcol, img, g)
			want := im2colRef(img, g)
			for i := range rows {
				for j := range ldcol {
					v := col[i*ldcol+j]
					if j >= ohw {
						if !math.IsNaN(float64(v)) {
							t.Fatalf("%s: Im2col wrote guard cell row %d col %d", name, i, j)
						}
						continue
					}
					if float64(v) != want[i*ohw+j] {
						t.Fatalf("%s: Im2col row %d col %d = %v, want %v", name, i, j, v, want[i*ohw+j])
					}
				}
			}
			for _, v := range col[len(col)-guard:] {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("%s: Im2col wrote past the block", name)
				}
			}

			// Col2im accumulates onto img; NaN guard cells in col must
			// not be read, those after img must not be written.
			for i := range rows {
				copy(col[i*ldcol:i*ldcol+ohw], ktRand(r, ohw))
			}
			base := ktRand(r, g.C*g.H*g.W)
			out := append(append([]float32(nil), base...), ktNaN(guard)...)
			Col2im(out, col, ldcol, g)
			scat := col2imRef(col, ldcol, g)
			for i, v := range base {
				w := float64(v) + scat[i]
				if math.Abs(float64(out[i])-w) > 1e-5*(1+math.Abs(w)) {
					t.Fatalf("%s: Col2im[%d] = %v, want %v", name, i, out[i], w)
				}
			}
			for _, v := range out[len(base):] {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("%s: Col2im wrote past the image", name)
				}
			}
		}
	}
}

func TestIm2colCol2imAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range convGeoms() {
		ohw := g.OutH() * g.OutW()
		rows := g.C * g.KH * g.KW
		ldcol := ohw + 3
		x := ktRand(r, g.C*g.H*g.W)
		c := ktRand(r, rows*ldcol)
		for i := range rows { // cells outside the block are never read
			for j := ohw; j < ldcol; j++ {
				c[i*ldcol+j] = 0
			}
		}
		ax := make([]float32, rows*ldcol)
		Im2col(ax, ldcol, x, g)
		atc := make([]float32, len(x))
		Col2im(atc, c, ldcol, g)
		lhs, rhs := ktDot(ax, c), ktDot(x, atc)
		// Scale: the sum of |terms| bounds the rounding.
		var scale float64
		for i := range ax {
			scale += math.Abs(float64(ax[i]) * float64(c[i]))
		}
		if math.Abs(lhs-rhs) > 1e-4*max(scale, 1) {
			t.Fatalf("%+v: <Im2col x, c> = %v, <x, Col2im c> = %v", g, lhs, rhs)
		}
	}
}

// TestConvViaIm2col checks a batched convolution computed as weights ×
// Im2col blocks placed side by side (ldcol = N·OutH·OutW) against a direct
// nested-loop convolution.
func TestConvViaIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, g := range []ConvGeom{
		{C: 3, H: 7, W: 5, KH: 3, KW: 3, Stride: 1, Pad: 1},
		{C: 2, H: 8, W: 8, KH: 3, KW: 3, Stride: 2, Pad: 1},
		{C: 4, H: 5, W: 6, KH: 1, KW: 1, Stride: 1, Pad: 0},
		{C: 2, H: 9, W: 7, KH: 5, KW: 3, Stride: 2, Pad: 0},
	} {
		const nimg, k = 3, 4
		oh, ow := g.OutH(), g.OutW()
		ohw := oh * ow
		kdim := g.C * g.KH * g.KW
		ldcol := nimg * ohw
		img := ktRand(r, nimg*g.C*g.H*g.W)
		wts := ktRand(r, k*kdim)
		col := make([]float32, kdim*ldcol)
		for b := range nimg {
			Im2col(col[b*ohw:], ldcol, img[b*g.C*g.H*g.W:], g)
		}
		for b := range nimg {
			for o := range k {
				for y := range oh {
					for x := range ow {
						var mm, direct float64
						for i := range kdim {
							mm += float64(wts[o*kdim+i]) * float64(col[i*ldcol+b*ohw+y*ow+x])
						}
						for c := range g.C {
							for ki := range g.KH {
								for kj := range g.KW {
									ih, iw := y*g.Stride-g.Pad+ki, x*g.Stride-g.Pad+kj
									if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
										continue
									}
									direct += float64(wts[((o*g.C+c)*g.KH+ki)*g.KW+kj]) *
										float64(img[((b*g.C+c)*g.H+ih)*g.W+iw])
								}
							}
						}
						if math.Abs(mm-direct) > 1e-9*(1+math.Abs(direct)) {
							t.Fatalf("%+v: out[%d,%d,%d,%d] = %v via Im2col, %v direct", g, b, o, y, x, mm, direct)
						}
					}
				}
			}
		}
	}
}

func TestIm2colPanics(t *testing.T) {
	g := ConvGeom{C: 2, H: 4, W: 4, KH: 3, KW: 3, Stride: 1, Pad: 1}
	img := make([]float32, 32)
	col := make([]float32, 18*16)
	ktPanics(t, "cpu: Im2col: ldcol", func() { Im2col(col, 15, img, g) })
	ktPanics(t, "cpu: Im2col: col too short", func() { Im2col(col[:len(col)-1], 16, img, g) })
	ktPanics(t, "cpu: Im2col: img too short", func() { Im2col(col, 16, img[:31], g) })
	ktPanics(t, "cpu: Col2im: col too short", func() { Col2im(img, col, 17, g) })
	bad := g
	bad.Stride = 0
	ktPanics(t, "cpu: Im2col: invalid", func() { Im2col(col, 16, img, bad) })
	bad = g
	bad.KH = 7
	ktPanics(t, "cpu: Col2im: kernel larger", func() { Col2im(img, col, 16, bad) })
}
