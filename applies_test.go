package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/cli"
	"ocm/ocm/images"
	"ocm/ocm/toy"
	rt "ocm/runtime"
	"ocm/sampler"
)

// probe is how the table test gives a flag: args added to the run (after base,
// which the comparison run gets too), and drop, a flag of the base run to remove.
type probe struct {
	args, base []string
	drop       string
}

// probes gives each flag a value that differs from its default; dir is the run's
// folder, inputs the test's input folder.
func probes(dir, inputs string) map[string]probe {
	p := func(a ...string) probe { return probe{args: a} }
	return map[string]probe{
		"data": p("--data", "mog40"), "data-dir": p("--data-dir", inputs),
		"model":   {args: []string{"--model", "mog9"}, drop: "--weights"},
		"weights": p("--weights", filepath.Join(inputs, "other.safetensors")),
		"config":  p("--config", filepath.Join(inputs, "run.json")), "unet": p("--unet", "unet-s"), "head": p("--head", "complex"),
		"train-steps": p("--train-steps", "4"), "fit-steps": p("--fit-steps", "3"), "batch": p("--batch", "16"),
		"lr": p("--lr", "0.01"), "beta-schedule": p("--beta-schedule", "cosine"), "num-train-timesteps": p("--num-train-timesteps", "500"),
		"steps": p("--steps", "4"), "sampler": p("--sampler", "ddim"),
		"eta":           {args: []string{"--eta", "0.5"}, base: []string{"--sampler", "ddim"}},
		"variance-type": p("--variance-type", "small"), "timestep-spacing": p("--timestep-spacing", "quadratic"),
		"num-samples": p("--num-samples", "24"), "exact-score": p("--exact-score"), "clip-x0": p("--clip-x0=false"),
		"clip-sigma-idx": p("--clip-sigma-idx", "0"), "save-each": p("--save-each"), "npz": p("--npz"),
		"eval-steps": p("--eval-steps", "3"), "eval-images": p("--eval-images", "3"), "fd-samples": p("--fd-samples", "12"),
		"classifier": p("--classifier", filepath.Join(inputs, "clf.safetensors")), "eval-samples": p("--eval-samples", "30"),
		"eval-seeds": p("--eval-seeds", "2"), "out": p("--out", filepath.Join(dir, "elsewhere")), "device": p("--device", "cpu"),
		"threads": p("--threads", "1"), "seed": p("--seed", "7"), "quiet": p("--quiet"),
		"cpuprofile": p("--cpuprofile", filepath.Join(dir, "cpu.prof")), "resume": p("--resume"),
		"checkpoint-dir": p("--checkpoint-dir", filepath.Join(dir, "ck")), "checkpoint-every": p("--checkpoint-every", "1"),
		"checkpoint-keep": {args: []string{"--checkpoint-keep", "1"}, base: []string{"--checkpoint-every", "1"}},
		"arch":            {args: []string{"--arch", "diffusers", "--weights", "nn/testdata/ckpt_diffusers_small"}, drop: "--weights"},
		"save":            p("--save", filepath.Join(dir, "saved.safetensors")),
		"init-from":       p("--init-from", filepath.Join(inputs, "other.safetensors")),
		"overwrite":       p("--overwrite"),
		"probes":          {args: []string{"--probes", "3"}, base: []string{"--variance-type", "ocm-probe"}},
		"eval-data":       p("--eval-data", "idx:"+filepath.Join(inputs, "train-images")),
		"fit-preset":      p("--fit-preset", "official"), "fit-backbone": p("--fit-backbone", "train"),
		"curve-images": p("--curve-images", "4"), "curve-every": p("--curve-every", "1"),
		"bench-items": p("--bench-items", "unet"),
		"bench-torch": p("--bench-torch", "x.py"), "bench-python": p("--bench-python", "python3"), "bench-rounds": p("--bench-rounds", "1"),
	}
}

// baseArgs is the smallest run of one mode on one kind of model.
func baseArgs(mode cli.Mode, kind cli.Kind, dir, inputs string) []string {
	out := []string{"--out", dir}
	w := filepath.Join(inputs, "small.safetensors")
	if kind == cli.Image {
		w = filepath.Join(inputs, "images.safetensors")
	}
	switch mode {
	case cli.Train:
		if kind == cli.Image {
			return append(out, "--train", "--data", "idx:"+filepath.Join(inputs, "train-images"), "--train-steps", "2", "--batch", "4")
		}
		return append(out, "--train", "--data", "mog9", "--train-steps", "3", "--batch", "8")
	case cli.Fit:
		return append(out, "--fit", "--weights", w, "--fit-steps", "2", "--batch", "8")
	case cli.Sample:
		return append(out, "--sample", "--weights", w, "--num-samples", "20", "--steps", "3")
	case cli.Eval:
		if kind == cli.Image {
			return append(out, "--eval", "--weights", w, "--eval-steps", "2")
		}
		return append(out, "--eval", "--weights", w, "--eval-steps", "2", "--eval-samples", "20", "--eval-seeds", "1")
	}
	return []string{"--" + strings.TrimPrefix(mode.String(), "--")}
}

