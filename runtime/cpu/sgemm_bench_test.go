package cpu

import (
	"math/rand/v2"
	"testing"
)

type sgBenchShape struct {
	name    string
	ta, tb  bool
	m, n, k int
	threads int // 0: all cores
}

// sgBenchShapes are the square sizes plus the products of the toy models:
// a small UNet's convolutions as GEMMs (batch 8; forward Y = W·col with W
// Cout×(C·3·3) and col (C·3·3)×(H·W·batch); backward dcol = Wᵀ·dY and
// dW = dY·colᵀ) and an MLP's layers (512 rows of activations).
var sgBenchShapes = []sgBenchShape{
	{name: "n=256", m: 256, n: 256, k: 256},
	{name: "n=1024", m: 1024, n: 1024, k: 1024},
	{name: "n=1024/threads=1", m: 1024, n: 1024, k: 1024, threads: 1},
	{name: "n=2048", m: 2048, n: 2048, k: 2048},
	{name: "conv64x6272x576", m: 64, n: 784 * 8, k: 576},
	{name: "conv128x1568x1152", m: 128, n: 196 * 8, k: 1152},
	{name: "conv128x392x1152", m: 128, n: 49 * 8, k: 1152},
	{name: "conv-dcol-Ta-1152x1568x128", ta: true, m: 1152, n: 196 * 8, k: 128},
	{name: "conv-dW-Tb-128x1152x1568", tb: true, m: 128, n: 1152, k: 196 * 8},
	{name: "mlp512x256x256", m: 512, n: 256, k: 256},
	{name: "mlp512x256x66", m: 512, n: 256, k: 66},
	{name: "mlp512x66x256", m: 512, n: 66, k: 256},
	{name: "mlp-dW-Ta-256x256x512", ta: true, m: 256, n: 256, k: 512},
	{name: "mlp-dX-Tb-512x256x256", tb: true, m: 512, n: 256, k: 256},
}

func BenchmarkSgemm(b *testing.B) {
	for _, kern := range sgAllKernels {
		b.Run(kern.String(), func(b *testing.B) {
			if !kern.Available() {
				b.Skipf("%v not available", kern)
			}
			for _, s := range sgBenchShapes {
				b.Run(s.name, func(b *testing.B) { sgBench(b, kern, s) })
			}
		})
	}
}

func sgBench(b *testing.B, kern Kernel, s sgBenchShape) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, y, z := sgRand(rng, s.m*s.k), sgRand(rng, s.k*s.n), make([]float32, s.m*s.n)
	lda, ldb := s.k, s.n
	if s.ta {
		lda = s.m
	}
	if s.tb {
		ldb = s.k
	}
	g := Gemm{Kernel: kern, Threads: s.threads}
	g.Sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, x, lda, y, ldb, 0, z, s.n) // warm the pools
	b.ResetTimer()
	for b.Loop() {
		g.Sgemm(s.ta, s.tb, s.m, s.n, s.k, 1, x, lda, y, ldb, 0, z, s.n)
	}
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
