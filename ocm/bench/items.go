package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	ad "ocm/autodiff"
	"ocm/nn"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
	"ocm/runtime/philox"
)

// benchTarget is how long ocm measures one item per round.
var benchTarget = 700 * time.Millisecond

// convShape is a 3×3, padding-1 convolution of unet-s at batch benchConvBatch.
type convShape struct {
	Batch int `json:"batch"`
	Cin   int `json:"cin"`
	Cout  int `json:"cout"`
	HW    int `json:"hw"`
}

// gemmDims returns the convolution as a GEMM: M = Cout, N = batch·H·W, K = Cin·9.
func (c convShape) gemmDims() (m, n, k int) {
	return c.Cout, c.Batch * c.HW * c.HW, c.Cin * 9
}

// gemmFLOPs is 2·M·N·K, the floating-point operations of one SGEMM.
func gemmFLOPs(m, n, k int) float64 { return 2 * float64(m) * float64(n) * float64(k) }

// toyMLPForwardFLOPs counts the multiply-adds (×2) of the toy-mlp forward at batch b:
// [x, temb] (dim+temb) → hidden → hidden → hidden → dim.
func toyMLPForwardFLOPs(b, dim, temb, hidden int) float64 {
	macs := (dim+temb)*hidden + 2*hidden*hidden + hidden*dim
	return 2 * float64(b) * float64(macs)
}

// benchTiming is one side's wall times of one item, pooled over rounds.
type benchTiming struct {
	MedianS       float64   `json:"median_s"`
	MinS          float64   `json:"min_s"`
	N             int       `json:"n"`
	RoundMediansS []float64 `json:"round_medians_s"`
	Load1         []float64 `json:"loadavg1,omitempty"`             // 1-minute load average at each round's start of the item
	OtherCPU      []float64 `json:"other_procs_cpu_frac,omitempty"` // CPU share of other processes during the reps
	// PeakMiB is, per round, the process's peak resident memory (VmHWM) over the
	// item's calls, reset once the model and its inputs are built; BaseMiB the
	// resident memory at that reset (what the process held before the first call).
	PeakMiB    []float64 `json:"peak_rss_mib,omitempty"`
	BaseMiB    []float64 `json:"base_rss_mib,omitempty"`
	PeakSource string    `json:"peak_source,omitempty"` // "vmhwm", or "ru_maxrss" (the process's whole life) where the reset is refused

	times []float64 // raw per-call times, when known
	mins  []float64 // per-round minima, when only summaries are known
}

// addTimes pools raw per-call times of one round.
func (t *benchTiming) addTimes(ts []float64) {
	if len(ts) == 0 {
		return
	}
	t.times = append(t.times, ts...)
	t.RoundMediansS = append(t.RoundMediansS, median(ts))
	t.MedianS, t.MinS, t.N = median(t.times), slices.Min(t.times), len(t.times)
}