// tableInputs writes the bundles the table test reads.
func tableInputs(t *testing.T) string {
	dir := t.TempDir()
	dev := rt.NewCPU(rt.CPUOptions{})
	for name, seed := range map[string]uint64{"small.safetensors": 1, "other.safetensors": 2} {
		s, _ := sampler.NewSchedule(sampler.Linear, 1000)
		m := toy.NewModel(dev, "mog9", ocm.Mog9(), s, 16, []int{8}, seed)
		st := ocm.Budget{TrainSteps: 30, FitSteps: 30, Batch: 64, LR: 1e-3, EMADecay: 0.9, MsEpsPerStep: 4, Seed: seed}
		if err := toy.Train(dev, m, st, nil); err != nil {
			t.Fatal(err)
		}
		if err := toy.Fit(dev, m, st, nil); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := sampler.NewSchedule(sampler.Linear, 100)
	cfg := nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2}, NumRes: 1, Resolution: 8, TembIn: 16}
	m := images.NewModel(dev, "idx:test", cfg, s, images.HeadSimple, 1)
	m.MsEps = make([]float64, 101)
	if err := m.Save(filepath.Join(dir, "images.safetensors")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "train-images", idxImages(16, 8))
	return dir
}

// fingerprint is what a run produced, without what changes from run to run (wall
// times, the manifest, paths): file names, tensors, pixels, the numbers of the JSON
// records, and the device and warning lines.
func fingerprint(t *testing.T, dir, stderr string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(&b, "%s:%s\n", rel, payload(t, path))
		return nil
	})
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ocm: device") || strings.HasPrefix(l, "ocm: ignored") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// payload is the hash of a file's content that does not vary between equal runs.
func payload(t *testing.T, path string) string {
	raw, _ := os.ReadFile(path)
	h := sha256.New()
	switch filepath.Ext(path) {
	case ".json":
		var v any
		if json.Unmarshal(raw, &v) == nil {
			raw, _ = json.Marshal(stable(v))
		}
		h.Write(raw)
	case ".safetensors":
		f, err := safetensors.Read(path, raw)
		if err != nil {
			return "unreadable"
		}
		for _, tn := range f.Tensors {
			fmt.Fprintf(h, "%s%v", tn.Name, tn.Data)
		}
		keys := make([]string, 0, len(f.Metadata))
		for k := range f.Metadata {
			if !volatile(k) {
				keys = append(keys, k+"="+f.Metadata[k])
			}
		}
		sort.Strings(keys)
		fmt.Fprint(h, keys)
	case ".png":
		img, err := png.Decode(bytes.NewReader(raw))
		if err == nil {
			fmt.Fprint(h, img)
		}
	case ".md", ".prof":
	default:
		h.Write(raw)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// volatile names the record keys that change between equal runs.
func volatile(k string) bool {
	for _, s := range []string{"seconds", "per_second", "per_step", "manifest", "files", "checkpoint"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// stable drops the volatile keys of a JSON value.
func stable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if !volatile(k) {
				out[k] = stable(e)
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = stable(x[i])
		}
	}
	return v
}

// cellRun is one run of the table test: its exit status, stderr and fingerprint.
type cellRun struct {
	code       int
	stderr, fp string
}

func runCell(t *testing.T, args []string, dir string) cellRun {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return cellRun{code: code, stderr: stderr.String(), fp: fingerprint(t, dir, stderr.String())}
}

// withProbe is base with the probe's flag: its base args, then its args, without the
// flag it drops (and that flag's value).
func withProbe(base []string, p probe, flag string) []string {
	var out []string
	for i := 0; i < len(base); i++ {
		if base[i] == p.drop {
			i++
			continue
		}
		out = append(out, base[i])
	}
	out = append(out, p.base...)
	return append(out, p.args...)
}

// TestFlagTable walks every cell of the flag table (flag × mode × model kind): where
// the table says the flag does nothing, the run must be refused (exit 2, one line
// naming the flag) or warned about, as the table says; where it acts, the run's
// outputs (or its device line) must differ from the same run without the flag, or
// the run must be refused naming the flag (a value the model contradicts, as
// --data mog40 for a mog9 bundle). Cells whose runs need PyTorch (--bench), the
// whole machine (--doctor) or image data sets and classifiers (--train, --fit,
// --eval of image models) are checked against the table only, and counted.
func TestFlagTable(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every cell")
	}
	inputs, baselines := tableInputs(t), map[string]cellRun{}
	modes := []cli.Mode{cli.Train, cli.Fit, cli.Sample, cli.Eval, cli.Bench, cli.Doctor, cli.List, cli.Version}
	var refused, warned, acted, tableOnly int
	for _, r := range cli.Rules {
		if isModeFlag(r.Flag) {
			continue
		}
		for _, mode := range modes {
			kinds := []cli.Kind{cli.Toy, cli.Image}
			if mode&cli.Alone != 0 {
				kinds = []cli.Kind{cli.AnyKind}
			}
			for _, kind := range kinds {
				name := fmt.Sprintf("%s%s/%s", r.Flag, mode, kind)
				dir := t.TempDir()
				p := probes(dir, inputs)[r.Flag]
				if r.Flag == "clip-x0" && kind == cli.Toy {
					p.args = []string{"--clip-x0"}
				}
				if r.Flag == "weights" && mode == cli.Train { // the bundle to write: --train refuses to replace one
					p.args = []string{"--weights", filepath.Join(dir, "trained.safetensors")}
				}
				refusal := probe{args: p.args, drop: p.drop} // without the flags it needs to act
				if o, err := parseFlags(withProbe(baseArgs(mode, kind, dir, inputs), p, r.Flag), &bytes.Buffer{}); err == nil &&
					r.Applies(mode, kind, o.given[r.Flag], func(n string) string { return flagValue(o, n) }) {
					refusal = p
				}
				args := withProbe(baseArgs(mode, kind, dir, inputs), refusal, r.Flag)
				o, err := parseFlags(args, &bytes.Buffer{})
				if err != nil {
					t.Errorf("%s: %v does not parse: %v", name, args, err)
					continue
				}
				applies := r.Applies(mode, kind, o.given[r.Flag], func(n string) string { return flagValue(o, n) })
				switch {
				case !applies && (r.Warn || o.given[r.Flag] == r.WarnValue):
					var w bytes.Buffer
					if err := checkFlags(o, kind, &w); err != nil || !strings.Contains(w.String(), "ignored: --"+r.Flag+" ") {
						t.Errorf("%s: want a warning naming --%s, got %v, %q", name, r.Flag, err, w.String())
					}
					warned++
				case !applies:
					err := checkFlags(o, kind, &bytes.Buffer{})
					if exitCode(err) != exitBadUse || !strings.HasPrefix(fmt.Sprint(err), "--"+r.Flag+" ") || strings.Contains(fmt.Sprint(err), "\n") {
						t.Errorf("%s: want exit 2 naming --%s, got %v", name, r.Flag, err)
					}
					refused++
				case mode&(cli.Bench|cli.Doctor) != 0 || (kind == cli.Image && mode != cli.Sample) || ownTest[r.Flag]:
					tableOnly++
				default:
					key := fmt.Sprint(mode, kind, p.base)
					if _, ok := baselines[key]; !ok {
						bdir := t.TempDir()
						base := append(baseArgs(mode, kind, bdir, inputs), p.base...)
						if baselines[key] = runCell(t, base, bdir); baselines[key].code != 0 {
							t.Fatalf("%s: baseline %v failed: %s", name, base, baselines[key].stderr)
						}
					}
					got := runCell(t, args, dir)
					switch {
					case got.code == exitBadUse && strings.Contains(got.stderr, "--"+r.Flag):
					case got.code != 0:
						t.Errorf("%s: %v: exit %d: %s", name, args, got.code, got.stderr)
					case got.fp == baselines[key].fp:
						t.Errorf("%s: %v changes nothing:\n%s", name, args, got.fp)
					}
					acted++
				}
			}
		}
	}
	t.Logf("cells: %d refused, %d warned, %d took effect in a run, %d checked against the table only", refused, warned, acted, tableOnly)
	if refused == 0 || warned == 0 || acted == 0 {
		t.Errorf("the walk missed a kind of cell")
	}
}

// ownTest are the flags whose effect a test of their own shows (the table's fixtures
// cannot: the barely trained toy bundle saturates ocm-probe's clamp whatever --probes).
var ownTest = map[string]bool{
	"overwrite": true, // TestTrainNeverReplacesABundleUnasked
	"probes":    true, // TestProbesChangeOCMProbe
}

// TestProbesChangeOCMProbe: --probes changes ocm-probe's samples, and with --eval adds
// the ocm-probe rows.
func TestProbesChangeOCMProbe(t *testing.T) {
	csv := func(probes ...string) []byte {
		dir := t.TempDir()
		args := append([]string{"--sample", "--model", "mog9", "--num-samples", "20", "--steps", "3",
			"--variance-type", "ocm-probe", "--out", dir, "--quiet"}, probes...)
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		b, _ := os.ReadFile(filepath.Join(dir, "samples.csv"))
		return b
	}
	if bytes.Equal(csv("--probes", "2"), csv()) {
		t.Error("--probes 2 draws the samples of the default 100 probes")
	}
}

// isModeFlag says whether flag is a mode (they always take effect).
func isModeFlag(flag string) bool {
	return map[string]bool{"train": true, "fit": true, "sample": true, "eval": true, "bench": true,
		"doctor": true, "list": true, "version": true}[flag]
}

// TestIssueFlagsRefused runs the cases the issue met: each is refused with exit
// status 2 and one line naming the flag.
func TestIssueFlagsRefused(t *testing.T) {
	inputs := tableInputs(t)
	img, small := filepath.Join(inputs, "images.safetensors"), filepath.Join(inputs, "small.safetensors")
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"eta", []string{"--sample", "--weights", small, "--sampler", "ddpm", "--eta", "0.5"}},
		{"clip-x0", []string{"--sample", "--weights", img, "--clip-x0=false"}},
		{"beta-schedule", []string{"--sample", "--weights", small, "--beta-schedule", "cosine"}},
		{"exact-score", []string{"--sample", "--weights", img, "--exact-score"}},
		{"train-steps", []string{"--sample", "--weights", small, "--train-steps", "5"}},
		{"lr", []string{"--sample", "--weights", img, "--lr", "0.01"}},
		{"npz", []string{"--sample", "--model", "mog9", "--npz"}},
		{"save-each", []string{"--sample", "--model", "mog9", "--save-each"}},
		{"data", []string{"--sample", "--model", "mog9", "--data", "mog40"}},
		{"data", []string{"--train", "--data", "cifar10"}},
		{"timestep-spacing", []string{"--sample", "--timestep-spacing", "trailing"}},
		{"steps", []string{"--list", "--steps", "3"}},
	} {
		dir := t.TempDir()
		got := runCell(t, append(c.args, "--out", dir), dir)
		if got.code != exitBadUse || !strings.Contains(got.stderr, "--"+c.flag) || strings.Count(got.stderr, "\n") > 2 {
			t.Errorf("%v: want exit 2 naming --%s in one line, got %d: %q", c.args, c.flag, got.code, got.stderr)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%v: a refused run wrote %d files", c.args, len(entries))
		}
	}
}

