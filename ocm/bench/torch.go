package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

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

// torchPeer runs the PyTorch side from a temporary folder: the embedded scripts, and
// torch_ref.py when --bench-torch names it (ref is then its copy, else "").
type torchPeer struct {
	python, dir, ref, snippet, models string
	version                           string
	openblas                          bool // Debian's OpenBLAS is unpacked under benchOpenBLASDir
	log                               io.Writer
}

// findTorchPeer returns the peer, or nil and why not. refPath "" runs the embedded
// model script for the toy-mlp too; else it is torch_ref.py, which the caller has
// checked exists (Config.CheckFiles).
func findTorchPeer(python, refPath string, log io.Writer) (*torchPeer, string) {
	if _, err := os.Stat(python); err != nil {
		return nil, fmt.Sprintf("no python at %s (--bench-python)", python)
	}
	var src []byte
	if refPath != "" {
		var err error
		if src, err = os.ReadFile(refPath); err != nil {
			return nil, fmt.Sprintf("--bench-torch: %v", err)
		}
	}
	out, err := exec.Command(python, "-c", "import torch; print(torch.__version__)").Output()
	if err != nil {
		return nil, fmt.Sprintf("%s cannot import torch; install the peer with `%s`", python, benchInstallHint)
	}
	dir, err := os.MkdirTemp("", "ocm-bench-")
	if err != nil {
		return nil, err.Error()
	}
	p := &torchPeer{python: python, dir: dir, snippet: filepath.Join(dir, "bench_torch.py"),
		models: filepath.Join(dir, "bench_models_torch.py"), version: strings.TrimSpace(string(out)), log: log}
	errs := []error{os.WriteFile(p.snippet, []byte(benchTorchSnippet), 0o644), os.WriteFile(p.models, []byte(benchModelsScript), 0o644)}
	if refPath != "" {
		p.ref = filepath.Join(dir, "torch_ref.py")
		errs = append(errs, os.WriteFile(p.ref, src, 0o644))
	}
	if err := errors.Join(errs...); err != nil {
		os.RemoveAll(dir)
		return nil, err.Error()
	}
	return p, ""
}

func (p *torchPeer) close() { os.RemoveAll(p.dir) }

// ensureOpenBLAS unpacks Debian's OpenBLAS (libopenblas0-openmp) under /tmp as
// shared/bench/torch_ref.py does, unless it is there already, and says whether
// benchOpenBLASDir now holds it. Nothing outside /tmp changes.
func ensureOpenBLAS(log io.Writer) bool {
	lib := filepath.Join(benchOpenBLASDir, "libblas.so.3")
	if _, err := os.Stat(lib); err == nil {
		return true
	}
	deb, root := benchOpenBLASDeb, filepath.Join(benchOpenBLASDeb, "root")
	run := func(dir string, args ...string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	err := os.MkdirAll(deb, 0o755)
	if err == nil {
		err = run(deb, "apt-get", "download", "libopenblas0-openmp")
	}
	if err == nil {
		var debs []string
		if debs, err = filepath.Glob(filepath.Join(deb, "libopenblas0-openmp_*.deb")); err == nil && len(debs) == 0 {
			err = errors.New("apt-get download left no libopenblas0-openmp_*.deb")
		}
		if err == nil {
			err = run(deb, "dpkg-deb", "-x", debs[0], root)
		}
	}
	if _, serr := os.Stat(lib); err != nil || serr != nil {
		fmt.Fprintf(log, "bench: no Debian OpenBLAS under %s (%v); PyTorch runs with the system BLAS only\n", benchOpenBLASDir, errors.Join(err, serr))
		return false
	}
	return true
}

// command runs python with args for at most limit, its standard output going to
// stdout (the log when nil) and its standard error to the log; ldPath "" drops
// LD_LIBRARY_PATH (the system BLAS).
func (p *torchPeer) command(ldPath string, stdout io.Writer, limit time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.python, args...)
	if stdout == nil {
		stdout = p.log
	}
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, stdout, p.log
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
	if err := p.command("", nil, 6*time.Minute, p.ref, "--models", "toy-mlp", "--quick", "--rounds", "1",
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
	if err := p.command(ld, nil, 6*time.Minute, p.snippet, in, out); err != nil {
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

// torchModelResult is one line of the embedded model script's output.
type torchModelResult struct {
	Item       string  `json:"item"`
	MedianS    float64 `json:"median_s"`
	MinS       float64 `json:"min_s"`
	N          int     `json:"n"`
	OtherCPU   float64 `json:"other_procs_cpu_frac"`
	PeakMiB    float64 `json:"peak_rss_mib"`
	BaseMiB    float64 `json:"base_rss_mib"`
	PeakSource string  `json:"peak_source"`
	Params     int     `json:"params"`
}

// parseModelLines reads the model script's output: one JSON object per item line;
// other lines (warnings a library prints) are skipped. An item line that does not
// parse, or has no timing, is an error.
func parseModelLines(out []byte) (map[string]torchModelResult, error) {
	res := map[string]torchModelResult{}
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var r torchModelResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("model script output %q: %w", line, err)
		}
		if r.Item == "" || !(r.MedianS > 0) || !(r.MinS > 0) || r.N < 1 {
			return nil, fmt.Errorf("model script output %q: no item timing", line)
		}
		res[r.Item] = r
	}
	if len(res) == 0 {
		return nil, errors.New("model script: no item timings")
	}
	return res, nil
}

// runModels times the items' PyTorch side with the embedded model script in one
// process, under OpenBLAS (ldPath benchOpenBLASDir) or the system BLAS (""),
// for about target per item.
func (p *torchPeer) runModels(items []*benchItem, ldPath string, target time.Duration) (map[string]torchModelResult, error) {
	var names []string
	for _, it := range items {
		names = append(names, it.TorchItem)
	}
	if len(names) == 0 {
		return nil, nil
	}
	var out bytes.Buffer
	// A UNet item takes seconds on a quiet machine; PyTorch's spinning OpenMP threads
	// can make it minutes on a busy one.
	err := p.command(ldPath, &out, 20*time.Minute, p.models, "--items", strings.Join(names, ","),
		"--seconds", strconv.FormatFloat(target.Seconds(), 'g', -1, 64), "--min-reps", "3",
		"--threads", strconv.Itoa(benchTorchThread))
	if err != nil {
		return nil, fmt.Errorf("model script (%s): %w", blasName(ldPath), err)
	}
	return parseModelLines(out.Bytes())
}

func blasName(ldPath string) string {
	if ldPath == "" {
		return "system BLAS"
	}
	return "OpenBLAS"
}

// applyModels adds one round of model-script results to the items: to their
// PyTorch (OpenBLAS) side, or with system to their system-BLAS side.
func applyModels(items []*benchItem, res map[string]torchModelResult, system bool) {
	for _, it := range items {
		r, ok := res[it.TorchItem]
		if !ok || it.TorchItem == "" {
			continue
		}
		t := &it.Torch
		if system {
			t = &it.TorchSystem
		}
		*t = orNew(*t)
		(*t).addSummary(r.MedianS, r.MinS, r.N)
		(*t).OtherCPU = append((*t).OtherCPU, r.OtherCPU)
		(*t).addMemory(r.PeakMiB, r.BaseMiB, r.PeakSource)
		it.ParamsTorch = r.Params
	}
}
