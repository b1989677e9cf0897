package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestWinoArgLayout checks the field offsets that winograd_amd64.s reads.
func TestWinoArgLayout(t *testing.T) {
	var in winoIn
	var nin winoInN
	var nout winoOutN
	var out winoOutArgs
	var dy winoDyArgs
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"winoIn.vstride", unsafe.Offsetof(in.vstride), 0}, {"winoIn.nr", unsafe.Offsetof(in.nr), 8},
		{"winoIn.hw", unsafe.Offsetof(in.hw), 16}, {"winoIn.c", unsafe.Offsetof(in.c), 24},
		{"winoIn.rowOff", unsafe.Offsetof(in.rowOff), 32}, {"winoIn.load", unsafe.Offsetof(in.load), 64},
		{"winoIn.store", unsafe.Offsetof(in.store), 88},
		{"winoOutArgs.mstride", unsafe.Offsetof(out.mstride), 0}, {"winoOutArgs.tp", unsafe.Offsetof(out.tp), 8},
		{"winoOutArgs.ohw", unsafe.Offsetof(out.ohw), 16}, {"winoOutArgs.c", unsafe.Offsetof(out.c), 24},
		{"winoOutArgs.ow", unsafe.Offsetof(out.ow), 32}, {"winoOutArgs.rows", unsafe.Offsetof(out.rows), 40},
		{"winoOutArgs.flags", unsafe.Offsetof(out.flags), 48}, {"winoOutArgs.load", unsafe.Offsetof(out.load), 56},
		{"winoOutArgs.store", unsafe.Offsetof(out.store), 58},
		{"winoDyArgs.mstride", unsafe.Offsetof(dy.mstride), 0}, {"winoDyArgs.tp", unsafe.Offsetof(dy.tp), 8},
		{"winoDyArgs.ohw", unsafe.Offsetof(dy.ohw), 16}, {"winoDyArgs.c", unsafe.Offsetof(dy.c), 24},
		{"winoDyArgs.ow", unsafe.Offsetof(dy.ow), 32}, {"winoDyArgs.load", unsafe.Offsetof(dy.load), 40},
		{"winoDyArgs.store", unsafe.Offsetof(dy.store), 48},
		{"winoInN.vstride", unsafe.Offsetof(nin.vstride), 0}, {"winoInN.nr", unsafe.Offsetof(nin.nr), 8},
		{"winoInN.hw", unsafe.Offsetof(nin.hw), 16}, {"winoInN.c", unsafe.Offsetof(nin.c), 24},
		{"winoInN.groups", unsafe.Offsetof(nin.groups), 32}, {"winoInN.rowOff", unsafe.Offsetof(nin.rowOff), 40},
		{"winoInN.idx", unsafe.Offsetof(nin.idx), 168}, {"winoInN.load", unsafe.Offsetof(nin.load), 424},
		{"winoInN.lanes", unsafe.Offsetof(nin.lanes), 456}, {"winoInN.store", unsafe.Offsetof(nin.store), 464},
		{"winoOutN.mstride", unsafe.Offsetof(nout.mstride), 0}, {"winoOutN.tp", unsafe.Offsetof(nout.tp), 8},
		{"winoOutN.ohw", unsafe.Offsetof(nout.ohw), 16}, {"winoOutN.c", unsafe.Offsetof(nout.c), 24},
		{"winoOutN.flags", unsafe.Offsetof(nout.flags), 40}, {"winoOutN.groups", unsafe.Offsetof(nout.groups), 48},
		{"winoOutN.load", unsafe.Offsetof(nout.load), 56}, {"winoOutN.grp", unsafe.Offsetof(nout.grp), 64},
		{"winoOutGroup.store", unsafe.Offsetof(nout.grp[0].store), 16}, {"winoOutGroup size", unsafe.Sizeof(nout.grp[0]), 24},
	} {
		if f.got != f.want {
			t.Errorf("%s at offset %d, the assembly reads it at %d", f.name, f.got, f.want)
		}
	}
}

// winoCase is one Winograd convolution of the tests.
type winoCase struct{ n, c, h, w, pad, cout int }

var winoCases = []winoCase{
	{1, 1, 1, 1, 1, 1}, {2, 3, 5, 7, 1, 4}, {3, 5, 7, 7, 0, 13}, {1, 2, 3, 4, 2, 3}, {2, 7, 13, 13, 1, 33},
	{33, 3, 3, 3, 1, 5}, {2, 17, 28, 28, 1, 16}, {1, 4, 40, 37, 1, 3}, {4, 40, 14, 14, 1, 70}, {2, 9, 6, 6, 2, 12},
}

