package nn

import (
	"math"
	goruntime "runtime"
	"syscall"
	"testing"
	"time"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
	"ocm/runtime/philox"
)

// The unet-s items of shared/bench/torch_ref.py at its batches (forward 16, training
// step, JVP and VJP 32) and the small Fashion-MNIST UNet's training step at 64, with
// the CPU time, the heap and the peak resident memory reported beside the time (the
// Im2col and Pool variants take the reference convolution path or use the buffer
// pool):
//
//	go test ./nn -run '^$' -bench 'UNetS(Fwd16|Train32|JVP32|VJP32)|UNetSmallTrain64' -benchtime 5x

// unetSmallConfig is the "small" preset of ocm/images (the Fashion-MNIST model).
func unetSmallConfig() UNetConfig {
	return UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2, 2}, NumRes: 1, Resolution: 28, TembIn: 32}
}

// benchIm2col makes the benchmarks' device take the im2col reference path for every
// convolution (the Im2col variants), to compare the two in one run.
var benchIm2col bool

// benchPool gives the benchmarks' device a buffer pool (the Pool variants), to
// measure what it gains.
var benchPool bool

// benchAVX2 forces the AVX2 GEMM kernel (the AVX2 variants), to measure on an
// AVX-512 machine what a machine without AVX-512 runs.
var benchAVX2 bool

func unetBenchModel(cfg UNetConfig, batch int) (rt.Device, *UNet, *rt.Tensor, []float64) {
	o := rt.CPUOptions{Im2col: benchIm2col, Pool: benchPool}
	if benchAVX2 && cpu.KernelAVX2.Available() {
		o.Kernel, o.Force = cpu.KernelAVX2, true
	}
	dev := rt.NewCPU(o)
	m := NewUNet(dev, cfg, philox.Key{Seed: 1})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, batch, cfg.InCh, cfg.Resolution, cfg.Resolution)
	t := make([]float64, batch)
	for i := range t {
		t[i] = float64(1 + (37*i)%1000)
	}
	return dev, m, x, t
}

// cpuTime is the CPU time the process has used (user + system): on a machine shared
// with other work it varies less than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportHeap adds the heap in use after the loop and the process's peak
// (Sys, what the Go runtime has obtained from the OS) in MiB.
func reportHeap(b *testing.B) {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(ms.Sys)/(1<<20), "sys-MiB")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
}

// UNetTrainStep returns one training step of m on x: forward with dropout, MSE on a
// fixed ε, backward, Adam.
func unetTrainStep(dev rt.Device, m *UNet, x *rt.Tensor, t []float64) func() {
	eps := rt.Random(dev, rt.Normal, philox.Key{Seed: 3}, 0, x.Shape()...)
	opt := NewAdam(1e-4)
	params := m.Params()
	return func() {
		c := NewCtx(true, true, philox.Key{Seed: 4})
		out, _ := m.Forward(c, ad.Const(x), t)
		loss := ad.Mean(ad.Square(ad.Sub(out, ad.Const(eps))), false)
		opt.Update(params, c.Grads(loss, params))
	}
}

func benchLoop(b *testing.B, dev rt.Device, step func()) {
	rt.ResetPeakRSS()
	step() // warm-up: the heap reaches its steady size
	b.ResetTimer()
	c0, best := cpuTime(), time.Duration(1<<62)
	for b.Loop() {
		t0 := time.Now()
		step()
		best = min(best, time.Since(t0))
	}
	b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
	reportHeap(b)
	b.ReportMetric(float64(rt.PeakRSS())/(1<<20), "peak-rss-MiB")
	if c, ok := dev.(*rt.CPU); ok && benchPool {
		st := c.PoolStats()
		b.ReportMetric(float64(st.Hits)/float64(max(st.Gets, 1)), "pool-hit-frac")
		b.ReportMetric(float64(st.PeakHeld)/(1<<20), "pool-peak-held-MiB")
		b.ReportMetric(float64(st.PeakOut)/(1<<20), "pool-peak-out-MiB")
	}
}

func BenchmarkUNetSFwd16(b *testing.B) {
	dev, m, x, t := unetBenchModel(UNetS(), 16)
	benchLoop(b, dev, func() { m.Forward(Eval(), ad.Const(x), t) })
}

func BenchmarkUNetSFwd32(b *testing.B) {
	dev, m, x, t := unetBenchModel(UNetS(), 32)
	benchLoop(b, dev, func() { m.Forward(Eval(), ad.Const(x), t) })
}

func BenchmarkUNetSTrain32(b *testing.B) {
	dev, m, x, t := unetBenchModel(UNetS(), 32)
	benchLoop(b, dev, unetTrainStep(dev, m, x, t))
}

