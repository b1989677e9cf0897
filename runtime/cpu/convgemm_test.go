package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// ktConvRef is the direct definition of a convolution (float64 sums) over NCHW x,
// w (cout, c, k, k): y[n][o][oh][ow] = Σ w[o][c][ki][kj]·x[n][c][oh·s−p+ki][ow·s−p+kj].
func ktConvRef(x, w []float32, n, c, h, wd, cout, k, s, p int) []float64 {
	oh, ow := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	y := make([]float64, n*cout*oh*ow)
	for b := range n {
		for o := range cout {
			for i := range oh {
				for j := range ow {
					var sum float64
					for ci := range c {
						for ki := range k {
							for kj := range k {
								yy, xx := i*s-p+ki, j*s-p+kj
								if yy >= 0 && yy < h && xx >= 0 && xx < wd {
									sum += float64(w[((o*c+ci)*k+ki)*k+kj]) * float64(x[((b*c+ci)*h+yy)*wd+xx])
								}
							}
						}
					}
					y[((b*cout+o)*oh+i)*ow+j] = sum
				}
			}
		}
	}
	return y
}

func ktKernels() []Kernel {
	var ks []Kernel
	for _, k := range []Kernel{KernelGeneric, KernelAVX2, KernelAVX512} {
		if k.Available() {
			ks = append(ks, k)
		}
	}
	return ks
}

// gridConvCase runs the three grid products of one stride-1 convolution (forward,
// input gradient by the flipped kernel, weight gradient) and compares them with the
// direct definitions (the gradients through the adjoint identities
// <dy, conv(x)> = <dx, x> = <dw, w> checked pointwise by finite structure: dx is the
// reference convolution of dy with the flipped kernel, dw the correlation of dy and x).
func gridConvCase(t *testing.T, g Gemm, r *rand.Rand, n, c, h, w, cout, k, p int) {
	x, wt := ktRand(r, n*c*h*w), ktRand(r, cout*c*k*k)
	s := GridConv{N: n, C: c, Hp: h + 2*p, Wp: w + 2*p, KH: k, KW: k, Cout: cout}
	oh, ow := s.OutH(), s.OutW()
	xp := ktNaN(s.InLen())
	PadPlanes(xp, x, n*c, h, w, p)
	y := ktNaN(s.OutLen())
	g.ConvGrid(y, xp, wt, s, 0)
	tol := 1e-4 * float64(c*k*k)
	if i := ktClose(y, ktConvRef(x, wt, n, c, h, w, cout, k, 1, p), tol); i >= 0 {
		t.Fatalf("forward: y[%d] = %g", i, y[i])
	}
	// Input gradient: dx = flip(w) ⋆ dy with padding k−1−p, a forward grid product.
	dy := ktRand(r, n*cout*oh*ow)
	wf := make([]float32, len(wt))
	FlipKernel(wf, wt, cout, c, k, k)
	pb := k - 1 - p
	sb := GridConv{N: n, C: cout, Hp: oh + 2*pb, Wp: ow + 2*pb, KH: k, KW: k, Cout: c}
	dyp := ktNaN(sb.InLen())
	PadPlanes(dyp, dy, n*cout, oh, ow, pb)
	dx := ktNaN(sb.OutLen())
	g.ConvGrid(dx, dyp, wf, sb, 0)
	if i := ktClose(dx, ktInputGradRef(dy, wt, n, c, h, w, cout, k, p), tol); i >= 0 {
		t.Fatalf("input grad: dx[%d] = %g", i, dx[i])
	}
	// Weight gradient: dyg is dy on the forward grid, zero past each row.
	dyg := ktNaN(s.GridLen())
	GridPlanes(dyg, dy, n*cout, oh, ow, s.Wp)
	dw := ktNaN(len(wt))
	g.ConvGridWeightGrad(dw, dyg, xp, s)
	if i := ktClose(dw, ktWeightGradRef(dy, x, n, c, h, w, cout, k, p), 1e-4*float64(n*oh*ow)); i >= 0 {
		t.Fatalf("weight grad: dw[%d] = %g", i, dw[i])
	}
}

// ktInputGradRef is dx[b][c][y][x] = Σ dy[b][o][i][j]·w[o][c][y−i+p][x−j+p] (stride 1).
func ktInputGradRef(dy, w []float32, n, c, h, wd, cout, k, p int) []float64 {
	oh, ow := h+2*p-k+1, wd+2*p-k+1
	dx := make([]float64, n*c*h*wd)
	for b := range n {
		for o := range cout {
			for i := range oh {
				for j := range ow {
					g := float64(dy[((b*cout+o)*oh+i)*ow+j])
					for ci := range c {
						for ki := range k {
							for kj := range k {
								yy, xx := i-p+ki, j-p+kj
								if yy >= 0 && yy < h && xx >= 0 && xx < wd {
									dx[((b*c+ci)*h+yy)*wd+xx] += g * float64(w[((o*c+ci)*k+ki)*k+kj])
								}
							}
						}
					}
				}
			}
		}
	}
	return dx
}