// addSummary adds one round known only by its median, minimum and count (torch_ref.py);
// the median is then the median of the round medians.
func (t *benchTiming) addSummary(med, mn float64, n int) {
	t.RoundMediansS = append(t.RoundMediansS, med)
	t.mins = append(t.mins, mn)
	t.MedianS, t.MinS, t.N = median(t.RoundMediansS), slices.Min(t.mins), t.N+n
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// addMemory adds one round's peak and base resident memory (bytes, MiB); peak ≤ 0 is unknown.
func (t *benchTiming) addMemory(peakMiB, baseMiB float64, source string) {
	if peakMiB <= 0 {
		return
	}
	t.PeakMiB, t.BaseMiB, t.PeakSource = append(t.PeakMiB, peakMiB), append(t.BaseMiB, baseMiB), source
}

// benchItem is one row of the table.
type benchItem struct {
	Key   string     `json:"key"`
	Name  string     `json:"name"`
	Group string     `json:"group"` // what --bench-items selects it by: toy, gemm, unet-s, small
	Kind  string     `json:"kind"`  // "gemm" (reported in GFLOP/s) or "model" (ms)
	FLOPs float64    `json:"flops"` // per call; for models the nominal count (see modelFLOPsNote)
	M     int        `json:"m,omitempty"`
	N     int        `json:"n,omitempty"`
	K     int        `json:"k,omitempty"`
	Conv  *convShape `json:"conv,omitempty"`

	OCM         benchTiming  `json:"ocm"`
	Torch       *benchTiming `json:"torch_openblas,omitempty"`
	TorchSystem *benchTiming `json:"torch_system_blas,omitempty"`
	TorchConv   *benchTiming `json:"torch_conv2d_onednn,omitempty"` // the convolution itself, in torch's oneDNN

	TorchItem   string         `json:"torch_item,omitempty"`   // its model:kind:batch in the embedded model script
	ParamsOCM   int            `json:"params_ocm,omitempty"`   // the model's parameters, ocm's count
	ParamsTorch int            `json:"params_torch,omitempty"` // and PyTorch's
	Pooled      bool           `json:"pooled,omitempty"`       // ocm's device has a buffer pool (runtime.CPUOptions.Pool)
	Pool        *cpu.PoolStats `json:"pool,omitempty"`         // its counters after the last round
	Errors      []string       `json:"errors,omitempty"`       // what a timed call reported (a training step's error)

	torchMM  bool                           // time torch.mm of M×K·K×N for it
	torchRef string                         // its key in torch_ref.py's toy-mlp results (--bench-torch)
	prepare  func(dev *rt.CPU) (run func()) // ocm side: allocate on dev, return the timed call
}

// fail records the first error of a timed call (later ones repeat it).
func (it *benchItem) fail(err error) {
	if err != nil && len(it.Errors) == 0 {
		it.Errors = append(it.Errors, err.Error())
	}
}

// gemmItem is an SGEMM of M×K by K×N with kernel kern.
func gemmItem(key, name string, m, n, k int, kern cpu.Kernel, threads int) *benchItem {
	return &benchItem{Key: key, Name: name, Group: "gemm", Kind: "gemm", FLOPs: gemmFLOPs(m, n, k), M: m, N: n, K: k,
		prepare: func(*rt.CPU) func() {
			rng := rand.New(rand.NewPCG(1, 2))
			a, b, c := randF32(rng, m*k), randF32(rng, k*n), make([]float32, m*n)
			g := cpu.Gemm{Kernel: kern, Threads: threads}
			return func() { g.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) }
		}}
}

func randF32(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// benchConvShapes are representative 3×3 convolutions of unet-s (batch 32): the
// 28×28 and 14×14 res blocks, the 7×7 level and middle, and two up-path convs whose
// inputs are concatenated with skips.
var benchConvShapes = []struct {
	key, name string
	c         convShape
}{
	{"conv_64_64_28", "conv 64->64 28x28", convShape{benchConvBatch, 64, 64, 28}},
	{"conv_128_128_14", "conv 128->128 14x14", convShape{benchConvBatch, 128, 128, 14}},
	{"conv_128_128_7", "conv 128->128 7x7", convShape{benchConvBatch, 128, 128, 7}},
	{"conv_192_128_14", "conv 192->128 14x14 (up)", convShape{benchConvBatch, 192, 128, 14}},
	{"conv_256_128_7", "conv 256->128 7x7 (up)", convShape{benchConvBatch, 256, 128, 7}},
}

// benchGemmItems lists the SGEMMs: squares with the best kernel (and at 1024 the
// slower kernels), then the convolutions as GEMMs.
func benchGemmItems(threads int) []*benchItem {
	best := cpu.BestKernel()
	var items []*benchItem
	for _, n := range []int{256, 1024, 2048} {
		it := gemmItem(fmt.Sprintf("sgemm_%d", n), fmt.Sprintf("sgemm %d^3 (%v)", n, best), n, n, n, best, threads)
		it.torchMM = true
		items = append(items, it)
		if n != 1024 {
			continue
		}
		for _, k := range []cpu.Kernel{cpu.KernelAVX2, cpu.KernelGeneric} {
			if k != best && k.Available() {
				items = append(items, gemmItem(fmt.Sprintf("sgemm_%d_%v", n, k), fmt.Sprintf("sgemm %d^3 (%v)", n, k), n, n, n, k, threads))
			}
		}
	}
	for _, s := range benchConvShapes {
		m, n, k := s.c.gemmDims()
		it := gemmItem(s.key, fmt.Sprintf("%s %dx%dx%d", s.name, m, n, k), m, n, k, best, threads)
		it.Conv, it.torchMM = &s.c, true
		items = append(items, it)
	}
	return items
}

// toySetup is the toy-mlp of nn/toymlp_bench_test.go at batch 512.
func toySetup(dev rt.Device) (*nn.ToyMLP, *rt.Tensor, []float64) {
	m := nn.NewToyMLP(dev, 2, 256, philox.Key{Seed: 1})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, benchBatch, 2)
	t := make([]float64, benchBatch)
	for i := range t {
		t[i] = float64(1 + i%1000)
	}
	return m, x, t
}

