// Package bench is ocm --bench: ocm's SGEMM and toy-mlp timings side by side with the PyTorch CPU
// reference (shared/bench/torch_ref.py and an embedded torch.mm snippet) run in the
// same invocation. Rounds alternate between ocm and PyTorch, because the 2-vCPU
// machine is noisy; the machine load is recorded at every ocm item.
package bench

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	ad "ocm/autodiff"
	"ocm/nn"
	"ocm/nn/safetensors"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
	"ocm/runtime/philox"
)

//go:embed bench_torch.py.txt
var benchTorchSnippet string

const (
	benchBatch       = 512 // toy-mlp batch of torch_ref.py
	benchConvBatch   = 32  // unet-s training/probe batch of torch_ref.py
	benchTorchThread = 2   // torch.set_num_threads of torch_ref.py
	benchLoadWarn    = 1.2 // warn when the 1-minute load average exceeds this at start
	benchOpenBLASDir = "/tmp/openblas_deb/root/usr/lib/x86_64-linux-gnu/openblas-openmp"
	benchInstallHint = "apt-get install -y python3-torch"
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

// benchItem is one row of the table.
type benchItem struct {
	Key   string     `json:"key"`
	Name  string     `json:"name"`
	Kind  string     `json:"kind"`  // "gemm" (reported in GFLOP/s) or "model" (ms)
	FLOPs float64    `json:"flops"` // per call
	M     int        `json:"m,omitempty"`
	N     int        `json:"n,omitempty"`
	K     int        `json:"k,omitempty"`
	Conv  *convShape `json:"conv,omitempty"`

	OCM         benchTiming  `json:"ocm"`
	Torch       *benchTiming `json:"torch_openblas,omitempty"`
	TorchSystem *benchTiming `json:"torch_system_blas,omitempty"`
	TorchConv   *benchTiming `json:"torch_conv2d_onednn,omitempty"` // the convolution itself, in torch's oneDNN

	torchMM  bool                // time torch.mm of M×K·K×N for it
	torchRef string              // its key in torch_ref.py's toy-mlp results
	prepare  func() (run func()) // ocm side: allocate, return the timed call
}

// gemmItem is an SGEMM of M×K by K×N with kernel kern.
func gemmItem(key, name string, m, n, k int, kern cpu.Kernel, threads int) *benchItem {
	return &benchItem{Key: key, Name: name, Kind: "gemm", FLOPs: gemmFLOPs(m, n, k), M: m, N: n, K: k,
		prepare: func() func() {
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
func toySetup(threads int) (rt.Device, *nn.ToyMLP, *rt.Tensor, []float64) {
	dev := rt.NewCPU(rt.CPUOptions{Threads: threads})
	m := nn.NewToyMLP(dev, 2, 256, philox.Key{Seed: 1})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, benchBatch, 2)
	t := make([]float64, benchBatch)
	for i := range t {
		t[i] = float64(1 + i%1000)
	}
	return dev, m, x, t
}

// benchModelItems lists the toy-mlp items: training step, forward, JVP and VJP.
func benchModelItems(threads int) []*benchItem {
	fwd := toyMLPForwardFLOPs(benchBatch, 2, 64, 256)
	mk := func(key, name, ref string, flops float64, prep func() func()) *benchItem {
		return &benchItem{Key: key, Name: name, Kind: "model", FLOPs: flops, torchRef: ref, prepare: prep}
	}
	probe := func(fn func(f func(*ad.Var) *ad.Var, x, v *rt.Tensor) (*rt.Tensor, *rt.Tensor)) func() func() {
		return func() func() {
			dev, m, x, t := toySetup(threads)
			v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 5}, 0, benchBatch, 2)
			f := func(x *ad.Var) *ad.Var { e, _ := m.Forward(nn.Eval(), x, t); return e }
			return func() { fn(f, x, v) }
		}
	}
	return []*benchItem{
		mk("toy_train_step", "toy-mlp train step b512", "train_step", 3*fwd, func() func() { return toyTrainStep(threads) }),
		mk("toy_forward", "toy-mlp forward b512", "sample_eval", fwd, func() func() {
			_, m, x, t := toySetup(threads)
			return func() { m.Forward(nn.Eval(), ad.Const(x), t) }
		}),
		mk("toy_jvp", "toy-mlp JVP b512 (fwd mode)", "probe_jvp_forward_ad", 0, probe(ad.JVP)),
		mk("toy_vjp", "toy-mlp VJP b512 (rev mode)", "probe_vjp_reverse", 0, probe(ad.VJP)),
	}
}

// toyTrainStep returns one training step: forward, MSE on ε, backward, Adam.
func toyTrainStep(threads int) func() {
	dev, m, x, t := toySetup(threads)
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

// runOCM measures every item's ocm side once (one round) and logs progress.
func runOCM(items []*benchItem, round int, log io.Writer) {
	for _, it := range items {
		run := it.prepare()
		runtime.GC()
		load := readLoadavg()
		a := snapCPU()
		ts := measure(run, benchTarget, 3)
		other := otherCPUFrac(a, snapCPU())
		it.OCM.addTimes(ts)
		it.OCM.Load1 = append(it.OCM.Load1, load[0])
		it.OCM.OtherCPU = append(it.OCM.OtherCPU, other)
		fmt.Fprintf(log, "bench: round %d: ocm %-44s %s (n=%d, load %.2f, other procs %.0f%%)\n",
			round, it.Name, it.cell(median(ts), slices.Min(ts)), len(ts), load[0], 100*other)
	}
}

// cell formats a median and a best time: GFLOP/s for GEMMs, ms for models.
func (it *benchItem) cell(med, best float64) string {
	if math.IsNaN(med) || med <= 0 {
		return "-"
	}
	if it.Kind == "gemm" {
		return fmt.Sprintf("%.1f (%.1f) GF/s", it.FLOPs/med/1e9, it.FLOPs/best/1e9)
	}
	return fmt.Sprintf("%.2f (%.2f) ms", 1e3*med, 1e3*best)
}

func (it *benchItem) timingCell(t *benchTiming) string {
	if t == nil || t.N == 0 {
		return "-"
	}
	return it.cell(t.MedianS, t.MinS)
}

// benchRatio is the peer's time over ocm's (>1: ocm faster), by median and by best.
func benchRatio(ocm benchTiming, peer *benchTiming) (med, best float64, ok bool) {
	if peer == nil || peer.N == 0 || ocm.N == 0 || !(ocm.MedianS > 0) || !(ocm.MinS > 0) {
		return 0, 0, false
	}
	return peer.MedianS / ocm.MedianS, peer.MinS / ocm.MinS, true
}

// quietRatio is the peer's round median over ocm's in the round where the busier
// side saw the least CPU use by other processes; ok is false unless both sides
// have one median and one other-CPU share per round.
func quietRatio(ocm benchTiming, peer *benchTiming) (ratio float64, round int, other float64, ok bool) {
	if peer == nil {
		return 0, 0, 0, false
	}
	n := len(ocm.RoundMediansS)
	if n == 0 || len(ocm.OtherCPU) != n || len(peer.RoundMediansS) != n || len(peer.OtherCPU) != n {
		return 0, 0, 0, false
	}
	best := -1
	for i := range n {
		if c := max(ocm.OtherCPU[i], peer.OtherCPU[i]); best < 0 || c < other {
			best, other = i, c
		}
	}
	return peer.RoundMediansS[best] / ocm.RoundMediansS[best], best + 1, other, true
}

// formatBenchTable renders the side-by-side table.
func formatBenchTable(items []*benchItem) string {
	var b strings.Builder
	row := func(cols ...string) {
		fmt.Fprintf(&b, "%-46s | %-24s | %-24s | %-13s | %-17s | %-24s | %-5s | %s\n", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7])
	}
	row("item", "ocm", "PyTorch (OpenBLAS)", "ratio", "ratio quiet round", "PyTorch (system BLAS)", "load1", "other CPU ocm/torch")
	b.WriteString(strings.Repeat("-", 46+3+24+3+24+3+13+3+17+3+24+3+5+3+19) + "\n")
	for _, it := range items {
		ratio := "-"
		if med, best, ok := benchRatio(it.OCM, it.Torch); ok {
			ratio = fmt.Sprintf("%.2f (%.2f)", med, best)
		}
		load := "-"
		if len(it.OCM.Load1) > 0 {
			load = fmt.Sprintf("%.2f", slices.Max(it.OCM.Load1))
		}
		quiet := "-"
		if r, round, oth, ok := quietRatio(it.OCM, it.Torch); ok {
			quiet = fmt.Sprintf("%.2f (#%d, %.0f%%)", r, round, 100*oth)
		}
		other := otherCell(&it.OCM) + "/" + otherCell(it.Torch)
		row(it.Name, it.timingCell(&it.OCM), it.timingCell(it.Torch), ratio, quiet, it.timingCell(it.TorchSystem), load, other)
	}
	b.WriteString("GEMMs: GFLOP/s median (best); models: ms median (best); ratio = PyTorch time / ocm time,\n" +
		"median (best), >1: ocm faster. load1: highest 1-minute load average when ocm measured the item\n" +
		"(ocm's own threads count in it); other CPU: highest share of all CPUs that other processes used\n" +
		"during the timed calls of ocm / of PyTorch (OpenBLAS). ratio quiet round: PyTorch's round median\n" +
		"over ocm's in the round (#) where other processes used the least CPU (that share in brackets).\n")
	for _, it := range items {
		if it.TorchConv != nil && it.TorchConv.N > 0 {
			fmt.Fprintf(&b, "  PyTorch conv2d (oneDNN, what unet-s runs) for %s: %s\n", it.Name, it.timingCell(it.TorchConv))
		}
	}
	return b.String()
}

// otherCell is the highest other-process CPU share of t, in percent ("?" when unknown).
func otherCell(t *benchTiming) string {
	if t == nil || len(t.OtherCPU) == 0 {
		return "-"
	}
	if m := slices.Max(t.OtherCPU); m >= 0 {
		return fmt.Sprintf("%.0f%%", 100*m)
	}
	return "?"
}

// maxOtherCPU is the highest other-process CPU share seen on either side.
func maxOtherCPU(items []*benchItem) (ocm, torch float64) {
	for _, it := range items {
		if len(it.OCM.OtherCPU) > 0 {
			ocm = max(ocm, slices.Max(it.OCM.OtherCPU))
		}
		if it.Torch != nil && len(it.Torch.OtherCPU) > 0 {
			torch = max(torch, slices.Max(it.Torch.OtherCPU))
		}
	}
	return ocm, torch
}

// benchGoal is one acceptance target of the issue and whether this run met it.
type benchGoal struct {
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Want  string  `json:"want"`
	Met   bool    `json:"met"`
}

// benchGoals checks the targets: SGEMM 1024 within 1.2× of PyTorch (OpenBLAS), the
// toy-mlp training step faster than PyTorch's (this run's, by the quietest round's
// medians when known, and the README's 7.3 ms median), and ocm's JVP at most 2.5× its
// forward. Missing measurements are left out.
func benchGoals(items []*benchItem) []benchGoal {
	by := map[string]*benchItem{}
	for _, it := range items {
		by[it.Key] = it
	}
	var goals []benchGoal
	if it := by["sgemm_1024"]; it != nil {
		if r, ok := goalRatio(it); ok {
			goals = append(goals, benchGoal{"SGEMM 1024^3: PyTorch (OpenBLAS) time / ocm time", r, ">= 0.83 (within 1.2x)", r >= 1/1.2})
		}
	}
	if it := by["toy_train_step"]; it != nil && it.OCM.N > 0 {
		if r, ok := goalRatio(it); ok {
			goals = append(goals, benchGoal{"toy-mlp train step: PyTorch (OpenBLAS, this run) time / ocm time", r, "> 1", r > 1})
		}
		r := 7.3e-3 / it.OCM.MedianS
		goals = append(goals, benchGoal{"toy-mlp train step: README PyTorch 7.3 ms median / ocm median", r, "> 1", r > 1})
	}
	if j, f := by["toy_jvp"], by["toy_forward"]; j != nil && f != nil && j.OCM.N > 0 && f.OCM.N > 0 {
		r := j.OCM.MedianS / f.OCM.MedianS
		goals = append(goals, benchGoal{"toy-mlp JVP / forward (ocm, medians)", r, "<= 2.5", r <= 2.5})
	}
	return goals
}

// goalRatio is the quiet-round ratio of it, or the pooled median ratio.
func goalRatio(it *benchItem) (float64, bool) {
	if r, _, _, ok := quietRatio(it.OCM, it.Torch); ok {
		return r, true
	}
	r, _, ok := benchRatio(it.OCM, it.Torch)
	return r, ok
}

// formatGoals renders the targets, plus PyTorch's JVP/forward ratio for comparison.
func formatGoals(goals []benchGoal, torchJVPRatio float64) string {
	var b strings.Builder
	for _, g := range goals {
		verdict := "MISSED"
		if g.Met {
			verdict = "met"
		}
		fmt.Fprintf(&b, "target %-66s %6.2f  (want %s): %s\n", g.Goal, g.Value, g.Want, verdict)
	}
	if torchJVPRatio > 0 {
		fmt.Fprintf(&b, "PyTorch (OpenBLAS) JVP / forward: %.2f\n", torchJVPRatio)
	}
	return b.String()
}

// torchRefKeys are the toy-mlp results of torch_ref.py that --bench reads.
var torchRefKeys = []string{"train_step", "sample_eval", "probe_jvp_forward_ad", "probe_vjp_reverse"}

// torchRefSummary is one result of torch_ref.py's JSON.
type torchRefSummary struct {
	MedianS  float64 `json:"median_s"`
	MinS     float64 `json:"min_s"`
	N        int     `json:"n"`
	OtherCPU float64 `json:"other_procs_cpu_frac_max"`
}

// parseTorchRef reads torch_ref.py's cpu_torch_results.json: for each BLAS config
// present, the toy-mlp summaries of torchRefKeys.
func parseTorchRef(data []byte) (map[string]map[string]torchRefSummary, error) {
	var doc struct {
		Configs map[string]struct {
			Results map[string]map[string]json.RawMessage `json:"results"`
		} `json:"configs"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("torch_ref results: %w", err)
	}
	out := map[string]map[string]torchRefSummary{}
	for cfg, c := range doc.Configs {
		for _, key := range torchRefKeys {
			raw, ok := c.Results["toy-mlp"][key]
			if !ok {
				continue
			}
			var s torchRefSummary
			if err := json.Unmarshal(raw, &s); err != nil || !(s.MedianS > 0) || !(s.MinS > 0) {
				continue // an {"error": ...} entry
			}
			if out[cfg] == nil {
				out[cfg] = map[string]torchRefSummary{}
			}
			out[cfg][key] = s
		}
	}
	if len(out) == 0 {
		return nil, errors.New("torch_ref results: no toy-mlp timings")
	}
	return out, nil
}

// applyTorchRef adds one round of torch_ref.py results to the model items.
func applyTorchRef(items []*benchItem, res map[string]map[string]torchRefSummary) {
	for _, it := range items {
		if it.torchRef == "" {
			continue
		}
		if s, ok := res["openblas"][it.torchRef]; ok {
			it.Torch = orNew(it.Torch)
			it.Torch.addSummary(s.MedianS, s.MinS, s.N)
			it.Torch.OtherCPU = append(it.Torch.OtherCPU, s.OtherCPU)
		}
		if s, ok := res["system"][it.torchRef]; ok {
			it.TorchSystem = orNew(it.TorchSystem)
			it.TorchSystem.addSummary(s.MedianS, s.MinS, s.N)
			it.TorchSystem.OtherCPU = append(it.TorchSystem.OtherCPU, s.OtherCPU)
		}
	}
}

func orNew(t *benchTiming) *benchTiming {
	if t == nil {
		return &benchTiming{}
	}
	return t
}

// torchPeer runs the PyTorch reference from a temporary folder.
type torchPeer struct {
	python, dir, ref, snippet string
	version                   string
	log                       io.Writer
}

// findTorchPeer returns the peer, or nil and why not.
func findTorchPeer(python, refPath string, log io.Writer) (*torchPeer, string) {
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Sprintf("no python at %s (--bench-python)", python)
	}
	src, err := os.ReadFile(refPath)
	if err != nil {
		return nil, fmt.Sprintf("no torch_ref.py at %s (--bench-torch)", refPath)
	}
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return nil, fmt.Sprintf("%s cannot import torch; install the peer with `%s`", python, benchInstallHint)
	}
	dir, err := os.MkdirTemp("", "ocm-bench-")
	if err != nil {
		return nil, err.Error()
	}
	p := &torchPeer{python: python, dir: dir, ref: filepath.Join(dir, "torch_ref.py"),
		snippet: filepath.Join(dir, "bench_torch.py"), version: strings.TrimSpace(string(out)), log: log}
	if err := errors.Join(os.WriteFile(p.ref, src, 0o644), os.WriteFile(p.snippet, []byte(benchTorchSnippet), 0o644)); err != nil {
		os.RemoveAll(dir)
		return nil, err.Error()
	}
	return p, ""
}

func (p *torchPeer) close() { os.RemoveAll(p.dir) }

// command runs python with args, its output going to the log; ldPath "" drops
// LD_LIBRARY_PATH (the system BLAS).
func (p *torchPeer) command(ldPath string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.python, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, p.log, p.log
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LD_LIBRARY_PATH=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if ldPath != "" {
		cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+ldPath)
	}
	return cmd.Run()
}

// runRef runs torch_ref.py for toy-mlp, both BLAS configs (this also unpacks
// OpenBLAS under /tmp/openblas_deb), and returns its parsed results.
func (p *torchPeer) runRef() (map[string]map[string]torchRefSummary, error) {
	out := filepath.Join(p.dir, "cpu_torch_results.json")
	os.Remove(out)
	if err := p.command("", p.ref, "--models", "toy-mlp", "--quick", "--rounds", "1",
		"--blas", "system,openblas", "--wait-idle", "0"); err != nil {
		return nil, fmt.Errorf("torch_ref.py: %w", err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return parseTorchRef(data)
}

// torchMMSpec is the input of the embedded snippet.
type torchMMSpec struct {
	Threads  int          `json:"threads"`
	TargetS  float64      `json:"target_s"`
	MinReps  int          `json:"min_reps"`
	MaxGFLOP float64      `json:"max_gflop"`
	Conv2d   bool         `json:"conv2d"`
	Items    []torchMMJob `json:"items"`
}

type torchMMJob struct {
	Name string     `json:"name"`
	M    int        `json:"m"`
	N    int        `json:"n"`
	K    int        `json:"k"`
	Conv *convShape `json:"conv"`
}

// torchMMResult is the output of the embedded snippet.
type torchMMResult struct {
	TorchVersion string   `json:"torch_version"`
	BLASLibs     []string `json:"blas_libs"`
	Skipped      []string `json:"skipped"`
	Items        map[string]struct {
		MM          []float64 `json:"mm_times_s"`
		MMOther     float64   `json:"mm_other_procs_cpu_frac"`
		Conv2d      []float64 `json:"conv2d_times_s"`
		Conv2dOther float64   `json:"conv2d_other_procs_cpu_frac"`
	} `json:"items"`
}

// runMM times torch.mm (and, with OpenBLAS, conv2d) for the items with torchMM set.
// The reference BLAS is slow: under it, short runs and no products above 3 GFLOP.
func (p *torchPeer) runMM(items []*benchItem, openblas bool) (*torchMMResult, error) {
	spec := torchMMSpec{Threads: benchTorchThread, TargetS: benchTarget.Seconds(), MinReps: 3, Conv2d: openblas}
	cfg, ld := "system", ""
	if openblas {
		cfg, ld = "openblas", benchOpenBLASDir
	} else {
		spec.TargetS, spec.MinReps, spec.MaxGFLOP = 0.2, 1, 3
	}
	for _, it := range items {
		if it.torchMM {
			spec.Items = append(spec.Items, torchMMJob{it.Key, it.M, it.N, it.K, it.Conv})
		}
	}
	in, out := filepath.Join(p.dir, "mm_spec_"+cfg+".json"), filepath.Join(p.dir, "mm_"+cfg+".json")
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		return nil, err
	}
	if err := p.command(ld, p.snippet, in, out); err != nil {
		return nil, fmt.Errorf("torch.mm (%s BLAS): %w", cfg, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	var r torchMMResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("torch.mm (%s BLAS) results: %w", cfg, err)
	}
	return &r, nil
}

// applyMM adds one round of snippet results to the items.
func applyMM(items []*benchItem, r *torchMMResult, openblas bool) {
	for _, it := range items {
		res, ok := r.Items[it.Key]
		if !ok {
			continue
		}
		if openblas {
			it.Torch = orNew(it.Torch)
			it.Torch.addTimes(res.MM)
			it.Torch.OtherCPU = append(it.Torch.OtherCPU, res.MMOther)
			if len(res.Conv2d) > 0 {
				it.TorchConv = orNew(it.TorchConv)
				it.TorchConv.addTimes(res.Conv2d)
				it.TorchConv.OtherCPU = append(it.TorchConv.OtherCPU, res.Conv2dOther)
			}
		} else {
			it.TorchSystem = orNew(it.TorchSystem)
			it.TorchSystem.addTimes(res.MM)
			it.TorchSystem.OtherCPU = append(it.TorchSystem.OtherCPU, res.MMOther)
		}
	}
}

// readLoadavg returns the 1-, 5- and 15-minute load averages (-1 when unknown).
func readLoadavg() [3]float64 {
	l := [3]float64{-1, -1, -1}
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(data)) {
		if i < 3 {
			l[i], _ = strconv.ParseFloat(f, 64)
		}
	}
	return l
}

// cpuSnap is the machine's busy CPU time and this process's, in clock ticks.
type cpuSnap struct {
	wall       time.Time
	busy, self float64
	ok         bool
}

// snapCPU reads /proc/stat and /proc/self/stat (Linux; ok false elsewhere).
func snapCPU() cpuSnap {
	s := cpuSnap{wall: time.Now()}
	st, err1 := os.ReadFile("/proc/stat")
	self, err2 := os.ReadFile("/proc/self/stat")
	if err1 != nil || err2 != nil {
		return s
	}
	line, _, _ := strings.Cut(string(st), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 8 {
		return s
	}
	for _, i := range []int{1, 2, 3, 6, 7} {
		v, _ := strconv.ParseFloat(f[i], 64)
		s.busy += v
	}
	// /proc/self/stat: fields after the ")" of the command name; utime and stime are 14 and 15.
	_, rest, _ := strings.Cut(string(self), ") ")
	g := strings.Fields(rest)
	if len(g) < 13 {
		return s
	}
	ut, _ := strconv.ParseFloat(g[11], 64)
	sy, _ := strconv.ParseFloat(g[12], 64)
	s.self, s.ok = ut+sy, true
	return s
}

// otherCPUFrac is the share of all CPUs other processes used between a and b,
// assuming the usual 100 clock ticks per second; -1 when unknown.
func otherCPUFrac(a, b cpuSnap) float64 {
	wall := b.wall.Sub(a.wall).Seconds()
	if !a.ok || !b.ok || wall <= 0 {
		return -1
	}
	const hz = 100
	return max(0, ((b.busy-a.busy)-(b.self-a.self))/hz/(wall*float64(runtime.NumCPU())))
}

// benchReport is what --bench writes to bench.json.
type benchReport struct {
	Generated     string       `json:"generated_utc"`
	Version       string       `json:"ocm_version"`
	GoArch        string       `json:"goarch"`
	CPUs          int          `json:"cpus"`
	Threads       int          `json:"ocm_threads"`
	BestKernel    string       `json:"best_kernel"`
	Rounds        int          `json:"rounds"`
	LoadStart     [3]float64   `json:"loadavg_start"`
	LoadEnd       [3]float64   `json:"loadavg_end"`
	Torch         string       `json:"torch"` // version, or why it did not run
	TorchOK       bool         `json:"torch_ran"`
	TorchProblems []string     `json:"torch_problems,omitempty"`
	Items         []*benchItem `json:"items"`
	Goals         []benchGoal  `json:"targets"`
	JVPOverFwd    [2]float64   `json:"jvp_over_forward_ocm_torch"`
	WallS         float64      `json:"wall_s"`
}

// Config is what ocm --bench is told.
type Config struct {
	Out         string // folder of bench.json (made if missing)
	Threads     int    // CPU threads of ocm (0: all cores)
	Rounds      int    // rounds; ocm and PyTorch alternate within each
	TorchScript string // path of the PyTorch reference script (torch_ref.py)
	Python      string // python with torch
	Version     string // ocm's version, recorded in bench.json
}

// Run times ocm and the PyTorch peer, prints the table to stdout (progress to stderr)
// and writes bench.json to cfg.Out.
func Run(cfg Config, stdout, stderr io.Writer) error {
	start := time.Now()
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", cfg.Out, err)
	}
	rep := &benchReport{Generated: start.UTC().Format(time.RFC3339), Version: cfg.Version, GoArch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), Threads: cfg.Threads, BestKernel: cpu.BestKernel().String(), Rounds: cfg.Rounds,
		LoadStart: readLoadavg()}
	fmt.Fprintf(stderr, "bench: %d CPUs, best kernel %s, load average %.2f %.2f %.2f\n", rep.CPUs, rep.BestKernel,
		rep.LoadStart[0], rep.LoadStart[1], rep.LoadStart[2])
	if rep.LoadStart[0] > benchLoadWarn {
		fmt.Fprintf(stderr, "bench: warning: load average %.2f > %.1f: other work is running; numbers will be noisy\n", rep.LoadStart[0], benchLoadWarn)
	}
	peer, why := findTorchPeer(cfg.Python, cfg.TorchScript, stderr)
	if peer != nil {
		defer peer.close()
		rep.Torch, rep.TorchOK = "torch "+peer.version, true
	} else {
		rep.Torch = why
		fmt.Fprintf(stderr, "bench: PyTorch peer not run: %s\n", why)
	}
	models, gemms := benchModelItems(cfg.Threads), benchGemmItems(cfg.Threads)
	for r := 1; r <= cfg.Rounds; r++ {
		benchRound(r, peer, models, gemms, rep, stderr)
	}
	rep.Items = append(models, gemms...)
	rep.Goals = benchGoals(rep.Items)
	rep.JVPOverFwd = [2]float64{jvpOverForward(models, false), jvpOverForward(models, true)}
	rep.LoadEnd, rep.WallS = readLoadavg(), time.Since(start).Seconds()
	printBench(stdout, rep, peer == nil)
	path := filepath.Join(cfg.Out, "bench.json")
	err := safetensors.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ocm: wrote %s\n", path)
	return nil
}

// benchRound runs one round, alternating sides: torch_ref toy-mlp, ocm toy-mlp,
// ocm GEMMs, torch GEMMs. Peer failures are recorded, not fatal.
func benchRound(r int, peer *torchPeer, models, gemms []*benchItem, rep *benchReport, log io.Writer) {
	note := func(err error) {
		if err != nil {
			fmt.Fprintf(log, "bench: round %d: %v\n", r, err)
			rep.TorchProblems = append(rep.TorchProblems, fmt.Sprintf("round %d: %v", r, err))
		}
	}
	if peer != nil {
		fmt.Fprintf(log, "bench: round %d: PyTorch toy-mlp (torch_ref.py --quick, system and OpenBLAS)\n", r)
		res, err := peer.runRef()
		note(err)
		if err == nil {
			applyTorchRef(models, res)
		}
	}
	runOCM(models, r, log)
	runOCM(gemms, r, log)
	if peer == nil {
		return
	}
	for _, openblas := range []bool{true, false} {
		if _, err := os.Stat(filepath.Join(benchOpenBLASDir, "libblas.so.3")); openblas && err != nil {
			note(fmt.Errorf("no OpenBLAS under %s (torch_ref.py unpacks it): %w", benchOpenBLASDir, err))
			continue
		}
		fmt.Fprintf(log, "bench: round %d: PyTorch torch.mm (openblas=%v)\n", r, openblas)
		res, err := peer.runMM(gemms, openblas)
		note(err)
		if err == nil {
			applyMM(gemms, res, openblas)
		}
	}
}

// jvpOverForward is the JVP/forward ratio of medians, of ocm or of PyTorch (OpenBLAS).
func jvpOverForward(models []*benchItem, torch bool) float64 {
	var j, f *benchTiming
	for _, it := range models {
		t := &it.OCM
		if torch {
			t = it.Torch
		}
		switch it.Key {
		case "toy_jvp":
			j = t
		case "toy_forward":
			f = t
		}
	}
	if j == nil || f == nil || j.N == 0 || f.N == 0 {
		return 0
	}
	return j.MedianS / f.MedianS
}

// printBench writes the table, the targets and the load to w.
func printBench(w io.Writer, rep *benchReport, noTorch bool) {
	fmt.Fprintf(w, "ocm %s --bench: %d CPUs, %s kernel, %d rounds, %s; load average at start %.2f, at end %.2f\n\n",
		rep.Version, rep.CPUs, rep.BestKernel, rep.Rounds, rep.Torch, rep.LoadStart[0], rep.LoadEnd[0])
	fmt.Fprint(w, formatBenchTable(rep.Items))
	fmt.Fprintln(w)
	fmt.Fprint(w, formatGoals(rep.Goals, rep.JVPOverFwd[1]))
	if o, t := maxOtherCPU(rep.Items); o > 0.1 || t > 0.1 {
		fmt.Fprintf(w, "warning: other processes used up to %.0f%% (during ocm) and %.0f%% (during PyTorch) of the CPUs:\n"+
			"  these numbers are contended. PyTorch's 2 OpenMP threads spin at barriers and slow down far more\n"+
			"  than ocm when a core is taken, so ratios against PyTorch are then inflated; rerun when idle.\n", 100*o, 100*t)
	}
	if noTorch {
		fmt.Fprintf(w, "PyTorch peer not run (%s); to compare, install it: %s\n", rep.Torch, benchInstallHint)
	}
}
