package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"ocm/runtime/cpu"
)

// TestConvPathsMatchIm2col compares every convolution product of the CPU device
// (forward, input gradient, weight gradient) with the im2col reference path, for
// every GEMM kernel this CPU has (and the portable one alone under -tags purego):
// 3×3 and 1×1, stride 1 and 2, odd sizes, batches 1 to 33, channel counts off the
// kernels' tiles.
func TestConvPathsMatchIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type conv struct{ n, c, hw, cout, k, stride, pad int }
	cases := []conv{
		{1, 1, 1, 1, 3, 1, 1}, {1, 3, 3, 5, 3, 1, 1}, {2, 5, 7, 13, 3, 1, 1}, {3, 7, 13, 33, 3, 1, 1},
		{33, 3, 3, 7, 3, 1, 1}, {4, 40, 13, 70, 3, 1, 1}, {2, 6, 7, 9, 3, 1, 0}, {3, 5, 15, 9, 3, 1, 1}, {2, 3, 28, 17, 3, 1, 1},
		{1, 1, 1, 1, 1, 1, 0}, {5, 13, 7, 19, 1, 1, 0}, {33, 9, 3, 5, 1, 1, 0}, {2, 70, 13, 40, 1, 1, 0},
		{3, 5, 7, 11, 3, 2, 1}, {2, 9, 13, 17, 3, 2, 1}, {33, 3, 3, 4, 3, 2, 1}, {2, 3, 7, 5, 1, 2, 0},
	}
	for _, k := range []cpu.Kernel{cpu.KernelGeneric, cpu.KernelAVX2, cpu.KernelAVX512} {
		if !k.Available() {
			continue
		}
		dev := NewCPU(CPUOptions{Kernel: k, Force: true})
		grid := NewCPU(CPUOptions{Kernel: k, Force: true})
		grid.forceGrid = true
		wino := NewCPU(CPUOptions{Kernel: k, Force: true})
		wino.forceWinograd = true
		ref := NewCPU(CPUOptions{Kernel: k, Force: true, Im2col: true})
		for _, c := range cases {
			t.Run(fmt.Sprintf("%v/%+v", k, c), func(t *testing.T) {
				a := ConvGeometry([]int{c.n, c.c, c.hw, c.hw}, []int{c.cout, c.c, c.k, c.k}, c.stride, c.pad)
				x := randBuf(r, c.n*c.c*c.hw*c.hw)
				w := randBuf(r, c.cout*c.c*c.k*c.k)
				dy := randBuf(r, c.n*c.cout*a.OutH*a.OutW)
				for _, op := range []struct {
					name string
					size int
					run  func(d *CPU, out Buffer)
				}{
					{"forward", len(dy.d), func(d *CPU, out Buffer) { d.Conv2d(out, x, w, a) }},
					{"input grad", len(x.d), func(d *CPU, out Buffer) { d.Conv2dInputGrad(out, dy, w, a) }},
					{"weight grad", len(w.d), func(d *CPU, out Buffer) { d.Conv2dWeightGrad(out, dy, x, a) }},
				} {
					want := nanBuf(op.size)
					op.run(ref, want)
					for _, d := range []*CPU{dev, grid, wino} {
						got := nanBuf(op.size)
						op.run(d, got)
						if i, e := maxRelDiff(got.d, want.d); e > 1e-5 {
							t.Errorf("%s (forceGrid %v, forceWinograd %v): value %d = %g, im2col %g (relative to the largest: %.2g)", op.name, d.forceGrid, d.forceWinograd, i, got.d[i], want.d[i], e)
						}
					}
				}
			})
		}
	}
}

func randBuf(r *rand.Rand, n int) *cpuBuf {
	b := &cpuBuf{d: make([]float32, n)}
	for i := range b.d {
		b.d[i] = float32(r.NormFloat64())
	}
	return b
}

func nanBuf(n int) *cpuBuf {
	b := &cpuBuf{d: make([]float32, n)}
	for i := range b.d {
		b.d[i] = float32(math.NaN())
	}
	return b
}

// maxRelDiff returns the index of the largest |got − want| and that difference over
// max |want| (infinite where a value is not finite).
func maxRelDiff(got, want []float32) (int, float64) {
	scale, worst, at := 0.0, 0.0, 0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return i, math.Inf(1)
		}
		if d > worst {
			worst, at = d, i
		}
	}
	return at, worst / math.Max(scale, 1e-30)
}

// convPathDevices are CPU devices with kernel k on each convolution path: the
// default choice, the implicit GEMM forced, Winograd forced, and im2col.
func convPathDevices(k cpu.Kernel) []*CPU {
	grid := NewCPU(CPUOptions{Kernel: k, Force: true})
	grid.forceGrid = true
	wino := NewCPU(CPUOptions{Kernel: k, Force: true})
	wino.forceWinograd = true
	return []*CPU{NewCPU(CPUOptions{Kernel: k, Force: true}), grid, wino, NewCPU(CPUOptions{Kernel: k, Force: true, Im2col: true})}
}

