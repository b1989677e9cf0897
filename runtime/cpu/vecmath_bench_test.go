package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// benchOldExpf is the scalar float32 e^x that ocm/runtime used before these
// kernels (fastmath.go's expf), kept here as the "scalar" baseline.
func benchOldExpf(x float32) float32 {
	if x > 88 || x < -87 || x != x {
		return float32(math.Exp(float64(x)))
	}
	k := float32(math.Floor(float64(x*1.44269504088896341 + 0.5)))
	r := x - k*0.693359375 - k*-2.12194440e-4
	z := r * r
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*z + r + 1
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

func benchOldSigmoid(x float32) float32 { return 1 / (1 + benchOldExpf(-x)) }

var vecBenchScalar = &vecKernels{
	exp: func(dst, src []float32) {
		for i, x := range src[:len(dst)] {
			dst[i] = benchOldExpf(x)
		}
	},
	sigmoid: func(dst, src []float32) {
		for i, x := range src[:len(dst)] {
			dst[i] = benchOldSigmoid(x)
		}
	},
	silu: func(dst, src []float32) {
		for i, x := range src[:len(dst)] {
			dst[i] = x * benchOldSigmoid(x)
		}
	},
	siluGrad: func(dst, x, g []float32) {
		for i, a := range x[:len(dst)] {
			s := benchOldSigmoid(a)
			dst[i] = g[i] * s * (1 + a*(1-s))
		}
	},
	addBiasSiLU: func(dst, src, bias []float32) {
		for i, x := range src[:len(dst)] {
			x += bias[i]
			dst[i] = x * benchOldSigmoid(x)
		}
	},
}

// benchVec runs one op on each path ("scalar" is the old per-value code)
// for a few sizes: 4096 (in L1), 131072 (one 512×256 activation, in L2)
// and 1<<22 (16 MiB, memory). bytesPerElem counts loads and stores.
func benchVec(b *testing.B, bytesPerElem int, run func(v *vecKernels, dst, x, g []float32)) {
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{4096, 131072, 1 << 22} {
		x := make([]float32, n)
		g := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 4)
			g[i] = float32(r.NormFloat64())
		}
		dst := make([]float32, n)
		paths := []struct {
			name string
			v    *vecKernels
		}{{"scalar", vecBenchScalar}}
		for _, k := range []Kernel{KernelGeneric, KernelAVX2, KernelAVX512} {
			if v := vecKernelsFor(k); v != nil {
				paths = append(paths, struct {
					name string
					v    *vecKernels
				}{k.String(), v})
			}
		}
		for _, p := range paths {
			b.Run(fmt.Sprintf("%s/n=%d", p.name, n), func(b *testing.B) {
				b.SetBytes(int64(bytesPerElem * n))
				for b.Loop() {
					run(p.v, dst, x, g)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
			})
		}
	}
}

func BenchmarkExp(b *testing.B) {
	benchVec(b, 8, func(v *vecKernels, dst, x, g []float32) { v.exp(dst, x) })
}

func BenchmarkSigmoid(b *testing.B) {
	benchVec(b, 8, func(v *vecKernels, dst, x, g []float32) { v.sigmoid(dst, x) })
}

func BenchmarkSiLU(b *testing.B) {
	benchVec(b, 8, func(v *vecKernels, dst, x, g []float32) { v.silu(dst, x) })
}

func BenchmarkSiLUGrad(b *testing.B) {
	benchVec(b, 12, func(v *vecKernels, dst, x, g []float32) { v.siluGrad(dst, x, g) })
}

// BenchmarkAddBiasSiLU uses rows of 256 (g[:256] is the bias).
func BenchmarkAddBiasSiLU(b *testing.B) {
	benchVec(b, 8, func(v *vecKernels, dst, x, g []float32) {
		for lo := 0; lo < len(x); lo += 256 {
			v.addBiasSiLU(dst[lo:lo+256], x[lo:lo+256], g[:256])
		}
	})
}
