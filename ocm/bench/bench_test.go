package bench

import (
	"math"
	"strings"
	"testing"
)

// torchRefFixture is a cut-down cpu_torch_results.json of shared/bench/torch_ref.py:
// two configs, an error entry, and keys --bench does not read.
const torchRefFixture = `{
 "configs": {
  "system": {"results": {"toy-mlp": {
   "train_step": {"batch": 512, "median_s": 0.020, "min_s": 0.015, "n": 40},
   "sample_eval": {"batch": 512, "median_s": 0.008, "min_s": 0.006, "n": 90}}}},
  "openblas": {"results": {"toy-mlp": {
   "train_step": {"batch": 512, "median_s": 0.0073, "min_s": 0.0049, "n": 226, "other_procs_cpu_frac_max": 0.25},
   "sample_eval": {"batch": 512, "median_s": 0.0020, "min_s": 0.00165, "n": 400},
   "probe_jvp_forward_ad": {"batch": 512, "median_s": 0.0049, "min_s": 0.0034, "n": 400},
   "probe_jvp_functorch": {"batch": 512, "median_s": 0.0047, "min_s": 0.0037, "n": 400},
   "probe_vjp_reverse": {"error": "RuntimeError('x')"},
   "probe_check": {"functorch_vs_forward_ad_max_abs_diff": 0.0}}}}
 }
}`

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func TestBenchFLOPs(t *testing.T) {
	if got := gemmFLOPs(1024, 1024, 1024); got != 2*1024*1024*1024 {
		t.Errorf("gemmFLOPs(1024³) = %v", got)
	}
	m, n, k := convShape{Batch: 32, Cin: 192, Cout: 128, HW: 14}.gemmDims()
	if m != 128 || n != 32*14*14 || k != 192*9 {
		t.Errorf("conv 192->128 14x14 b32 as GEMM = %d×%d×%d, want 128×6272×1728", m, n, k)
	}
	// toy-mlp: 66·256 + 2·256·256 + 256·2 = 148480 multiply-adds per sample (the
	// 149,250 parameters less the 770 biases).
	if got := toyMLPForwardFLOPs(512, 2, 64, 256); got != 2*512*148480 {
		t.Errorf("toyMLPForwardFLOPs = %v, want %v", got, 2*512*148480)
	}
	for _, it := range benchGemmItems(1) {
		if it.FLOPs != gemmFLOPs(it.M, it.N, it.K) || it.M*it.N*it.K == 0 {
			t.Errorf("%s: FLOPs %v for %d×%d×%d", it.Name, it.FLOPs, it.M, it.N, it.K)
		}
		if it.Conv != nil {
			if m, n, k := it.Conv.gemmDims(); m != it.M || n != it.N || k != it.K {
				t.Errorf("%s: dims %d×%d×%d, conv says %d×%d×%d", it.Name, it.M, it.N, it.K, m, n, k)
			}
		}
	}
}

func TestBenchTimingPooling(t *testing.T) {
	var tm benchTiming
	tm.addTimes([]float64{3, 1, 2})
	tm.addTimes([]float64{10, 4})
	if tm.N != 5 || tm.MedianS != 3 || tm.MinS != 1 {
		t.Errorf("pooled = median %v min %v n %d, want 3, 1, 5", tm.MedianS, tm.MinS, tm.N)
	}
	if len(tm.RoundMediansS) != 2 || tm.RoundMediansS[0] != 2 || tm.RoundMediansS[1] != 7 {
		t.Errorf("round medians %v, want [2 7]", tm.RoundMediansS)
	}
	var s benchTiming
	s.addSummary(0.004, 0.003, 10)
	s.addSummary(0.006, 0.002, 20)
	if s.N != 30 || !near(s.MedianS, 0.005) || s.MinS != 0.002 {
		t.Errorf("summaries = median %v min %v n %d, want 0.005, 0.002, 30", s.MedianS, s.MinS, s.N)
	}
}