func unetProbe(b *testing.B, fn func(f func(*ad.Var) *ad.Var, x, v *rt.Tensor) (*rt.Tensor, *rt.Tensor)) {
	dev, m, x, t := unetBenchModel(UNetS(), 32)
	v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 5}, 0, x.Shape()...)
	f := func(x *ad.Var) *ad.Var { e, _ := m.Forward(Eval(), x, t); return e }
	benchLoop(b, dev, func() { fn(f, x, v) })
}

func BenchmarkUNetSJVP32(b *testing.B) { unetProbe(b, ad.JVP) }

func BenchmarkUNetSVJP32(b *testing.B) { unetProbe(b, ad.VJP) }

func BenchmarkUNetSmallTrain64(b *testing.B) {
	dev, m, x, t := unetBenchModel(unetSmallConfig(), 64)
	benchLoop(b, dev, unetTrainStep(dev, m, x, t))
}

// im2colBench runs bench with every convolution on the im2col path.
func im2colBench(b *testing.B, bench func(*testing.B)) {
	benchIm2col = true
	defer func() { benchIm2col = false }()
	bench(b)
}

func BenchmarkUNetSFwd16Im2col(b *testing.B)       { im2colBench(b, BenchmarkUNetSFwd16) }
func BenchmarkUNetSTrain32Im2col(b *testing.B)     { im2colBench(b, BenchmarkUNetSTrain32) }
func BenchmarkUNetSmallTrain64Im2col(b *testing.B) { im2colBench(b, BenchmarkUNetSmallTrain64) }

// avx2Bench runs bench with the AVX2 GEMM kernel.
func avx2Bench(b *testing.B, bench func(*testing.B)) {
	if !cpu.KernelAVX2.Available() {
		b.Skip("no AVX2 on this CPU")
	}
	benchAVX2 = true
	defer func() { benchAVX2 = false }()
	bench(b)
}

func BenchmarkUNetSFwd16AVX2(b *testing.B)   { avx2Bench(b, BenchmarkUNetSFwd16) }
func BenchmarkUNetSTrain32AVX2(b *testing.B) { avx2Bench(b, BenchmarkUNetSTrain32) }
func BenchmarkUNetSJVP32AVX2(b *testing.B)   { avx2Bench(b, BenchmarkUNetSJVP32) }

// poolBench runs bench with the buffer pool on (it then reports its statistics).
func poolBench(b *testing.B, bench func(*testing.B)) {
	benchPool = true
	defer func() { benchPool = false }()
	bench(b)
}

func BenchmarkUNetSTrain32Pool(b *testing.B)     { poolBench(b, BenchmarkUNetSTrain32) }
func BenchmarkUNetSmallTrain64Pool(b *testing.B) { poolBench(b, BenchmarkUNetSmallTrain64) }

// TestUNetTrainingHeapSteady runs 200 training steps of a small UNet and checks that
// the live heap after a collection does not grow between step 20 and step 200 (by
// more than 5 % plus 1 MiB of slack): nothing a step makes outlives it.
func TestUNetTrainingHeapSteady(t *testing.T) {
	if testing.Short() {
		t.Skip("200 training steps")
	}
	cfg := UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2}, NumRes: 1, AttnRes: []int{4}, Resolution: 8, Dropout: 0.1, TembIn: 32}
	dev, m, x, tt := unetBenchModel(cfg, 2)
	step := unetTrainStep(dev, m, x, tt)
	live := func() uint64 {
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	var at20 uint64
	for i := 1; i <= 200; i++ {
		step()
		if i == 20 {
			at20 = live()
		}
	}
	at200 := live()
	t.Logf("live heap after step 20: %.2f MiB, after step 200: %.2f MiB", float64(at20)/(1<<20), float64(at200)/(1<<20))
	if float64(at200) > 1.05*float64(at20)+(1<<20) {
		t.Errorf("live heap grew from %d to %d bytes between steps 20 and 200", at20, at200)
	}
}

// TestUNetTrainingBitIdentical trains the same small UNet twice from the same seed
// and checks that every parameter ends bit for bit the same.
func TestUNetTrainingBitIdentical(t *testing.T) {
	cfg := UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2}, NumRes: 1, AttnRes: []int{7}, Resolution: 14, Dropout: 0.1, TembIn: 32}
	run := func() [][]float32 {
		dev, m, x, tt := unetBenchModel(cfg, 5)
		step := unetTrainStep(dev, m, x, tt)
		for range 3 {
			step()
		}
		var out [][]float32
		for _, p := range m.Params() {
			out = append(out, p.Value.Data())
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Fatalf("parameter %d value %d: %g then %g", i, j, a[i][j], b[i][j])
			}
		}
	}
}
