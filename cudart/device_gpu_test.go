package cudart

// GPU tests: run only with OCM_CUDA_TEST=1 on a machine with CUDA (see gpu_check.sh).
// Each runs a Device method on the GPU and on runtime.CPU and compares the results.
// OCM_CUDA_PATH is passed to Open; OCM_CUDA_DEBUG=1 synchronizes after every kernel.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"ocm/runtime"
	"ocm/runtime/philox"
	goruntime "runtime"
)

var (
	gpuOnce sync.Once
	gpuLib  *Lib
	gpuDev  *Device
	gpuErr  error
)

// gpu returns the shared fp32 test device, or skips the test.
func gpu(t testing.TB) *Device {
	t.Helper()
	if os.Getenv("OCM_CUDA_TEST") != "1" {
		t.Skip("set OCM_CUDA_TEST=1 to run the GPU tests")
	}
	gpuOnce.Do(func() {
		gpuLib, gpuErr = Open(Options{Path: os.Getenv("OCM_CUDA_PATH"), Debug: os.Getenv("OCM_CUDA_DEBUG") == "1"})
		if gpuErr == nil {
			gpuDev, gpuErr = NewDevice(gpuLib)
		}
		if gpuErr == nil {
			fmt.Println("GPU:", gpuLib.Describe())
			fmt.Println("device:", gpuDev.Name())
		}
	})
	if gpuErr != nil {
		t.Fatalf("OCM_CUDA_TEST=1 but CUDA failed: %v", gpuErr)
	}
	return gpuDev
}

var cpuDev = runtime.NewCPU(runtime.CPUOptions{})

func randn(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64()) * scale
	}
	return x
}

// pair holds the same values on the GPU and on the CPU.
type pair struct {
	g, c runtime.Buffer
	n    int
}

func newPair(d *Device, v []float32) pair {
	p := pair{g: d.Alloc(len(v), false), c: cpuDev.Alloc(len(v), false), n: len(v)}
	d.Upload(p.g, v)
	cpuDev.Upload(p.c, v)
	return p
}

// compare downloads both sides and reports mismatches beyond atol + rtol·|want|.
func compare(t *testing.T, what string, d *Device, p pair, atol, rtol float64) {
	t.Helper()
	got := make([]float32, p.n)
	want := make([]float32, p.n)
	d.Download(got, p.g)
	cpuDev.Download(want, p.c)
	bad, worst := 0, 0.0
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		diff := math.Abs(g - w)
		if g == w || (math.IsNaN(g) && math.IsNaN(w)) {
			continue
		}
		if math.IsNaN(diff) || diff > atol+rtol*math.Abs(w) {
			if bad < 5 {
				t.Errorf("%s: [%d] gpu %v, cpu %v (diff %.3g)", what, i, got[i], want[i], diff)
			}
			bad++
		}
		if !math.IsNaN(diff) {
			worst = max(worst, diff/(atol+rtol*math.Abs(w)))
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ (atol %g, rtol %g)", what, bad, p.n, atol, rtol)
	} else {
		t.Logf("%s: ok, %d values, worst diff %.2f of tolerance", what, p.n, worst)
	}
}

func TestGPUOpen(t *testing.T) {
	d := gpu(t)
	free, total := d.MemInfo()
	t.Logf("%s; %s; memory free %.1f / %.1f GiB", gpuLib.Describe(), d.Name(), float64(free)/(1<<30), float64(total)/(1<<30))
	t.Logf("native kernels: %v", d.NativeOps())
	for _, e := range d.ModuleErrors() {
		t.Errorf("PTX module rejected (its ops run on the host): %s", e)
	}
}

func TestGPUMemory(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 1000, 1 << 20} {
		v := randn(r, n, 1)
		p := newPair(d, v)
		compare(t, fmt.Sprintf("upload/download n=%d", n), d, p, 0, 0)
		d.Fill(p.g, 2.5)
		cpuDev.Fill(p.c, 2.5)
		compare(t, fmt.Sprintf("fill n=%d", n), d, p, 0, 0)
		z := pair{g: d.Alloc(n, true), c: cpuDev.Alloc(n, true), n: n}
		compare(t, fmt.Sprintf("alloc zero n=%d", n), d, z, 0, 0)
	}
	// CopyBlocks: contiguous, strided (2D copy), overlapping strides (per-block path).
	src := newPair(d, randn(r, 4000, 1))
	for _, c := range []struct{ dOff, dStride, sOff, sStride, blen, nb int }{
		{0, 0, 0, 0, 4000, 1}, {5, 100, 7, 90, 80, 30}, {0, 50, 3, 10, 40, 40}, {1, 3, 2, 7, 3, 100},
	} {
		dst := newPair(d, make([]float32, 5000))
		d.CopyBlocks(dst.g, c.dOff, c.dStride, src.g, c.sOff, c.sStride, c.blen, c.nb)
		cpuDev.CopyBlocks(dst.c, c.dOff, c.dStride, src.c, c.sOff, c.sStride, c.blen, c.nb)
		compare(t, fmt.Sprintf("copyblocks %+v", c), d, dst, 0, 0)
	}
}