// ktWeightGradRef is dw[o][c][ki][kj] = Σ dy[b][o][i][j]·x[b][c][i−p+ki][j−p+kj].
func ktWeightGradRef(dy, x []float32, n, c, h, wd, cout, k, p int) []float64 {
	oh, ow := h+2*p-k+1, wd+2*p-k+1
	dw := make([]float64, cout*c*k*k)
	for b := range n {
		for o := range cout {
			for i := range oh {
				for j := range ow {
					g := float64(dy[((b*cout+o)*oh+i)*ow+j])
					for ci := range c {
						for ki := range k {
							for kj := range k {
								yy, xx := i-p+ki, j-p+kj
								if yy >= 0 && yy < h && xx >= 0 && xx < wd {
									dw[((o*c+ci)*k+ki)*k+kj] += g * float64(x[((b*c+ci)*h+yy)*wd+xx])
								}
							}
						}
					}
				}
			}
		}
	}
	return dw
}

// TestConvGrid checks the grid products against the direct definitions for every
// kernel, on odd sizes, channel counts off the tiles, 3×3 and 1×1, one and two
// goroutines.
func TestConvGrid(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []struct{ n, c, h, w, cout, k, p int }{
		{1, 1, 1, 1, 1, 3, 1}, {1, 3, 3, 3, 5, 3, 1}, {2, 5, 7, 7, 13, 3, 1},
		{3, 7, 13, 13, 33, 3, 1}, {5, 17, 7, 9, 29, 3, 1}, {2, 4, 6, 5, 3, 3, 0},
		{33, 3, 3, 3, 7, 3, 1}, {4, 40, 13, 13, 70, 3, 1},
		{1, 1, 1, 1, 1, 1, 0}, {3, 13, 7, 7, 19, 1, 0}, {33, 9, 3, 3, 5, 1, 0}, {2, 70, 13, 13, 40, 1, 0},
		// K beyond one super-block of A (gridABudget), M beyond the GEMM's mc.
		{2, 200, 5, 5, 70, 3, 1}, {1, 30, 6, 6, 150, 3, 1},
	}
	for _, kern := range ktKernels() {
		for _, th := range []int{1, 2} {
			g := Gemm{Kernel: kern, Threads: th}
			for _, c := range cases {
				t.Run(fmt.Sprintf("%v/t%d/%+v", kern, th, c), func(t *testing.T) {
					gridConvCase(t, g, r, c.n, c.c, c.h, c.w, c.cout, c.k, c.p)
				})
			}
		}
	}
}

// TestConvGridBeta checks that beta = 1 adds to the grid output.
func TestConvGridBeta(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := GridConv{N: 3, C: 5, Hp: 9, Wp: 9, KH: 3, KW: 3, Cout: 14}
	xp, w := ktRand(r, s.InLen()), ktRand(r, s.Cout*s.taps())
	for _, kern := range ktKernels() {
		g := Gemm{Kernel: kern, Threads: 2}
		want := make([]float32, s.OutLen())
		g.ConvGrid(want, xp, w, s, 0)
		got := ktRand(r, s.OutLen())
		base := append([]float32(nil), got...)
		g.ConvGrid(got, xp, w, s, 1)
		for i := range got {
			if d := got[i] - base[i] - want[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%v: yg[%d] = %g, want %g + %g", kern, i, got[i], base[i], want[i])
			}
		}
	}
}

// TestCopyRuns checks the packing moves (assembly where the CPU has AVX) against
// their portable definitions, for run counts around the vector loop's edges.
func TestCopyRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, l := range []int{16, 32} {
		for _, m := range []int{1, 2, 3, 7, 64} {
			src := ktRand(r, m+l-1)
			got, want := ktNaN(m*l), ktNaN(m*l)
			if l == 16 {
				copyRuns16(got, src, m)
				copyRuns16Go(want, src, m)
			} else {
				copyRuns32(got, src, m)
				copyRuns32Go(want, src, m)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("runs of %d, m %d: value %d = %g, want %g", l, m, i, got[i], want[i])
				}
			}
		}
	}
}

// TestTransposeRows checks the packing transpose of the weight gradient (8×8
// assembly blocks where the CPU has AVX) against its portable definition, for depths
// around the block edges.
func TestTransposeRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, w := range []int{8, 16, 32} {
		for _, kc := range []int{1, 7, 8, 9, 16, 23, 384} {
			rows := make([][]float32, w)
			for j := range rows {
				rows[j] = ktRand(r, kc+j%3)[:kc]
			}
			got, want := ktNaN(kc*w), ktNaN(kc*w)
			if !transposeRows(got, rows, kc) || !transposeRowsGo(want, rows, kc) {
				t.Fatalf("w %d: not transposed", w)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("w %d, kc %d: value %d = %g, want %g", w, kc, i, got[i], want[i])
				}
			}
		}
	}
}