// TestConvBiasEqualsConvPlusBias checks Conv2dBias, whose bias is added where the
// output is stored, against the same device's Conv2d followed by adding the bias,
// bit for bit, on every path (implicit GEMM, forced grid, im2col) and kernel, for a
// bias per channel and per image and channel.
func TestConvBiasEqualsConvPlusBias(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	type conv struct{ n, c, hw, cout, k, stride, pad int }
	cases := []conv{
		{1, 1, 1, 1, 3, 1, 1}, {2, 5, 7, 13, 3, 1, 1}, {3, 7, 13, 33, 3, 1, 1}, {2, 3, 28, 17, 3, 1, 1},
		{5, 13, 7, 19, 1, 1, 0}, {33, 9, 3, 5, 1, 1, 0}, {3, 5, 7, 11, 3, 2, 1}, {33, 3, 3, 4, 3, 2, 1},
	}
	for _, k := range []cpu.Kernel{cpu.KernelGeneric, cpu.KernelAVX2, cpu.KernelAVX512} {
		if !k.Available() {
			continue
		}
		devs := convPathDevices(k)
		for _, c := range cases {
			a := ConvGeometry([]int{c.n, c.c, c.hw, c.hw}, []int{c.cout, c.c, c.k, c.k}, c.stride, c.pad)
			x, w := randBuf(r, c.n*c.c*c.hw*c.hw), randBuf(r, c.cout*c.c*c.k*c.k)
			ohw := a.OutH * a.OutW
			for _, nb := range []int{c.cout, c.n * c.cout} {
				b := randBuf(r, nb)
				for di, d := range devs {
					want := nanBuf(c.n * c.cout * ohw)
					d.Conv2d(want, x, w, a)
					for i := range want.d {
						pl := i / ohw
						if nb == c.cout {
							pl %= c.cout
						}
						want.d[i] += b.d[pl]
					}
					got := nanBuf(len(want.d))
					d.Conv2dBias(got, x, w, b, a)
					for i := range got.d {
						if math.Float32bits(got.d[i]) != math.Float32bits(want.d[i]) {
							t.Fatalf("%v device %d %+v, %d biases: value %d = %g, conv + bias %g", k, di, c, nb, i, got.d[i], want.d[i])
						}
					}
				}
			}
		}
	}
}

// TestConvBiasAddEqualsConvBiasThenAdd checks Conv2dBiasAdd, whose residual is added
// in the pass that stores the output, against the same device's Conv2dBias (Conv2d
// without a bias) followed by adding the residual, bit for bit, on every path
// (implicit GEMM, forced grid, im2col) and kernel, at odd sizes, strides 1 and 2,
// for a bias per channel, per image and channel, and none.
func TestConvBiasAddEqualsConvBiasThenAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	type conv struct{ n, c, hw, cout, k, stride, pad int }
	cases := []conv{
		{1, 1, 1, 1, 3, 1, 1}, {2, 5, 7, 13, 3, 1, 1}, {3, 7, 13, 33, 3, 1, 1}, {2, 3, 28, 17, 3, 1, 1},
		{2, 6, 7, 9, 3, 1, 0}, {5, 13, 7, 19, 1, 1, 0}, {33, 9, 3, 5, 1, 1, 0}, {3, 5, 7, 11, 3, 2, 1},
		{33, 3, 3, 4, 3, 2, 1}, {2, 3, 7, 5, 1, 2, 0},
	}
	for _, k := range []cpu.Kernel{cpu.KernelGeneric, cpu.KernelAVX2, cpu.KernelAVX512} {
		if !k.Available() {
			continue
		}
		devs := convPathDevices(k)
		for _, c := range cases {
			a := ConvGeometry([]int{c.n, c.c, c.hw, c.hw}, []int{c.cout, c.c, c.k, c.k}, c.stride, c.pad)
			x, w := randBuf(r, c.n*c.c*c.hw*c.hw), randBuf(r, c.cout*c.c*c.k*c.k)
			res := randBuf(r, c.n*c.cout*a.OutH*a.OutW)
			for _, nb := range []int{0, c.cout, c.n * c.cout} {
				var b Buffer
				if nb > 0 {
					b = randBuf(r, nb)
				}
				for di, d := range devs {
					want := nanBuf(len(res.d))
					if b == nil {
						d.Conv2d(want, x, w, a)
					} else {
						d.Conv2dBias(want, x, w, b, a)
					}
					for i, v := range res.d {
						want.d[i] += v
					}
					got := nanBuf(len(want.d))
					d.Conv2dBiasAdd(got, x, w, b, res, a)
					for i := range got.d {
						if math.Float32bits(got.d[i]) != math.Float32bits(want.d[i]) {
							t.Fatalf("%v device %d %+v, %d biases: value %d = %g, conv + bias + residual %g", k, di, c, nb, i, got.d[i], want.d[i])
						}
					}
				}
			}
		}
	}
}
