// Package bench is ocm --bench: ocm's SGEMM, toy-mlp and UNet timings side by side with
// the PyTorch CPU peer (the embedded model script and torch.mm snippet; with
// --bench-torch, shared/bench/torch_ref.py for the toy-mlp as a cross-check) run in the
// same invocation. Rounds alternate between ocm and PyTorch, because the 2-vCPU
// machine is noisy; the machine load is recorded at every ocm item, and the peak
// memory of every model item on both sides.
package bench

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"ocm/nn/safetensors"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
)

//go:embed bench_torch.py.txt
var benchTorchSnippet string

//go:embed bench_models_torch.py.txt
var benchModelsScript string

const (
	benchBatch       = 512 // toy-mlp batch of torch_ref.py
	benchConvBatch   = 32  // unet-s training/probe batch of torch_ref.py
	benchTorchThread = 2   // torch.set_num_threads of torch_ref.py
	benchLoadWarn    = 1.2 // warn when the 1-minute load average exceeds this at start
	benchOpenBLASDeb = "/tmp/openblas_deb"
	benchOpenBLASDir = benchOpenBLASDeb + "/root/usr/lib/x86_64-linux-gnu/openblas-openmp"
	benchInstallHint = "apt-get install -y python3-torch"
)

// runOCM measures every item's ocm side once (one round), each on a fresh CPU device
// with threads threads, and logs progress. A model item's peak resident memory is
// measured from a reset once its model and inputs are built.
func runOCM(items []*benchItem, threads, round int, log io.Writer) {
	for _, it := range items {
		dev := rt.NewCPU(rt.CPUOptions{Threads: threads, Pool: it.Pooled})
		run := it.prepare(dev)
		runtime.GC()
		runtime.GC() // a pooled device's buffers return through cleanups run after the first
		mem := it.Kind == "model"
		if mem {
			debug.FreeOSMemory() // the previous item's heap leaves the resident set
		}
		reset := mem && rt.ResetPeakRSS()
		base := residentMiB()
		load := readLoadavg()
		a := snapCPU()
		ts := measure(run, benchTarget, 3)
		other := otherCPUFrac(a, snapCPU())
		it.OCM.addTimes(ts)
		it.OCM.Load1 = append(it.OCM.Load1, load[0])
		it.OCM.OtherCPU = append(it.OCM.OtherCPU, other)
		memNote := ""
		if reset {
			it.OCM.addMemory(float64(rt.PeakRSS())/(1<<20), base, "vmhwm")
			memNote = fmt.Sprintf(", peak %.0f MiB", it.OCM.PeakMiB[len(it.OCM.PeakMiB)-1])
		}
		if it.Pooled {
			st := dev.PoolStats()
			it.Pool = &st
		}
		fmt.Fprintf(log, "bench: round %d: ocm %-44s %s (n=%d, load %.2f, other procs %.0f%%%s)\n",
			round, it.Name, it.cell(median(ts), slices.Min(ts)), len(ts), load[0], 100*other, memNote)
		for _, e := range it.Errors {
			fmt.Fprintf(log, "bench: round %d: ocm %s: %s\n", round, it.Name, e)
		}
	}
}

// benchReport is what --bench writes to bench.json.
type benchReport struct {
	Generated     string          `json:"generated_utc"`
	Version       string          `json:"ocm_version"`
	GoArch        string          `json:"goarch"`
	CPUs          int             `json:"cpus"`
	Threads       int             `json:"ocm_threads"`
	BestKernel    string          `json:"best_kernel"`
	Rounds        int             `json:"rounds"`
	Items         string          `json:"items_selected"` // --bench-items
	LoadStart     [3]float64      `json:"loadavg_start"`
	LoadEnd       [3]float64      `json:"loadavg_end"`
	Torch         string          `json:"torch"` // version, or why it did not run
	TorchOK       bool            `json:"torch_ran"`
	TorchToy      string          `json:"torch_toy_script"` // what timed the toy-mlp's PyTorch side
	OpenBLAS      bool            `json:"torch_openblas"`   // Debian's OpenBLAS was there for PyTorch
	TorchProblems []string        `json:"torch_problems,omitempty"`
	Results       []*benchItem    `json:"items"`
	Steady        []*steadyResult `json:"steady_state,omitempty"`
	Goals         []benchGoal     `json:"targets"`
	JVPOverFwd    [2]float64      `json:"jvp_over_forward_ocm_torch"`        // toy-mlp, b512
	UNetJVPOver   [2]float64      `json:"unet_s_jvp_over_forward_ocm_torch"` // unet-s, b32
	WallS         float64         `json:"wall_s"`
}