func TestBenchParseTorchRef(t *testing.T) {
	res, err := parseTorchRef([]byte(torchRefFixture))
	if err != nil {
		t.Fatal(err)
	}
	ob := res["openblas"]
	if len(ob) != 3 { // the VJP entry is an error, functorch is not read
		t.Errorf("openblas results %v, want train_step, sample_eval, probe_jvp_forward_ad", ob)
	}
	if s := ob["train_step"]; s.MedianS != 0.0073 || s.MinS != 0.0049 || s.N != 226 || s.OtherCPU != 0.25 {
		t.Errorf("train_step = %+v", s)
	}
	if _, ok := ob["probe_vjp_reverse"]; ok {
		t.Error("an error entry was read as a timing")
	}
	if len(res["system"]) != 2 {
		t.Errorf("system results %v", res["system"])
	}
	items := benchToyItems()
	applyTorchRef(items, res)
	for _, it := range items {
		switch it.Key {
		case "toy_train_step":
			if it.Torch == nil || it.Torch.MedianS != 0.0073 || it.TorchSystem == nil || it.TorchSystem.MedianS != 0.020 {
				t.Errorf("train step peer timings %+v %+v", it.Torch, it.TorchSystem)
			}
		case "toy_vjp":
			if it.Torch != nil {
				t.Errorf("VJP got a peer timing from an error entry: %+v", it.Torch)
			}
		}
	}
	for _, bad := range []string{"{", `{"configs": {}}`, `{"configs": {"openblas": {"results": {"unet-s": {}}}}}`} {
		if _, err := parseTorchRef([]byte(bad)); err == nil {
			t.Errorf("parseTorchRef(%q): no error", bad)
		}
	}
}

// benchFixtureItems is a table with known times: ocm's SGEMM 1024 at 10 ms (median)
// and 8 ms (best), PyTorch's at 11 and 9; ocm's train step 5 ms against 7.3 ms.
func benchFixtureItems() []*benchItem {
	g := &benchItem{Key: "sgemm_1024", Name: "sgemm 1024^3", Kind: "gemm", FLOPs: gemmFLOPs(1024, 1024, 1024), M: 1024, N: 1024, K: 1024}
	g.OCM.addTimes([]float64{0.010, 0.008, 0.012})
	g.Torch = &benchTiming{}
	g.Torch.addTimes([]float64{0.011, 0.009, 0.013})
	g.Torch.OtherCPU = []float64{0.05}
	g.OCM.Load1, g.OCM.OtherCPU = []float64{1.5}, []float64{0.10}
	tr := &benchItem{Key: "toy_train_step", Name: "toy-mlp train step b512", Kind: "model"}
	tr.OCM.addTimes([]float64{0.005, 0.0035, 0.006})
	tr.Torch = &benchTiming{}
	tr.Torch.addSummary(0.0073, 0.0049, 226)
	fw := &benchItem{Key: "toy_forward", Name: "toy-mlp forward b512", Kind: "model"}
	fw.OCM.addTimes([]float64{0.002})
	jv := &benchItem{Key: "toy_jvp", Name: "toy-mlp JVP b512", Kind: "model"}
	jv.OCM.addTimes([]float64{0.006})
	return []*benchItem{g, tr, fw, jv}
}

func TestBenchRatiosAndGoals(t *testing.T) {
	items := benchFixtureItems()
	med, best, ok := benchRatio(items[0].OCM, items[0].Torch)
	if !ok || !near(med, 1.1) || !near(best, 9.0/8) {
		t.Errorf("ratio = %v (%v), %v; want 1.1 (1.125)", med, best, ok)
	}
	if _, _, ok := benchRatio(items[2].OCM, items[2].Torch); ok {
		t.Error("ratio without a peer timing")
	}
	goals := benchGoals(items)
	want := []struct {
		value float64
		met   bool
	}{{1.1, true}, {7.3 / 5, true}, {7.3 / 5, true}, {3, false}}
	if len(goals) != len(want) {
		t.Fatalf("goals %+v, want %d", goals, len(want))
	}
	for i, w := range want {
		if !near(goals[i].Value, w.value) || goals[i].Met != w.met {
			t.Errorf("goal %q = %v met %v, want %v met %v", goals[i].Goal, goals[i].Value, goals[i].Met, w.value, w.met)
		}
	}
	// A slow ocm SGEMM misses the 1.2× target: 1.3× slower than PyTorch.
	items[0].OCM = benchTiming{}
	items[0].OCM.addTimes([]float64{0.0143})
	if g := benchGoals(items)[0]; g.Met || !near(g.Value, 0.011/0.0143) {
		t.Errorf("slow SGEMM goal = %+v, want missed at %v", g, 0.011/0.0143)
	}
	if r := jvpOverForward(items, "toy_jvp", "toy_forward", false); !near(r, 3) {
		t.Errorf("jvpOverForward = %v, want 3", r)
	}
}

