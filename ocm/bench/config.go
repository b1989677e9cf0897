package bench

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
)

// Config is what ocm --bench is told.
type Config struct {
	Out         string // folder of bench.json and bench.txt (made if missing)
	Threads     int    // CPU threads of ocm (0: all cores)
	Rounds      int    // rounds; ocm and PyTorch alternate within each
	Items       string // what to measure: a comma list of groups and item keys (see selectItems)
	TorchScript string // shared/bench/torch_ref.py for the toy-mlp's PyTorch side ("": the embedded script)
	Python      string // python with torch
	Version     string // ocm's version, recorded in bench.json
}

// AddFlags registers the flags of --bench on fs, writing to c.
func AddFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.Items, "bench-items", "all", "comma `list` of what --bench measures: all, toy, gemm, unet-s, small, steady, unet (= unet-s,small,steady) or item keys of bench.json (steady_small_pool only by key)")
	fs.StringVar(&c.TorchScript, "bench-torch", "", "cross-check: time the toy-mlp's PyTorch side with this torch_ref.py `script` (shared/bench) instead of the embedded one")
	fs.StringVar(&c.Python, "bench-python", "/usr/bin/python3", "python with torch for --bench")
	fs.IntVar(&c.Rounds, "bench-rounds", 2, "rounds of --bench (ocm and PyTorch alternate)")
}

// Check returns an error for flag values --bench cannot use; with files, also for a
// --bench-torch script that cannot be read (only a run of --bench reads it).
func (c Config) Check(files bool) error {
	if c.Rounds < 1 || c.Rounds > 100 {
		return fmt.Errorf("invalid value %d for flag --bench-rounds: want 1 to 100", c.Rounds)
	}
	if _, err := selectItems(c.Items, c.Threads); err != nil {
		return err
	}
	if files && c.TorchScript != "" {
		if _, err := os.ReadFile(c.TorchScript); err != nil {
			return fmt.Errorf("--bench-torch %s: cannot read it (want shared/bench/torch_ref.py, or leave it out for the embedded script)", c.TorchScript)
		}
	}
	return nil
}

// benchGroups are the names --bench-items takes besides item keys, in order.
var benchGroups = []string{"all", "toy", "gemm", "unet-s", "small", "steady", "unet"}

// selection is what one run measures.
type selection struct {
	models, gemms []*benchItem
	steady        []steadyCheck
}

// selectItems reads --bench-items: a comma list of groups (all; toy: the toy-mlp;
// gemm: the SGEMMs; unet-s; small: the small UNet's steps; steady: the steady-state
// checks; unet: unet-s, small and steady) and item keys; the SGEMMs run on threads
// threads (≤ 0: all cores). Model items of the UNets
// bring the SGEMM at 1024³ with them: their GFLOP/s are read against it.
func selectItems(list string, threads int) (selection, error) {
	models := slices.Concat(benchToyItems(), benchUNetSItems(), benchSmallItems())
	gemms, steady := benchGemmItems(threads), benchSteadyChecks()
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		known := slices.Contains(benchGroups, name) || slices.ContainsFunc(slices.Concat(models, gemms), func(it *benchItem) bool { return it.Key == name }) ||
			slices.ContainsFunc(steady, func(c steadyCheck) bool { return c.key == name })
		if !known {
			return selection{}, fmt.Errorf("invalid value %q for flag --bench-items: want a comma list of %s or item keys such as unet_s_train_32", name, strings.Join(benchGroups, ", "))
		}
		want[name] = true
	}
	if want["unet"] {
		want["unet-s"], want["small"], want["steady"] = true, true, true
	}
	pick := func(key, group string) bool { return want["all"] || want[group] || want[key] }
	var sel selection
	for _, it := range models {
		if pick(it.Key, it.Group) {
			sel.models = append(sel.models, it)
		}
	}
	ceiling := slices.ContainsFunc(sel.models, func(it *benchItem) bool { return it.Group == "unet-s" || it.Group == "small" })
	for _, it := range gemms {
		if pick(it.Key, it.Group) || (ceiling && it.Key == ceilingKey) {
			sel.gemms = append(sel.gemms, it)
		}
	}
	for _, c := range steady {
		if want[c.key] || (!c.byKey && pick(c.key, "steady")) {
			sel.steady = append(sel.steady, c)
		}
	}
	return sel, nil
}

// ceilingKey is the SGEMM the model items' GFLOP/s are compared with: this machine's
// practical ceiling.
const ceilingKey = "sgemm_1024"