func TestGPUUnary(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(3, 4))
	n := 100_003
	for op := runtime.UnaryOp(0); op.String() != "unary?"; op++ {
		v := randn(r, n, 3)
		switch op {
		case runtime.OpLog, runtime.OpSqrt, runtime.OpRsqrt:
			for i := range v {
				v[i] = float32(math.Abs(float64(v[i]))) + 1e-3
			}
		case runtime.OpDropMask:
			for i := range v {
				v[i] = r.Float32()
			}
		}
		v[0], v[1] = 0, 1 // edge values
		x := newPair(d, v)
		y := newPair(d, make([]float32, n))
		p0, p1 := float32(-0.7), float32(1.3)
		if op == runtime.OpDropMask {
			p0, p1 = 0.25, 1/0.75
		}
		d.Unary(op, y.g, x.g, p0, p1)
		cpuDev.Unary(op, y.c, x.c, p0, p1)
		atol, rtol := 1e-7, 1e-6 // exact ops (rsqrt may differ by an ulp)
		switch op {
		case runtime.OpExp, runtime.OpLog, runtime.OpTanh, runtime.OpSigmoid, runtime.OpSiLU, runtime.OpSin, runtime.OpCos:
			atol, rtol = 2e-6, 2e-5 // hardware approximations (ex2, lg2, sin, cos .approx)
		}
		compare(t, "unary "+op.String(), d, y, atol, rtol)
	}
	// In place (dst == src).
	x := newPair(d, randn(r, 1000, 1))
	d.Unary(runtime.OpSquare, x.g, x.g, 0, 0)
	cpuDev.Unary(runtime.OpSquare, x.c, x.c, 0, 0)
	compare(t, "unary square in place", d, x, 0, 0)
}

// layout is Broadcast for inputs of shapes a and b (as the runtime computes it).
func layout(a, b []int) *runtime.Broadcast {
	shape, err := runtime.BroadcastShape(a, b)
	if err != nil {
		panic(err)
	}
	str := func(in []int) []int {
		s := make([]int, len(shape))
		stride := 1
		for i := len(shape) - 1; i >= 0; i-- {
			j := i - (len(shape) - len(in))
			if j >= 0 && in[j] != 1 {
				s[i] = stride
			}
			if j >= 0 {
				stride *= in[j]
			}
		}
		return s
	}
	return &runtime.Broadcast{Shape: shape, XStrides: str(a), YStrides: str(b)}
}

func numel(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}

func TestGPUBinaryExpand(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(5, 6))
	shapes := [][2][]int{
		{{1000}, {1000}}, {{4, 5, 6}, {4, 5, 6}}, {{4, 5, 6}, {1}}, {{1}, {7, 9}}, {{4, 5, 6}, {5, 1}},
		{{8, 1, 6}, {7, 1}}, {{2, 3, 4, 5, 6, 7}, {3, 1, 5, 1, 7}}, {{64, 32, 16, 16}, {32, 1, 1}},
		{{2, 1, 2, 1, 2, 1, 2, 1}, {2, 1, 2, 1, 2, 1, 2}}, // more than 6 axes: host fallback
	}
	for op := runtime.BinaryOp(0); op.String() != "binary?"; op++ {
		for _, s := range shapes {
			l := layout(s[0], s[1])
			x := newPair(d, randn(r, numel(s[0]), 2))
			yv := randn(r, numel(s[1]), 2)
			if op == runtime.OpDiv {
				for i := range yv {
					yv[i] += float32(math.Copysign(0.5, float64(yv[i])))
				}
			}
			y := newPair(d, yv)
			o := newPair(d, make([]float32, numel(l.Shape)))
			d.Binary(op, o.g, x.g, y.g, l)
			cpuDev.Binary(op, o.c, x.c, y.c, l)
			atol, rtol := 0.0, 1e-6
			if op == runtime.OpSiLUGrad {
				atol, rtol = 2e-6, 2e-5
			}
			compare(t, fmt.Sprintf("binary %s %v %v", op, s[0], s[1]), d, o, atol, rtol)
		}
	}
	for _, s := range [][2][]int{{{5}, {3, 5}}, {{3, 1}, {3, 4}}, {{1}, {2, 3, 4}}, {{2, 1, 4, 1}, {2, 3, 4, 5}}} {
		b := layout(s[0], s[1])
		l := &runtime.Broadcast{Shape: s[1], XStrides: b.XStrides}
		x := newPair(d, randn(r, numel(s[0]), 1))
		o := newPair(d, make([]float32, numel(s[1])))
		d.Expand(o.g, x.g, l)
		cpuDev.Expand(o.c, x.c, l)
		compare(t, fmt.Sprintf("expand %v -> %v", s[0], s[1]), d, o, 0, 0)
	}
}