// Run times ocm and the PyTorch peer, prints the report to stdout (progress to
// stderr) and writes bench.json and bench.txt (the printed report) to cfg.Out.
func Run(cfg Config, stdout, stderr io.Writer) error {
	start := time.Now()
	sel, err := selectItems(cfg.Items, cfg.Threads)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("output folder %s: %w", cfg.Out, err)
	}
	rep := &benchReport{Generated: start.UTC().Format(time.RFC3339), Version: cfg.Version, GoArch: runtime.GOARCH,
		CPUs: runtime.NumCPU(), Threads: cfg.Threads, BestKernel: cpu.BestKernel().String(), Rounds: cfg.Rounds,
		Items: cfg.Items, LoadStart: readLoadavg(), TorchToy: "embedded bench_models_torch.py"}
	fmt.Fprintf(stderr, "bench: %d CPUs, best kernel %s, load average %.2f %.2f %.2f\n", rep.CPUs, rep.BestKernel,
		rep.LoadStart[0], rep.LoadStart[1], rep.LoadStart[2])
	if rep.LoadStart[0] > benchLoadWarn {
		fmt.Fprintf(stderr, "bench: warning: load average %.2f > %.1f: other work is running; numbers will be noisy\n", rep.LoadStart[0], benchLoadWarn)
	}
	peer, why := findTorchPeer(cfg.Python, cfg.TorchScript, stderr)
	if peer != nil {
		defer peer.close()
		rep.Torch, rep.TorchOK = "torch "+peer.version, true
		peer.openblas = ensureOpenBLAS(stderr)
		rep.OpenBLAS = peer.openblas
		if peer.ref != "" {
			rep.TorchToy = cfg.TorchScript
		}
	} else {
		rep.Torch = why
		fmt.Fprintf(stderr, "bench: PyTorch peer not run: %s\n", why)
	}
	for r := 1; r <= cfg.Rounds; r++ {
		benchRound(r, peer, cfg.Threads, sel, rep, stderr)
	}
	for _, c := range sel.steady {
		fmt.Fprintf(stderr, "bench: steady state: %s\n", c.name)
		rep.Steady = append(rep.Steady, c.run(cfg.Threads))
	}
	rep.Results = append(sel.models, sel.gemms...)
	rep.TorchProblems = append(rep.TorchProblems, paramMismatches(rep.Results)...)
	rep.Goals = append(benchGoals(rep.Results), steadyGoals(rep.Steady)...)
	rep.JVPOverFwd = [2]float64{jvpOverForward(sel.models, "toy_jvp", "toy_forward", false), jvpOverForward(sel.models, "toy_jvp", "toy_forward", true)}
	rep.UNetJVPOver = [2]float64{jvpOverForward(sel.models, "unet_s_jvp_32", "unet_s_fwd_32", false), jvpOverForward(sel.models, "unet_s_jvp_32", "unet_s_fwd_32", true)}
	rep.LoadEnd, rep.WallS = readLoadavg(), time.Since(start).Seconds()
	var text bytes.Buffer
	printBench(&text, rep, peer == nil)
	stdout.Write(text.Bytes())
	return writeReport(cfg.Out, rep, text.Bytes(), stdout)
}

// writeReport writes bench.json and bench.txt to dir, each atomically.
func writeReport(dir string, rep *benchReport, text []byte, stdout io.Writer) error {
	path := filepath.Join(dir, "bench.json")
	err := safetensors.WriteFileAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	})
	if err == nil {
		err = safetensors.WriteFileAtomic(filepath.Join(dir, "bench.txt"), func(w io.Writer) error {
			_, err := w.Write(text)
			return err
		})
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ocm: wrote %s and bench.txt\n", path)
	return nil
}

// benchRound runs one round, alternating sides: PyTorch's model items (the toy-mlp
// by torch_ref.py with --bench-torch), ocm's model items, ocm's GEMMs, PyTorch's
// GEMMs. Peer failures are recorded, not fatal.
func benchRound(r int, peer *torchPeer, threads int, sel selection, rep *benchReport, log io.Writer) {
	note := func(err error) {
		if err != nil {
			fmt.Fprintf(log, "bench: round %d: %v\n", r, err)
			rep.TorchProblems = append(rep.TorchProblems, fmt.Sprintf("round %d: %v", r, err))
		}
	}
	if peer != nil {
		torchModels(r, peer, sel.models, note, log)
	}
	runOCM(sel.models, threads, r, log)
	runOCM(sel.gemms, threads, r, log)
	if peer == nil || len(sel.gemms) == 0 {
		return
	}
	for _, openblas := range []bool{true, false} {
		if openblas && !peer.openblas {
			continue
		}
		fmt.Fprintf(log, "bench: round %d: PyTorch torch.mm (openblas=%v)\n", r, openblas)
		res, err := peer.runMM(sel.gemms, openblas)
		note(err)
		if err == nil {
			applyMM(sel.gemms, res, openblas)
		}
	}
}

