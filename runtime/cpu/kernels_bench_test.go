package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The benchmarks report bytes as the nominal traffic of one call (each input
// read once, each output written once), so MB/s is comparable with memory
// bandwidth.

var benchConvGeoms = []ConvGeom{
	{C: 64, H: 28, W: 28, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 128, H: 14, W: 14, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 128, H: 7, W: 7, KH: 3, KW: 3, Stride: 1, Pad: 1},
	{C: 128, H: 14, W: 14, KH: 1, KW: 1, Stride: 1, Pad: 0},
	{C: 64, H: 28, W: 28, KH: 3, KW: 3, Stride: 2, Pad: 1},
}

func benchName(g ConvGeom) string {
	return fmt.Sprintf("C%d_%dx%d_k%d_s%d", g.C, g.H, g.W, g.KH, g.Stride)
}

func BenchmarkIm2col(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, g := range benchConvGeoms {
		b.Run(benchName(g), func(b *testing.B) {
			ohw := g.OutH() * g.OutW()
			img := ktRand(r, g.C*g.H*g.W)
			col := make([]float32, g.C*g.KH*g.KW*ohw)
			b.SetBytes(int64(4 * (len(img) + len(col))))
			for b.Loop() {
				Im2col(col, ohw, img, g)
			}
		})
	}
}

func BenchmarkCol2im(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range benchConvGeoms {
		b.Run(benchName(g), func(b *testing.B) {
			ohw := g.OutH() * g.OutW()
			img := make([]float32, g.C*g.H*g.W)
			col := ktRand(r, g.C*g.KH*g.KW*ohw)
			b.SetBytes(int64(4 * (2*len(img) + len(col))))
			for b.Loop() {
				Col2im(img, col, ohw, g)
			}
		})
	}
}

const benchN, benchC, benchHW, benchG = 32, 128, 196, 32

func BenchmarkGroupNormForward(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 3))
	size := benchN * benchC * benchHW
	x, y := ktRand(r, size), make([]float32, size)
	gamma, beta := ktRand(r, benchC), ktRand(r, benchC)
	mean, rstd := make([]float32, benchN*benchG), make([]float32, benchN*benchG)
	b.SetBytes(int64(4 * 2 * size))
	for b.Loop() {
		GroupNormForward(y, mean, rstd, x, gamma, beta, benchN, benchC, benchHW, benchG, 1e-5)
	}
}

func BenchmarkGroupNormBackward(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 4))
	size := benchN * benchC * benchHW
	x, y, dy, dx := ktRand(r, size), make([]float32, size), ktRand(r, size), make([]float32, size)
	gamma, beta := ktRand(r, benchC), ktRand(r, benchC)
	dg, db := make([]float32, benchC), make([]float32, benchC)
	mean, rstd := make([]float32, benchN*benchG), make([]float32, benchN*benchG)
	GroupNormForward(y, mean, rstd, x, gamma, beta, benchN, benchC, benchHW, benchG, 1e-5)
	b.SetBytes(int64(4 * 3 * size))
	for b.Loop() {
		GroupNormBackward(dx, dg, db, dy, x, mean, rstd, gamma, benchN, benchC, benchHW, benchG)
	}
}

func BenchmarkGroupNormTangent(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 5))
	size := benchN * benchC * benchHW
	x, y, tx, ty := ktRand(r, size), make([]float32, size), ktRand(r, size), make([]float32, size)
	gamma, beta := ktRand(r, benchC), ktRand(r, benchC)
	mean, rstd := make([]float32, benchN*benchG), make([]float32, benchN*benchG)
	GroupNormForward(y, mean, rstd, x, gamma, beta, benchN, benchC, benchHW, benchG, 1e-5)
	b.SetBytes(int64(4 * 3 * size))
	for b.Loop() {
		GroupNormTangent(ty, tx, gamma, beta, x, mean, rstd, gamma, benchN, benchC, benchHW, benchG)
	}
}

func BenchmarkSoftmax(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 6))
	const rows, cols = 4 * 196, 196
	x, y := ktRand(r, rows*cols), make([]float32, rows*cols)
	b.SetBytes(4 * 2 * rows * cols)
	for b.Loop() {
		Softmax(y, x, rows, cols)
	}
}

func BenchmarkAdamStep(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 7))
	const n = 1 << 20
	p, g, m, v := ktRand(r, n), ktRand(r, n), make([]float32, n), make([]float32, n)
	b.SetBytes(4 * 7 * n)
	step := 0
	for b.Loop() {
		step++
		AdamStep(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 1e-4, step)
	}
}

func BenchmarkUpsample2x(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 8))
	const nc, h, w = 32 * 128, 14, 14
	src, dst := ktRand(r, nc*h*w), make([]float32, 4*nc*h*w)
	b.SetBytes(4 * 5 * nc * h * w)
	for b.Loop() {
		Upsample2x(dst, src, nc, h, w)
	}
}