func TestGPUGemm(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range []struct{ batch, m, n, k int }{{1, 1, 1, 1}, {1, 7, 5, 3}, {3, 33, 17, 65}, {2, 128, 256, 64}, {1, 300, 200, 100}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, shareB := range []bool{false, true} {
					g := &runtime.GemmArgs{TransA: ta, TransB: tb, Batch: s.batch, M: s.m, N: s.n, K: s.k,
						Alpha: 1.5, Beta: 0.5, StrideA: s.m * s.k, StrideB: s.k * s.n, StrideC: s.m * s.n}
					nb := s.batch
					if shareB {
						g.StrideB, nb = 0, 1
					}
					a := newPair(d, randn(r, s.batch*s.m*s.k, 1))
					b := newPair(d, randn(r, nb*s.k*s.n, 1))
					c := newPair(d, randn(r, s.batch*s.m*s.n, 1))
					d.Gemm(c.g, a.g, b.g, g)
					cpuDev.Gemm(c.c, a.c, b.c, g)
					compare(t, fmt.Sprintf("gemm %+v", *g), d, c, 1e-4, 1e-4)
				}
			}
		}
	}
}

// The other ops (native or host fallback) must agree with the CPU.
func TestGPUOtherOps(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(9, 10))
	tol := func(what string, p pair) { compare(t, what, d, p, 1e-5, 1e-5) }

	x := newPair(d, randn(r, 2*3*4*5, 1))
	o := newPair(d, make([]float32, 3*5))
	d.Reduce(runtime.ReduceSum, o.g, x.g, []int{2, 3, 4, 5}, []bool{true, false, true, false})
	cpuDev.Reduce(runtime.ReduceSum, o.c, x.c, []int{2, 3, 4, 5}, []bool{true, false, true, false})
	tol("reduce sum", o)
	p := newPair(d, make([]float32, x.n))
	d.Permute(p.g, x.g, []int{2, 3, 4, 5}, []int{3, 1, 0, 2})
	cpuDev.Permute(p.c, x.c, []int{2, 3, 4, 5}, []int{3, 1, 0, 2})
	tol("permute", p)

	for _, g := range []struct {
		x, w       []int
		s, p, cols int
	}{
		{[]int{2, 3, 9, 9}, []int{4, 3, 3, 3}, 2, 1, 0}, {[]int{4, 16, 16, 16}, []int{32, 16, 3, 3}, 1, 1, 0},
		{[]int{3, 8, 8, 8}, []int{8, 8, 1, 1}, 1, 0, 0}, {[]int{5, 4, 12, 10}, []int{6, 4, 3, 3}, 2, 1, 2000}, // chunked
	} {
		if g.cols > 0 {
			old := convColLimit
			convColLimit = g.cols
			defer func() { convColLimit = old }()
		}
		c := runtime.ConvGeometry(g.x, g.w, g.s, g.p)
		cx := newPair(d, randn(r, numel(g.x), 1))
		cw := newPair(d, randn(r, numel(g.w), 1))
		cy := newPair(d, make([]float32, c.N*c.Cout*c.OutH*c.OutW))
		d.Conv2d(cy.g, cx.g, cw.g, c)
		cpuDev.Conv2d(cy.c, cx.c, cw.c, c)
		compare(t, fmt.Sprintf("conv2d %+v", *c), d, cy, 1e-4, 1e-4)
		d.Conv2dInputGrad(cx.g, cy.g, cw.g, c)
		cpuDev.Conv2dInputGrad(cx.c, cy.c, cw.c, c)
		compare(t, fmt.Sprintf("conv2d input grad %+v", *c), d, cx, 1e-3, 1e-4)
		d.Conv2dWeightGrad(cw.g, cy.g, cx.g, c)
		cpuDev.Conv2dWeightGrad(cw.c, cy.c, cx.c, c)
		compare(t, fmt.Sprintf("conv2d weight grad %+v", *c), d, cw, 1e-2, 1e-4)
		if g.cols > 0 {
			convColLimit = 1 << 26
		}
	}

	up := newPair(d, make([]float32, 6*8*8))
	src := newPair(d, randn(r, 6*4*4, 1))
	d.Upsample2x(up.g, src.g, 6, 4, 4)
	cpuDev.Upsample2x(up.c, src.c, 6, 4, 4)
	tol("upsample2x", up)
	d.Upsample2xBackward(src.g, up.g, 6, 4, 4)
	cpuDev.Upsample2xBackward(src.c, up.c, 6, 4, 4)
	tol("upsample2x backward", src)

}