func TestBenchFormatTable(t *testing.T) {
	tab := formatBenchTable(benchFixtureItems())
	lines := strings.Split(tab, "\n")
	row := func(prefix string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no row %q in\n%s", prefix, tab)
		return ""
	}
	// 2·1024³ FLOP in 10 ms = 214.7 GFLOP/s; best 8 ms = 268.4.
	for _, want := range []string{"214.7 (268.4) GF/s", "195.2 (238.6) GF/s", "1.10 (1.12)", "| 1.50  | 10%/5%"} {
		if r := row("sgemm 1024^3"); !strings.Contains(r, want) {
			t.Errorf("SGEMM row %q lacks %q", r, want)
		}
	}
	for _, want := range []string{"5.00 (3.50) ms", "7.30 (4.90) ms", "1.46 (1.40)"} {
		if r := row("toy-mlp train step"); !strings.Contains(r, want) {
			t.Errorf("train-step row %q lacks %q", r, want)
		}
	}
	if r := row("toy-mlp forward"); strings.Count(r, " - ") < 3 {
		t.Errorf("forward row without peer should show dashes: %q", r)
	}
	if !strings.HasPrefix(lines[0], "item") || !strings.Contains(lines[0], "PyTorch (OpenBLAS)") || !strings.Contains(lines[0], "ratio") {
		t.Errorf("header %q", lines[0])
	}
	if o, tr := maxOtherCPU(benchFixtureItems()); o != 0.10 || tr != 0.05 {
		t.Errorf("maxOtherCPU = %v, %v; want 0.10, 0.05", o, tr)
	}
	goals := formatGoals(benchGoals(benchFixtureItems()), 2.4, 0)
	if !strings.Contains(goals, "MISSED") || !strings.Contains(goals, "JVP / forward: 2.40") {
		t.Errorf("goals text:\n%s", goals)
	}
}

func TestBenchQuietRatio(t *testing.T) {
	var o, p benchTiming
	o.addTimes([]float64{0.030}) // round 1: contended
	o.addTimes([]float64{0.010}) // round 2: quiet
	o.OtherCPU = []float64{0.5, 0.01}
	p.addTimes([]float64{0.300})
	p.addTimes([]float64{0.007})
	p.OtherCPU = []float64{0.49, 0.03}
	r, round, other, ok := quietRatio(o, &p)
	if !ok || round != 2 || !near(r, 0.7) || other != 0.03 {
		t.Errorf("quietRatio = %v round %d other %v ok %v; want 0.7, round 2, 0.03", r, round, other, ok)
	}
	// Pooled medians say PyTorch is slower (inflated by the contended round); the
	// goal uses the quiet round, where ocm is slower.
	it := &benchItem{Key: "toy_train_step", Kind: "model", OCM: o, Torch: &p}
	if med, _, _ := benchRatio(it.OCM, it.Torch); med <= 1 {
		t.Errorf("pooled ratio %v, want > 1", med)
	}
	if g := benchGoals([]*benchItem{it})[0]; g.Met || !near(g.Value, 0.7) {
		t.Errorf("train-step goal %+v, want missed at 0.7", g)
	}
	p.OtherCPU = p.OtherCPU[:1] // misaligned rounds: no quiet ratio
	if _, _, _, ok := quietRatio(o, &p); ok {
		t.Error("quietRatio with misaligned rounds")
	}
}
