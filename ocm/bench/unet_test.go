package bench

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"ocm/nn"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
)

func TestBenchUNetFLOPs(t *testing.T) {
	// unet-s: shared/bench/torch_ref.py's PyTorch hooks count 2,201,030,656 FLOPs of
	// convolutions and linear layers per image and 7,375,872 of attention products.
	if got := unetForwardFLOPs(nn.UNetS()); got != 2208406528 {
		t.Errorf("unet-s forward = %.0f FLOPs per image, want 2208406528", got)
	}
	// The small UNet: the same hooks on the model script's "small" count 372,803,584;
	// its one attention block (the middle, 64 channels at 7×7) adds 2·2·49²·64.
	if got, want := unetForwardFLOPs(smallConfig()), 372803584.0+4*49*49*64; got != want {
		t.Errorf("small UNet forward = %.0f FLOPs per image, want %.0f", got, want)
	}
	for _, it := range benchUNetSItems() {
		per := it.FLOPs / unetForwardFLOPs(nn.UNetS())
		batch := map[string]float64{"unet_s_fwd_16": 16, "unet_s_fwd_32": 32, "unet_s_train_32": 3 * 32, "unet_s_jvp_32": 2 * 32, "unet_s_vjp_32": 2 * 32}[it.Key]
		if per != batch {
			t.Errorf("%s counts %v forwards of one image, want %v", it.Name, per, batch)
		}
	}
}

// modelScriptFixture is what the model script prints for two items, with a line a
// library printed in between.
const modelScriptFixture = `{"item": "unet-s:fwd:16", "median_s": 0.107, "min_s": 0.101, "n": 7, "cpu_median_s": 0.2, "other_procs_cpu_frac": 0.03, "peak_rss_mib": 610.5, "base_rss_mib": 300.25, "peak_source": "vmhwm", "params": 6469889}
[W NNPACK.cpp:53] Could not initialize NNPACK! Reason: Unsupported hardware.
{"item": "toy-mlp:train:512", "median_s": 0.0073, "min_s": 0.0049, "n": 96, "cpu_median_s": 0.014, "other_procs_cpu_frac": 0.2, "peak_rss_mib": 250, "base_rss_mib": 240, "peak_source": "ru_maxrss", "params": 149250}
`

func TestBenchParseModelLines(t *testing.T) {
	res, err := parseModelLines([]byte(modelScriptFixture))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 {
		t.Fatalf("parsed %d items, want 2: %+v", len(res), res)
	}
	if r := res["unet-s:fwd:16"]; r.MedianS != 0.107 || r.MinS != 0.101 || r.N != 7 || r.OtherCPU != 0.03 ||
		r.PeakMiB != 610.5 || r.BaseMiB != 300.25 || r.Params != 6469889 {
		t.Errorf("unet-s forward = %+v", r)
	}
	items := slicesOf(benchToyItems(), benchUNetSItems())
	applyModels(items, res, false)
	applyModels(items, res, true) // a second config adds to the system-BLAS side
	for _, it := range items {
		switch it.Key {
		case "unet_s_fwd_16":
			if it.Torch == nil || it.Torch.MedianS != 0.107 || it.Torch.OtherCPU[0] != 0.03 || it.Torch.PeakMiB[0] != 610.5 ||
				it.Torch.BaseMiB[0] != 300.25 || it.ParamsTorch != 6469889 || it.TorchSystem == nil {
				t.Errorf("unet-s forward peer %+v, system %+v, params %d", it.Torch, it.TorchSystem, it.ParamsTorch)
			}
		case "toy_train_step":
			if it.Torch == nil || it.Torch.MedianS != 0.0073 || it.Torch.PeakSource != "ru_maxrss" {
				t.Errorf("toy train step peer %+v", it.Torch)
			}
		case "unet_s_train_32":
			if it.Torch != nil {
				t.Errorf("train step got a peer timing it was not given: %+v", it.Torch)
			}
		}
	}
	for _, bad := range []string{"", "no json here\n", `{"item": "unet-s:fwd:16", "median_s": 0, "min_s": 0, "n": 0}`,
		`{"item": "unet-s:fwd:16", "median_s": 0.1,` + "\n", `{"median_s": 0.1, "min_s": 0.1, "n": 3}`} {
		if _, err := parseModelLines([]byte(bad)); err == nil {
			t.Errorf("parseModelLines(%q): no error", bad)
		}
	}
}