// directConv is the 3×3 convolution of s in float64: (w ⋆ x + bias) + res.
func directConv(x, w, bias, res []float32, s WinogradConv) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, s.OutLen())
	for n := range s.N {
		for co := range s.Cout {
			pl := n*s.Cout + co
			for i := range oh {
				for j := range ow {
					var acc float64
					for ci := range s.C {
						for ki := range 3 {
							for kj := range 3 {
								r, c := i+ki-s.Pad, j+kj-s.Pad
								if r >= 0 && r < s.H && c >= 0 && c < s.W {
									acc += float64(x[((n*s.C+ci)*s.H+r)*s.W+c]) * float64(w[((co*s.C+ci)*3+ki)*3+kj])
								}
							}
						}
					}
					if len(bias) != 0 {
						acc += float64(planeBias(bias, pl, s.Cout))
					}
					k := (pl*oh+i)*ow + j
					if res != nil {
						acc += float64(res[k])
					}
					y[k] = acc
				}
			}
		}
	}
	return y
}

// TestConvWinogradMatchesDirect compares ConvWinograd with the float64 direct
// convolution for every GEMM kernel, with and without the vector transforms: odd
// sizes, padding 0 to 2, bias per channel and per image, a residual, and beta 1.
func TestConvWinogradMatchesDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	defer func(v bool) { winoVector = v }(winoVector)
	for _, vec := range []bool{false, true} {
		if vec && !winoVector {
			continue
		}
		winoVector = vec
		for _, k := range []Kernel{KernelGeneric, KernelAVX2, KernelAVX512} {
			if !k.Available() {
				continue
			}
			for _, c := range winoCases {
				s := WinogradConv{N: c.n, C: c.c, H: c.h, W: c.w, Pad: c.pad, Cout: c.cout}
				x, w := ktRand(r, c.n*c.c*c.h*c.w), ktRand(r, c.cout*c.c*9)
				name := fmt.Sprintf("vector %v %v %+v", vec, k, c)
				checkWinograd(t, name, Gemm{Kernel: k}, s, x, w, ktRand(r, c.cout), ktRand(r, s.OutLen()))
				checkWinograd(t, name, Gemm{Kernel: k}, s, x, w, ktRand(r, c.n*c.cout), nil)
				checkWinograd(t, name, Gemm{Kernel: k}, s, x, w, nil, nil)
			}
		}
	}
}

func checkWinograd(t *testing.T, name string, g Gemm, s WinogradConv, x, w, bias, res []float32) {
	t.Helper()
	want := directConv(x, w, bias, res, s)
	got := ktNaN(s.OutLen())
	g.ConvWinograd(got, x, w, bias, res, s, 0)
	closeTo(t, name, got, want)
	if res != nil {
		return
	}
	// beta 1 adds to what y holds.
	base := make([]float32, len(got))
	for i := range base {
		base[i] = float32(i%7) - 3
		got[i] = base[i]
		want[i] += float64(base[i])
	}
	g.ConvWinograd(got, x, w, bias, nil, s, 1)
	closeTo(t, name+" beta 1", got, want)
}

// closeTo fails unless every value of got is within 1e-5 of want relative to want's
// largest magnitude (float32 rounding of sums of up to a few hundred products).
func closeTo(t *testing.T, name string, got []float32, want []float64) {
	t.Helper()
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	for i, v := range want {
		if d := math.Abs(float64(got[i]) - v); !(d <= 1e-5*math.Max(scale, 1)) {
			t.Fatalf("%s: value %d = %g, direct %g (scale %g)", name, i, got[i], v, scale)
		}
	}
}