// torchModels runs one round of the model items' PyTorch side: the toy-mlp under
// both BLAS configurations (by torch_ref.py when the peer has it), the UNets under
// OpenBLAS, or the system BLAS where OpenBLAS is missing (their convolutions are
// oneDNN's either way).
func torchModels(r int, peer *torchPeer, models []*benchItem, note func(error), log io.Writer) {
	var toy, unets []*benchItem
	for _, it := range models {
		switch {
		case it.Group == "toy" && peer.ref != "":
		case it.Group == "toy":
			toy = append(toy, it)
		case it.TorchItem != "":
			unets = append(unets, it)
		}
	}
	if peer.ref != "" && slices.ContainsFunc(models, func(it *benchItem) bool { return it.Group == "toy" }) {
		fmt.Fprintf(log, "bench: round %d: PyTorch toy-mlp (torch_ref.py --quick, system and OpenBLAS)\n", r)
		res, err := peer.runRef()
		note(err)
		if err == nil {
			applyTorchRef(models, res)
		}
	}
	type job struct {
		items  []*benchItem
		system bool
		target time.Duration
	}
	var jobs []job
	if peer.openblas {
		jobs = append(jobs, job{append(slices.Clip(toy), unets...), false, benchTarget})
		unets = nil
	}
	jobs = append(jobs, job{append(slices.Clip(toy), unets...), true, 200 * time.Millisecond})
	for _, j := range jobs {
		if len(j.items) == 0 {
			continue
		}
		ld := benchOpenBLASDir
		if j.system {
			ld = ""
		}
		fmt.Fprintf(log, "bench: round %d: PyTorch models (%s): %d items\n", r, blasName(ld), len(j.items))
		res, err := peer.runModels(j.items, ld, j.target)
		note(err)
		if err == nil {
			applyModels(j.items, res, j.system)
		}
	}
}

// paramMismatches names the items whose PyTorch model has another parameter count
// than ocm's: the two sides would not be timing the same model.
func paramMismatches(items []*benchItem) []string {
	var out []string
	for _, it := range items {
		if it.ParamsOCM > 0 && it.ParamsTorch > 0 && it.ParamsOCM != it.ParamsTorch {
			out = append(out, fmt.Sprintf("%s: PyTorch's model has %d parameters, ocm's %d", it.Name, it.ParamsTorch, it.ParamsOCM))
		}
	}
	return out
}

// jvpOverForward is the ratio of the medians of the items jvp and fwd, of ocm or of
// PyTorch (OpenBLAS); 0 when one is missing.
func jvpOverForward(models []*benchItem, jvp, fwd string, torch bool) float64 {
	var j, f *benchTiming
	for _, it := range models {
		t := &it.OCM
		if torch {
			t = it.Torch
		}
		switch it.Key {
		case jvp:
			j = t
		case fwd:
			f = t
		}
	}
	if j == nil || f == nil || j.N == 0 || f.N == 0 {
		return 0
	}
	return j.MedianS / f.MedianS
}

// printBench writes the tables, the targets and the load to w.
func printBench(w io.Writer, rep *benchReport, noTorch bool) {
	fmt.Fprintf(w, "ocm %s --bench (items %s): %d CPUs, %s kernel, %d rounds, %s; load average at start %.2f, at end %.2f\n\n",
		rep.Version, rep.Items, rep.CPUs, rep.BestKernel, rep.Rounds, rep.Torch, rep.LoadStart[0], rep.LoadEnd[0])
	fmt.Fprint(w, formatBenchTable(rep.Results))
	if t := formatModelTable(rep.Results); t != "" {
		fmt.Fprintln(w)
		fmt.Fprint(w, t)
	}
	if t := formatSteady(rep.Steady); t != "" {
		fmt.Fprintln(w)
		fmt.Fprint(w, t)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, formatGoals(rep.Goals, rep.JVPOverFwd[1], rep.UNetJVPOver[1]))
	for _, p := range rep.TorchProblems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	if o, t := maxOtherCPU(rep.Results); o > 0.1 || t > 0.1 {
		fmt.Fprintf(w, "warning: other processes used up to %.0f%% (during ocm) and %.0f%% (during PyTorch) of the CPUs:\n"+
			"  these numbers are contended. PyTorch's 2 OpenMP threads spin at barriers and slow down far more\n"+
			"  than ocm when a core is taken, so ratios against PyTorch are then inflated; rerun when idle.\n", 100*o, 100*t)
	}
	if noTorch {
		fmt.Fprintf(w, "PyTorch peer not run (%s); to compare, install it: %s\n", rep.Torch, benchInstallHint)
	}
}