// TestClipX0TrueOnImagesWarns: --clip-x0 restates what image sampling does, so it is a
// warning there, while --clip-x0=false is refused (in TestFlagTable).
func TestClipX0TrueOnImagesWarns(t *testing.T) {
	o, err := parseFlags([]string{"--sample", "--clip-x0"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var w bytes.Buffer
	if err := checkFlags(o, cli.Image, &w); err != nil || !strings.Contains(w.String(), "ignored: --clip-x0") {
		t.Errorf("got %v, %q", err, w.String())
	}
}

// TestEveryFlagIsInTheTable: --help lists every flag under a group of the table, and
// the table names no flag that does not exist.
func TestEveryFlagIsInTheTable(t *testing.T) {
	var help bytes.Buffer
	parseFlags([]string{"--help"}, &help)
	if strings.Contains(help.String(), "\nOther:") {
		t.Errorf("flags missing from cli.Rules:\n%s", help.String()[strings.Index(help.String(), "\nOther:"):])
	}
	for _, r := range cli.Rules {
		if !strings.Contains(help.String(), "\n  --"+r.Flag+" ") {
			t.Errorf("the table names --%s, which --help does not list", r.Flag)
		}
	}
	if strings.Contains(help.String(), "\n  -"+"steps") {
		t.Errorf("--help shows single-dash flags")
	}
}

// TestToyEvalStepsSetTheNELBO: --eval-steps sets the K of the NELBO table too, not
// only the MMD table's.
func TestToyEvalStepsSetTheNELBO(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a toy study")
	}
	inputs, out := tableInputs(t), t.TempDir()
	args := []string{"--eval", "--weights", filepath.Join(inputs, "small.safetensors"), "--eval-steps", "3,7",
		"--eval-samples", "20", "--eval-seeds", "1", "--out", out, "--quiet"}
	if got := runCell(t, args, out); got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "report.json"))
	var rep struct {
		ELBO []struct {
			K int `json:"steps"`
		} `json:"nelbo"`
		MMD []struct {
			K int `json:"steps"`
		} `json:"mmd"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	ks := map[int]bool{}
	for _, r := range append(rep.ELBO, rep.MMD...) {
		ks[r.K] = true
	}
	if len(rep.ELBO) == 0 || len(ks) != 2 || !ks[3] || !ks[7] {
		t.Errorf("NELBO and MMD at K %v, want 3 and 7 only", ks)
	}
}
