package images

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ocm/nn"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// TestOCMProbeOnTheBackbone checks the head-free covariance through a real UNet:
// probes batched into one forward-mode pass give, to rounding, what one JVP per
// probe gives: c = (B/A)(1 − √B·(1/M)Σ v⊙(J_ε v)), clamped to [0, 1].
func TestOCMProbeOnTheBackbone(t *testing.T) {
	m := tinyModel(t, 8)
	st := tinySettings()
	st.TrainSteps = 3 // the UNet's last layer starts at zero: J_ε = 0 before training
	if err := Train(dev, m, NewData(tinyImages(8), 1), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 4}, 0, 3, 1, 8, 8)
	const step, probes, seed = 3, 5, 9
	p := m.Predictor(ocm.CovOCMProbe)
	p.Probes, p.Seed = probes, seed
	pr, err := p.Predict(x, step)
	if err != nil {
		t.Fatal(err)
	}
	n := []int{step, step, step}
	sum := make([]float64, x.Len())
	for j := range probes {
		v := rt.Random(dev, rt.Rademacher, ocm.ProbeKey(seed, step, j), 0, x.Shape()...)
		_, _, jv := m.teacher.Predict(x, n, v)
		vs, js := v.Data(), jv.Data()
		for i := range sum {
			sum[i] += float64(vs[i]) * float64(js[i])
		}
	}
	ratio, sb := m.Sched.B[step]/m.Sched.A[step], math.Sqrt(m.Sched.B[step])
	got := pr.CovDiag.Data()
	clamped, varied := 0, false
	for i, s := range sum {
		varied = varied || math.Abs(s) > 1e-3
		want := min(1, max(0, ratio*(1-sb*s/probes)))
		if want == 0 || want == 1 {
			clamped++
		}
		if math.Abs(float64(got[i])-want) > 1e-4*ratio {
			t.Fatalf("value %d: %g, one JVP per probe gives %g", i, got[i], want)
		}
	}
	if clamped == len(sum) || !varied {
		t.Fatalf("%d of %d values clamped, J_ε v nonzero: %v; the check says nothing", clamped, len(sum), varied)
	}
}

// TestEvaluateOCMProbeRow: with Probes set, the NLL table has an ocm-probe row at
// every K (no samples), its terms add up to its NLL, it has covariance diagnostics,
// and the report names it and the evaluation split.
func TestEvaluateOCMProbeRow(t *testing.T) {
	m := tinyModel(t, 7)
	ds := tinyImages(24)
	ds.Labels, ds.NumClasses = make([]int, ds.N), 2
	st := tinySettings()
	st.TrainSteps, st.FitSteps = 3, 2
	if err := Fit(dev, m, NewData(ds, 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	clf := nn.NewClassifier(dev, 1, 2, philox.Key{Seed: 3})
	cfg := EvalConfig{Ks: []int{2, 3}, TestImages: 4, FDSamples: 10, RefImages: 16, Batch: 8, PRK: 3, Seed: 1, GridImages: 4,
		Probes: 4, Split: "held out: images 20–23"}
	rep, err := Evaluate(dev, m, ds, ds, clf, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range cfg.Ks {
		r, ok := rep.row(sampler.DDPM.String(), "ocm-probe", k)
		if !ok || !(r.BPD > 0) || !math.IsNaN(r.FD) {
			t.Fatalf("K=%d: ocm-probe row %+v (found %v)", k, r, ok)
		}
	}
	sum := 0.0
	for _, tm := range rep.TermsAt(2) {
		sum += tm.BPD["ocm-probe"]
	}
	if r, _ := rep.row("ddpm", "ocm-probe", 2); math.Abs(sum-r.BPD) > 1e-9*r.BPD {
		t.Errorf("ocm-probe terms add up to %.12g bits/dim, the table says %.12g", sum, r.BPD)
	}
	probeDiags := 0
	for _, d := range rep.Diagnostics {
		if d.Cov == "ocm-probe" {
			probeDiags++
		}
	}
	if probeDiags != 1 { // K = 2: one KL term, 1 ← 100
		t.Errorf("%d ocm-probe diagnostics, want 1: %+v", probeDiags, rep.Diagnostics)
	}
	dir := t.TempDir()
	if _, err := WriteReport(dir, rep, "test"); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| ocm-probe | ", "Test images: held out: images 20–23", "4 fresh Rademacher probes", " ocm-probe |\n"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	var js struct {
		Split string `json:"evaluation_split"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &js); err != nil || js.Split != cfg.Split {
		t.Errorf("report.json: split %q (%v)", js.Split, err)
	}
}