// TestWinogradVectorMatchesGo checks that the assembly transforms give the Go
// loops' results bit for bit, through whole convolutions.
func TestWinogradVectorMatchesGo(t *testing.T) {
	if !winoVector {
		t.Skip("no AVX-512 Winograd transforms on this CPU")
	}
	defer func(v bool) { winoVector = v }(winoVector)
	r := rand.New(rand.NewPCG(23, 24))
	for _, c := range winoCases {
		s := WinogradConv{N: c.n, C: c.c, H: c.h, W: c.w, Pad: c.pad, Cout: c.cout}
		x, w, bias, res := ktRand(r, c.n*c.c*c.h*c.w), ktRand(r, c.cout*c.c*9), ktRand(r, c.n*c.cout), ktRand(r, s.OutLen())
		for _, rs := range [][]float32{nil, res} {
			var out [2][]float32
			for i, vec := range []bool{true, false} {
				winoVector = vec
				out[i] = ktNaN(s.OutLen())
				Gemm{Kernel: BestKernel()}.ConvWinograd(out[i], x, w, bias, rs, s, 0)
			}
			for i := range out[1] {
				if math.Float32bits(out[0][i]) != math.Float32bits(out[1][i]) {
					t.Fatalf("%+v residual %v: value %d = %v with the assembly, %v with the Go loops", c, rs != nil, i, out[0][i], out[1][i])
				}
			}
		}
	}
}

// directWeightGrad is the weight gradient of the 3×3 convolution s in float64.
func directWeightGrad(dy, x []float32, s WinogradConv) []float64 {
	oh, ow := s.OutH(), s.OutW()
	dw := make([]float64, s.Cout*s.C*9)
	for n := range s.N {
		for co := range s.Cout {
			for ci := range s.C {
				for t := range 9 {
					ki, kj := t/3, t%3
					var acc float64
					for i := range oh {
						for j := range ow {
							r, c := i+ki-s.Pad, j+kj-s.Pad
							if r >= 0 && r < s.H && c >= 0 && c < s.W {
								acc += float64(dy[((n*s.Cout+co)*oh+i)*ow+j]) * float64(x[((n*s.C+ci)*s.H+r)*s.W+c])
							}
						}
					}
					dw[(co*s.C+ci)*9+t] += acc
				}
			}
		}
	}
	return dw
}

// TestConvWinogradWeightGrad compares ConvWinogradWeightGrad with the float64 weight
// gradient for every GEMM kernel and one or two goroutines, with and without the
// vector transforms, and the two transforms with each other bit for bit.
func TestConvWinogradWeightGrad(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	defer func(v bool) { winoVector = v }(winoVector)
	for _, c := range winoCases {
		s := WinogradConv{N: c.n, C: c.c, H: c.h, W: c.w, Pad: c.pad, Cout: c.cout}
		x, dy := ktRand(r, c.n*c.c*c.h*c.w), ktRand(r, s.OutLen())
		want := directWeightGrad(dy, x, s)
		var first []float32
		for _, vec := range []bool{false, true} {
			if vec && !winoVector {
				continue
			}
			winoVector = vec
			for _, k := range []Kernel{KernelGeneric, KernelAVX2, KernelAVX512} {
				for threads := 1; threads <= 2 && k.Available(); threads++ {
					got := ktNaN(c.cout * c.c * 9)
					Gemm{Kernel: k, Threads: threads}.ConvWinogradWeightGrad(got, dy, x, s)
					closeTo(t, fmt.Sprintf("vector %v %v threads %d %+v", vec, k, threads, c), got, want)
					if k != BestKernel() || threads != 2 {
						continue
					}
					if first == nil {
						first = got
					} else if i := firstBitDiff(got, first); i >= 0 {
						t.Fatalf("%+v: dw[%d] = %v with the assembly, %v with the Go loops", c, i, got[i], first[i])
					}
				}
			}
		}
	}
}

// firstBitDiff returns the first index where a and b differ bitwise, or −1.
func firstBitDiff(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestWinogradFlipped checks that a Flipped convolution reads the stored kernel as
// FlipKernel would write it: the outputs are bitwise equal.
func TestWinogradFlipped(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, c := range winoCases {
		s := WinogradConv{N: c.n, C: c.c, H: c.h, W: c.w, Pad: c.pad, Cout: c.cout}
		x, wt := ktRand(r, c.n*c.c*c.h*c.w), ktRand(r, c.c*c.cout*9) // wt: (C, Cout, 3, 3)
		wf := make([]float32, len(wt))
		FlipKernel(wf, wt, c.c, c.cout, 3, 3) // (Cout, C, 3, 3)
		want, got := ktNaN(s.OutLen()), ktNaN(s.OutLen())
		g := Gemm{Kernel: BestKernel()}
		g.ConvWinograd(want, x, wf, nil, nil, s, 0)
		s.Flipped = true
		g.ConvWinograd(got, x, wt, nil, nil, s, 0)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v: value %d = %v flipped, %v with FlipKernel's kernel", c, i, got[i], want[i])
			}
		}
	}
}