// benchToyItems lists the toy-mlp items: training step, forward, JVP and VJP.
func benchToyItems() []*benchItem {
	fwd := toyMLPForwardFLOPs(benchBatch, 2, 64, 256)
	mk := func(key, name, ref, kind string, flops float64, prep func(*rt.CPU) func()) *benchItem {
		return &benchItem{Key: key, Name: name, Group: "toy", Kind: "model", FLOPs: flops, torchRef: ref,
			TorchItem: fmt.Sprintf("toy-mlp:%s:%d", kind, benchBatch), prepare: prep}
	}
	probe := func(fn probeFunc) func(*rt.CPU) func() {
		return func(dev *rt.CPU) func() {
			m, x, t := toySetup(dev)
			v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 5}, 0, benchBatch, 2)
			f := func(x *ad.Var) *ad.Var { e, _ := m.Forward(nn.Eval(), x, t); return e }
			return func() { fn(f, x, v) }
		}
	}
	return []*benchItem{
		mk("toy_train_step", "toy-mlp train step b512", "train_step", "train", 3*fwd, toyTrainStep),
		mk("toy_forward", "toy-mlp forward b512", "sample_eval", "fwd", fwd, func(dev *rt.CPU) func() {
			m, x, t := toySetup(dev)
			return func() { m.Forward(nn.Eval(), ad.Const(x), t) }
		}),
		mk("toy_jvp", "toy-mlp JVP b512 (fwd mode)", "probe_jvp_forward_ad", "jvp", 2*fwd, probe(ad.JVP)),
		mk("toy_vjp", "toy-mlp VJP b512 (rev mode)", "probe_vjp_reverse", "vjp", 2*fwd, probe(ad.VJP)),
	}
}

// probeFunc is ad.JVP or ad.VJP: f's output and its product with v at x.
type probeFunc func(f func(*ad.Var) *ad.Var, x, v *rt.Tensor) (*rt.Tensor, *rt.Tensor)

// toyTrainStep returns one training step: forward, MSE on ε, backward, Adam.
func toyTrainStep(dev *rt.CPU) func() {
	m, x, t := toySetup(dev)
	eps := rt.Random(dev, rt.Normal, philox.Key{Seed: 3}, 0, benchBatch, 2)
	opt := nn.NewAdam(1e-4)
	params := m.Params()
	return func() {
		c := nn.NewCtx(true, true, philox.Key{Seed: 4})
		out, _ := m.Forward(c, ad.Const(x), t)
		d := ad.Sub(out, ad.Const(eps))
		loss := ad.Scale(ad.Sum(ad.Square(d), false), 1.0/benchBatch)
		opt.Update(params, c.Grads(loss, params))
	}
}

// measure warms up (calls fn for at least a third of target, and at least twice, so
// that the heap has reached its steady size and freshly mapped memory is not counted),
// sizes the run from the warm-up's mean call time, then times calls for about target.
func measure(fn func(), target time.Duration, minReps int) []float64 {
	start, w := time.Now(), 0
	for ; w < 2 || time.Since(start) < target/3; w++ {
		fn()
	}
	perCall := max(time.Since(start)/time.Duration(w), time.Microsecond)
	reps := min(max(int(target/perCall), minReps), 5000)
	ts := make([]float64, reps)
	for i := range ts {
		t0 := time.Now()
		fn()
		ts[i] = time.Since(t0).Seconds()
	}
	return ts
}