func slicesOf(lists ...[]*benchItem) []*benchItem {
	var out []*benchItem
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// fakePython writes a stand-in for python into dir: "-c" prints a torch version;
// otherwise it keeps a copy of the script it was given and its arguments, and prints
// dir/out.jsonl.
func fakePython(t *testing.T, dir string) string {
	t.Helper()
	py := filepath.Join(dir, "python")
	src := "#!/bin/sh\nif [ \"$1\" = -c ]; then echo 9.9.9; exit 0; fi\n" +
		"cp \"$1\" " + filepath.Join(dir, "script.py") + "\necho \"$@\" > " + filepath.Join(dir, "args") + "\n" +
		"cat " + filepath.Join(dir, "out.jsonl") + "\n"
	if err := os.WriteFile(py, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "out.jsonl"), []byte(modelScriptFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	return py
}

// TestBenchEmbeddedModelScript checks that without --bench-torch the model items'
// PyTorch side is the embedded script, run from the peer's folder, and that the flag's
// default names no file.
func TestBenchEmbeddedModelScript(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh for the stand-in python")
	}
	fs := flag.NewFlagSet("ocm", flag.ContinueOnError)
	var cfg Config
	AddFlags(fs, &cfg)
	if err := fs.Parse(nil); err != nil || cfg.TorchScript != "" || cfg.Items != "all" {
		t.Fatalf("defaults: --bench-torch %q, --bench-items %q (%v); want the embedded script and all", cfg.TorchScript, cfg.Items, err)
	}
	dir := t.TempDir()
	var log bytes.Buffer
	peer, why := findTorchPeer(fakePython(t, dir), cfg.TorchScript, &log)
	if peer == nil {
		t.Fatalf("no peer: %s", why)
	}
	defer peer.close()
	if peer.ref != "" || peer.version != "9.9.9" {
		t.Errorf("peer ref %q version %q, want no torch_ref.py and 9.9.9", peer.ref, peer.version)
	}
	items := slicesOf(benchToyItems(), benchUNetSItems()[:1])
	res, err := peer.runModels(items, "", 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	used, err := os.ReadFile(filepath.Join(dir, "script.py"))
	if err != nil || string(used) != benchModelsScript || !strings.Contains(benchModelsScript, "def run_item(") {
		t.Errorf("the script python ran is not the embedded model script (%v, %d bytes)", err, len(used))
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if !strings.Contains(string(args), "--items toy-mlp:train:512,toy-mlp:fwd:512,toy-mlp:jvp:512,toy-mlp:vjp:512,unet-s:fwd:16 ") ||
		!strings.Contains(string(args), "--seconds 0.1 ") {
		t.Errorf("script arguments %q", args)
	}
	if len(res) != 2 || res["toy-mlp:train:512"].N != 96 {
		t.Errorf("results %+v", res)
	}
	// With --bench-torch the toy-mlp goes to that script; the model script stays embedded.
	ref := filepath.Join(t.TempDir(), "torch_ref.py")
	os.WriteFile(ref, []byte("# torch_ref\n"), 0o644)
	p2, why := findTorchPeer(filepath.Join(dir, "python"), ref, &log)
	if p2 == nil {
		t.Fatalf("no peer with --bench-torch: %s", why)
	}
	defer p2.close()
	if got, _ := os.ReadFile(p2.ref); string(got) != "# torch_ref\n" {
		t.Errorf("torch_ref.py copy %q", got)
	}
	if (Config{Rounds: 1, Items: "all", TorchScript: filepath.Join(dir, "missing.py")}).Check(true) == nil {
		t.Error("a --bench-torch script that does not exist passed Check")
	}
}

func TestBenchSelectItems(t *testing.T) {
	keys := func(sel selection) string {
		var k []string
		for _, it := range append(sel.models, sel.gemms...) {
			k = append(k, it.Key)
		}
		for _, c := range sel.steady {
			k = append(k, c.key)
		}
		return strings.Join(k, ",")
	}
	for list, want := range map[string]string{
		"unet":                     "unet_s_fwd_16,unet_s_fwd_32,unet_s_train_32,unet_s_jvp_32,unet_s_vjp_32,small_train_64,small_train_64_pool,small_fit_64,sgemm_1024,steady_small",
		"steady,steady_small_pool": "steady_small,steady_small_pool",
		"toy":                      "toy_train_step,toy_forward,toy_jvp,toy_vjp",
		"unet_s_train_32":          "unet_s_train_32,sgemm_1024",
		"steady_small, toy_jvp":    "toy_jvp,steady_small",
	} {
		sel, err := selectItems(list, 1)
		if err != nil {
			t.Errorf("%q: %v", list, err)
		} else if got := keys(sel); got != want {
			t.Errorf("%q selects %s, want %s", list, got, want)
		}
	}
	all, _ := selectItems("all", 1)
	if len(all.models) != 12 || len(all.steady) != 1 || len(all.gemms) < 8 {
		t.Errorf("all: %d models, %d GEMMs, %d steady checks", len(all.models), len(all.gemms), len(all.steady))
	}
	for _, bad := range []string{"unets", "", "toy,,gemm"} {
		_, err := selectItems(bad, 1)
		if err == nil || !strings.HasPrefix(err.Error(), "invalid value") || !strings.Contains(err.Error(), "--bench-items") {
			t.Errorf("selectItems(%q) = %v, want an error naming --bench-items", bad, err)
		}
	}
	if err := (Config{Rounds: 0, Items: "all"}).Check(false); err == nil || !strings.Contains(err.Error(), "--bench-rounds") {
		t.Errorf("0 rounds: %v", err)
	}
}

// unetFixtureItems are unet-s items with known times, against ocm's SGEMM 1024 at 10 ms
// (214.7 GFLOP/s): forward b16 ocm 100 ms / PyTorch 120, forward b32 200 / 230, train
// step 800 / 700, JVP 500 / 900 (1.8× PyTorch, 2.5× ocm's forward).
func unetFixtureItems() []*benchItem {
	g := &benchItem{Key: "sgemm_1024", Name: "sgemm 1024^3", Group: "gemm", Kind: "gemm", FLOPs: gemmFLOPs(1024, 1024, 1024)}
	g.OCM.addTimes([]float64{0.010})
	times := map[string][2]float64{"unet_s_fwd_16": {0.100, 0.120}, "unet_s_fwd_32": {0.200, 0.230},
		"unet_s_train_32": {0.800, 0.700}, "unet_s_jvp_32": {0.500, 0.900}}
	items := []*benchItem{g}
	for _, it := range benchUNetSItems() {
		tm, ok := times[it.Key]
		if !ok {
			continue
		}
		it.OCM.addTimes([]float64{tm[0]})
		it.OCM.addMemory(2048, 40, "vmhwm")
		it.Torch = &benchTiming{}
		it.Torch.addSummary(tm[1], tm[1], 5)
		it.Torch.addMemory(1024.4, 300, "vmhwm")
		it.ParamsOCM, it.ParamsTorch = nn.UNetSParamCount, nn.UNetSParamCount
		items = append(items, it)
	}
	return items
}

func TestBenchUNetGoals(t *testing.T) {
	goals := benchGoals(unetFixtureItems())
	want := []struct {
		prefix string
		value  float64
		met    bool
	}{
		{"unet-s forward b16", 1.2, true}, // (the SGEMM has no PyTorch timing: no goal)
		{"unet-s train step b32", 0.875, false},
		{"unet-s JVP b32: PyTorch forward_ad", 1.8, true},
		{"unet-s JVP b32 / forward b32 (ocm", 2.5, false},
	}
	if len(goals) != len(want) {
		t.Fatalf("goals %+v, want %d", goals, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(goals[i].Goal, w.prefix) || !near(goals[i].Value, w.value) || goals[i].Met != w.met {
			t.Errorf("goal %+v, want %q = %v met %v", goals[i], w.prefix, w.value, w.met)
		}
	}
	if r := jvpOverForward(unetFixtureItems(), "unet_s_jvp_32", "unet_s_fwd_32", true); !near(r, 0.9/0.23) {
		t.Errorf("PyTorch JVP / forward = %v, want %v", r, 0.9/0.23)
	}
	text := formatGoals(goals, 0, 0.9/0.23)
	train := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "unet-s train step b32: PyTorch time / ocm time") {
			train = l
		}
	}
	if !strings.HasSuffix(train, "(want >= 1.0): MISSED") || !strings.Contains(text, "PyTorch unet-s JVP / forward b32: 3.91") {
		t.Errorf("goals text:\n%s", text)
	}
}

func TestBenchModelTable(t *testing.T) {
	items := unetFixtureItems()
	items[1].Pooled = true
	items[1].Pool = &cpu.PoolStats{Gets: 200, Hits: 150, Puts: 190, HeldBytes: 64 << 20, PeakHeld: 128 << 20, OutBytes: 32 << 20, PeakOut: 256 << 20}
	tab := formatModelTable(items)
	row := func(prefix string) string {
		for _, l := range strings.Split(tab, "\n") {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no row %q in\n%s", prefix, tab)
		return ""
	}
	if r := row("sgemm 1024^3 (ceiling)"); !strings.Contains(r, "214.7 (100%)") {
		t.Errorf("ceiling row %q", r)
	}
	// unet-s forward b16: 16 × 2.2084 GFLOP = 35.33 GFLOP in 100 ms = 353.3 GF/s, 165 % of
	// the ceiling; PyTorch's in 120 ms, 294.5.
	for _, want := range []string{"35.33", "353.3 (165%)", "294.5", "2048 (40)", "1024 (300)", "6469889/6469889"} {
		if r := row("unet-s forward b16 "); !strings.Contains(r, want) {
			t.Errorf("forward row %q lacks %q", r, want)
		}
	}
	// Training step: 3 × 32 forwards = 212.0 GFLOP in 800 ms = 265.0 GF/s (123 %).
	if r := row("unet-s train step b32"); !strings.Contains(r, "212.01") || !strings.Contains(r, "265.0 (123%)") {
		t.Errorf("train row %q", r)
	}
	if !strings.Contains(tab, "pool of unet-s forward b16: 200 gets, 75% hits, 190 puts (0 dropped), held 64 MiB (peak 128), out 32 MiB (peak 256)") {
		t.Errorf("no pool line in\n%s", tab)
	}
	if formatModelTable(benchFixtureItems()) != "" {
		t.Error("a table without UNet items renders a model table")
	}
}

func TestBenchSteadyFormat(t *testing.T) {
	rs := []*steadyResult{
		{Name: "a", Steps: 200, Warm: 20, AtWarm: heapSnap{AllocMiB: 80, InuseMiB: 82}, AtEnd: heapSnap{AllocMiB: 80.5, InuseMiB: 83}, GrowthMiB: 0.5, Steady: true,
			Recycle: &rt.RecycleStats{Recycled: 900, Reused: 880, HeldBytes: 3 << 20}},
		{Name: "b", Steps: 200, Warm: 20, AtWarm: heapSnap{AllocMiB: 80}, AtEnd: heapSnap{AllocMiB: 120}, GrowthMiB: 40, Pooled: true,
			Pool: &cpu.PoolStats{Gets: 10, Hits: 5}},
		{Name: "c", Error: "step 3: loss is NaN"},
	}
	goals := steadyGoals(rs)
	if len(goals) != 2 || !goals[0].Met || goals[1].Met || !near(goals[1].Value, 1.5) {
		t.Errorf("steady goals %+v", goals)
	}
	text := formatSteady(rs)
	for _, want := range []string{"steady state a: live heap 80.0 MiB after 20 steps, 80.5 MiB after 200 (+0.50 MiB", ": steady\n",
		"steady state b:", "(+40.00 MiB", ": GREW\n", "  pool: 10 gets, 50% hits", "steady state c: failed: step 3: loss is NaN", "  pool: off",
		"  recycled cotangents: 900 handed back, 880 allocations served from them (the kept ones dropped before each heap reading)\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("steady text lacks %q:\n%s", want, text)
		}
	}
}

// tinyUNet is a UNet small enough that 200 training steps take a second or two.
func tinyUNet() nn.UNetConfig {
	return nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1}, NumRes: 1, AttnRes: []int{4}, Resolution: 4, Dropout: 0.1, TembIn: 8}
}