// GroupNorm, softmax and the rest of the nn ops on the GPU against the CPU.
func TestGPUNormOps(t *testing.T) {
	d := gpu(t)
	r := rand.New(rand.NewPCG(11, 12))
	tol := func(what string, p pair) { compare(t, what, d, p, 1e-5, 1e-5) }
	ga := &runtime.GroupNormArgs{N: 2, C: 8, HW: 16, Groups: 4, Eps: 1e-5}
	gx := newPair(d, randn(r, 2*8*16, 2))
	gy := newPair(d, make([]float32, gx.n))
	gamma, beta := newPair(d, randn(r, 8, 1)), newPair(d, randn(r, 8, 1))
	mean, rstd := newPair(d, make([]float32, 8)), newPair(d, make([]float32, 8))
	d.GroupNorm(gy.g, mean.g, rstd.g, gx.g, gamma.g, beta.g, ga)
	cpuDev.GroupNorm(gy.c, mean.c, rstd.c, gx.c, gamma.c, beta.c, ga)
	tol("groupnorm y", gy)
	tol("groupnorm mean", mean)
	dy := newPair(d, randn(r, gx.n, 1))
	dx := newPair(d, make([]float32, gx.n))
	dg, db := newPair(d, make([]float32, 8)), newPair(d, make([]float32, 8))
	d.GroupNormBackward(dx.g, dg.g, db.g, dy.g, gx.g, mean.g, rstd.g, gamma.g, ga)
	cpuDev.GroupNormBackward(dx.c, dg.c, db.c, dy.c, gx.c, mean.c, rstd.c, gamma.c, ga)
	tol("groupnorm backward dx", dx)
	tol("groupnorm backward dgamma", dg)
	d.GroupNormTangent(dx.g, dy.g, nil, nil, gx.g, mean.g, rstd.g, gamma.g, ga)
	cpuDev.GroupNormTangent(dx.c, dy.c, nil, nil, gx.c, mean.c, rstd.c, gamma.c, ga)
	tol("groupnorm tangent", dx)

	sx := newPair(d, randn(r, 5*33, 3))
	sy := newPair(d, make([]float32, sx.n))
	d.Softmax(sy.g, sx.g, 5, 33)
	cpuDev.Softmax(sy.c, sx.c, 5, 33)
	tol("softmax", sy)
	d.SoftmaxBackward(sx.g, sy.g, dy.g, 5, 33)
	cpuDev.SoftmaxBackward(sx.c, sy.c, dy.c, 5, 33)
	tol("softmax backward", sx)

	pp, pg := newPair(d, randn(r, 100, 1)), newPair(d, randn(r, 100, 1))
	pm, pv := newPair(d, make([]float32, 100)), newPair(d, make([]float32, 100))
	aa := &runtime.AdamArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 1}
	d.Adam(pp.g, pg.g, pm.g, pv.g, aa)
	cpuDev.Adam(pp.c, pg.c, pm.c, pv.c, aa)
	tol("adam p", pp)
	tol("adam m", pm)
	tol("adam v", pv)

	t.Logf("stats: %+v", d.Stats())
}

// Random must reproduce the CPU's Philox stream bit for bit (Normal: within an ulp).
func TestGPURandom(t *testing.T) {
	d := gpu(t)
	for _, c := range []struct {
		key    philox.Key
		offset uint64
		n      int
	}{{philox.Key{Seed: 42, Stream: 7}, 5, 1001}, {philox.Key{Seed: 1<<63 + 12345, Stream: 1<<40 + 3}, 1<<32 - 6, 1 << 20}, {philox.Key{}, math.MaxUint64 - 2, 9}} {
		for _, dist := range []runtime.Distribution{runtime.Uniform, runtime.Normal, runtime.Rademacher} {
			rp := newPair(d, make([]float32, c.n))
			d.Random(rp.g, dist, c.key, c.offset)
			cpuDev.Random(rp.c, dist, c.key, c.offset)
			rtol := 0.0
			if dist == runtime.Normal {
				rtol = 1.2e-7
			}
			compare(t, fmt.Sprintf("random %s %+v", dist, c), d, rp, 0, rtol)
		}
	}
}

func TestGPUAllocatorSteadyState(t *testing.T) {
	d := gpu(t)
	sizes := []int{1, 1000, 12345, 1 << 20, 3<<20 + 17}
	cycle := func() {
		var bufs []runtime.Buffer
		for _, n := range sizes {
			bufs = append(bufs, d.Alloc(n, true))
		}
		for _, b := range bufs {
			d.Free(b)
		}
	}
	cycle()
	goruntime.GC() // let earlier tests' dead buffers return first
	time.Sleep(20 * time.Millisecond)
	before := d.Stats()
	for range 1000 {
		cycle()
	}
	after := d.Stats()
	t.Logf("before %+v\nafter %+v", before, after)
	if after.CudaMallocs != before.CudaMallocs {
		t.Errorf("1000 alloc/free cycles called cudaMalloc %d times", after.CudaMallocs-before.CudaMallocs)
	}
	if after.BytesInUse > before.BytesInUse {
		t.Errorf("bytes in use grew: %d -> %d", before.BytesInUse, after.BytesInUse)
	}
}

// The collector returns unreachable buffers to the cache.
func TestGPUAllocatorGC(t *testing.T) {
	d := gpu(t)
	for range 200 {
		d.Alloc(1<<20, false)
	}
	before := d.Stats()
	for range 5 {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	after := d.Stats()
	t.Logf("in use %d -> %d bytes, cached %d -> %d", before.BytesInUse, after.BytesInUse, before.BytesCached, after.BytesCached)
	if after.BytesInUse >= before.BytesInUse {
		t.Error("garbage collection returned no buffers to the cache")
	}
}

func TestGPULaunchOverhead(t *testing.T) {
	d := gpu(t)
	x := d.Alloc(256, true)
	d.Sync()
	const L = 10000
	t0 := time.Now()
	for range L {
		d.Unary(runtime.OpNeg, x, x, 0, 0)
	}
	d.Sync()
	t.Logf("unary launch through purego: %.2f µs each (%d launches)", time.Since(t0).Seconds()/L*1e6, L)
}

func TestGPUSgemmSpeed(t *testing.T) {
	d := gpu(t)
	if testing.Short() {
		t.Skip("short")
	}
	const S = 8192
	run := func(dev *Device, label string) {
		a, b, c := dev.Alloc(S*S, false), dev.Alloc(S*S, false), dev.Alloc(S*S, false)
		dev.Fill(a, 0.5)
		dev.Fill(b, 0.25)
		g := &runtime.GemmArgs{Batch: 1, M: S, N: S, K: S, Alpha: 1}
		dev.Gemm(c, a, b, g)
		dev.Sync()
		const reps = 10
		t0 := time.Now()
		for range reps {
			dev.Gemm(c, a, b, g)
		}
		dev.Sync()
		el := time.Since(t0).Seconds() / reps
		out := make([]float32, 4)
		dev.Download(out, c)
		t.Logf("SGEMM %d³ %s: %.2f ms, %.1f TFLOP/s (c[0] = %v, want %v)", S, label, el*1e3, 2*math.Pow(S, 3)/el/1e12, out[0], 0.125*S)
		for _, x := range []runtime.Buffer{a, b, c} {
			dev.Free(x)
		}
	}
	run(d, "fp32")
	lib, err := Open(Options{Path: os.Getenv("OCM_CUDA_PATH"), TF32: true})
	if err != nil {
		t.Fatal(err)
	}
	d32, err := NewDevice(lib)
	if err != nil {
		t.Fatal(err)
	}
	run(d32, "tf32")
	d32.Trim()
}