// TestTrainingHeapSteady runs 200 steps of ocm.Trainer on a tiny UNet on the device
// training uses (no buffer pool) and checks that the live heap does not grow after
// step 20. (--bench runs the same check with the pool too, and reports what it holds.)
func TestTrainingHeapSteady(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	step, _, err := newTrainer(dev, tinyUNet(), 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := checkSteady(step, 20, 200, dev.DropRecycled)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("live heap %.2f MiB after step 20, %.2f MiB after 200 (%.1f s)", r.AtWarm.AllocMiB, r.AtEnd.AllocMiB, r.WallS)
	if !r.Steady || !(r.AtWarm.AllocMiB > 0) {
		t.Errorf("live heap grew from %.2f to %.2f MiB over 180 training steps", r.AtWarm.AllocMiB, r.AtEnd.AllocMiB)
	}
}

// TestSteadyDetectsGrowth checks that checkSteady fails a step that keeps 64 KiB of
// its own alive every time it runs.
func TestSteadyDetectsGrowth(t *testing.T) {
	var kept [][]byte
	leak := func() error {
		kept = append(kept, make([]byte, 64<<10))
		return nil
	}
	r, err := checkSteady(leak, 20, 200, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Steady || r.GrowthMiB < 10 {
		t.Errorf("a step keeping 64 KiB each time passed: growth %.2f MiB, steady %v", r.GrowthMiB, r.Steady)
	}
	n := 0
	bad := func() error {
		if n++; n == 7 {
			return os.ErrInvalid
		}
		return nil
	}
	if _, err := checkSteady(bad, 2, 10, nil); err == nil || !strings.Contains(err.Error(), "step 7") {
		t.Errorf("a failing step: %v", err)
	}
	runtime.KeepAlive(kept)
}

// TestOwnQuietRatioGoal checks that ocm's JVP / forward goal is taken in the round
// where both items were least contended, and from the medians without rounds.
func TestOwnQuietRatioGoal(t *testing.T) {
	jvp := &benchItem{OCM: benchTiming{MedianS: 1.2, N: 4, RoundMediansS: []float64{1.8, 0.8}, OtherCPU: []float64{0.3, 0.01}}}
	fwd := &benchItem{OCM: benchTiming{MedianS: 0.5, N: 4, RoundMediansS: []float64{0.5, 0.47}, OtherCPU: []float64{0, 0.02}}}
	g, ok := ownQuietRatioGoal(jvp, fwd, "jvp / fwd (ocm", 2)
	if !ok || !near(g.Value, 0.8/0.47) || !g.Met || !strings.Contains(g.Goal, "round #2, 2% other CPU; medians 2.40)") {
		t.Errorf("goal %+v, want round 2's 0.8/0.47, met, named", g)
	}
	jvp.OCM.RoundMediansS, jvp.OCM.OtherCPU = nil, nil
	if g, ok := ownQuietRatioGoal(jvp, fwd, "jvp / fwd (ocm", 2); !ok || !near(g.Value, 2.4) || g.Met || !strings.HasSuffix(g.Goal, ", medians)") {
		t.Errorf("goal without rounds %+v, want the medians' 2.4, missed", g)
	}
}
