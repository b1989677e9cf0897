package images

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ocm/ocm"
)

// headsOf lists m's heads in ocm.HeadKinds order.
func headsOf(m *Model) []*ocm.Head {
	var hs []*ocm.Head
	for _, k := range ocm.HeadKinds() {
		hs = append(hs, m.Heads[k])
	}
	return hs
}

// TestJointFitMatchesSeparateFitters: on the UNet, the joint fit (one JVP per step
// with 3 probes, its primal output feeding SN and NPR) has, step after step, the
// losses of three separate fitters on the same batches and probes (a JVP for OCM, a
// forward pass for SN and NPR): the targets are the same. One probe instead of three
// gives another OCM loss, so the comparison can fail.
func TestJointFitMatchesSeparateFitters(t *testing.T) {
	data := NewData(tinyImages(16), 1)
	cfg := ocm.TrainConfig{Steps: 3, Batch: 4, LR: 1e-3, EMADecay: 0.9, Seed: 7}
	a, b, c := tinyModel(t, 1), tinyModel(t, 1), tinyModel(t, 1)
	j := ocm.NewJointFitter(dev, a.Teacher(), headsOf(a), a.Sched, data, cfg)
	j.Probes = 3
	var sep, one []*ocm.HeadFitter
	for _, k := range ocm.HeadKinds() {
		f := ocm.NewHeadFitter(dev, b.Teacher(), b.Heads[k], b.Sched, data, cfg)
		f.Probes = 3
		sep = append(sep, f)
		one = append(one, ocm.NewHeadFitter(dev, c.Teacher(), c.Heads[k], c.Sched, data, cfg))
	}
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-5*(math.Abs(x)+math.Abs(y)) }
	for step := range cfg.Steps {
		losses, err := j.FitStep()
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range sep {
			l, err := f.FitStep()
			if err != nil {
				t.Fatal(err)
			}
			if !near(losses[i], l) {
				t.Errorf("step %d: %v loss %.9g joint, %.9g separate", step, f.Head.Kind, losses[i], l)
			}
		}
		l1, err := one[0].FitStep()
		if err != nil {
			t.Fatal(err)
		}
		if near(losses[0], l1) {
			t.Errorf("step %d: the OCM loss of 3 probes (%.9g) equals that of 1 (%.9g)", step, losses[0], l1)
		}
	}
	if j.Step() != cfg.Steps {
		t.Errorf("joint fit at step %d after %d steps", j.Step(), cfg.Steps)
	}
}

// curveSettings is tinySettings with a learning curve of 4 test images every 2 steps.
func curveSettings() Settings {
	st := tinySettings()
	st.FitSteps = 6
	st.Fit.Probes = 2
	st.Fit.Curve = CurveSettings{Images: 4, Every: 2, Data: tinyImages(8), Split: "test images"}
	return st
}

// TestJointFitResumesExactly: a joint fit stopped at step 3 and resumed in a fresh
// model ends bit-identical to an uninterrupted one, with the same learning curve:
// the checkpoint holds the points measured before the stop (steps 0 and 2).
func TestJointFitResumesExactly(t *testing.T) {
	st := curveSettings()
	ds := tinyImages(16)
	a := tinyModel(t, 1)
	if err := Fit(dev, a, NewData(ds, 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stopped *ocm.Stopped
	err := Fit(dev, tinyModel(t, 1), NewData(ds, 2), st, nil, &ocm.Control{Dir: dir, Every: 5, Stop: stopAfter(3)})
	if !errors.As(err, &stopped) || stopped.Step != 3 {
		t.Fatalf("want a stop at step 3, got %v", err)
	}
	_, f, err := ocm.ReadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := ParseCurve(f.Metadata["train."+curveKey])
	if err != nil || len(saved.Points) != 2 || saved.Points[1].Step != 2 {
		t.Fatalf("the checkpoint's curve: %+v, %v; want the points of steps 0 and 2", saved, err)
	}
	c := tinyModel(t, 99) // a fresh process: nothing carried over but the checkpoint
	if err := Fit(dev, c, NewData(ds, 2), st, nil, resumeLatest(t, dir)); err != nil {
		t.Fatal(err)
	}
	sameModels(t, a, c)
	plain := st
	plain.Fit.Curve = CurveSettings{}
	d := tinyModel(t, 1)
	if err := Fit(dev, d, NewData(ds, 2), plain, nil, nil); err != nil {
		t.Fatal(err)
	}
	sameModels(t, a, d) // measuring the curve leaves the fit as it was, bit for bit
	if a.Meta[curveKey] != c.Meta[curveKey] {
		t.Errorf("learning curves differ:\n%s\n%s", a.Meta[curveKey], c.Meta[curveKey])
	}
	curve, err := CurveOf(c)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, p := range curve.Points {
		steps = append(steps, p.Step)
		for kind, v := range p.Heads {
			if !(v.BPD > 0) || math.IsInf(float64(v.BPD), 0) || !(v.SE > 0) {
				t.Errorf("step %d, %s head: NLL %v ± %v", p.Step, kind, v.BPD, v.SE)
			}
		}
	}
	if !slices.Equal(steps, []int{0, 2, 4, 6}) || curve.Analytic == nil {
		t.Errorf("curve steps %v (analytic %v), want 0,2,4,6 and the Analytic-DPM reference", steps, curve.Analytic)
	}
}

// TestFitPresets: the official preset sets the reference code's values, flags given
// override its batch and rate, and a fit records them in the bundle; its EMA of
// 0.9999 from a copy, without warm-up, leaves the averaged heads within 1e-6 of
// their initial weights after 4 steps, where ocm's average with warm-up has moved.
func TestFitPresets(t *testing.T) {
	fs := FitChoice{Preset: FitPresetOfficial}.Settings(ocm.Budget{Batch: 4}, 0, nil)
	if fs.Batch != 4 || fs.LR != 1e-4 || fs.EMADecay != 0.9999 || !fs.ConstantLR || !fs.NoEMAWarmup ||
		fs.Backbone != BackboneTrain || fs.Probes != 1 {
		t.Errorf("official with --batch 4: %+v", fs)
	}
	if fs := (FitChoice{Preset: FitPresetOfficial, Backbone: BackboneEval}).Settings(ocm.Budget{}, 5, nil); fs.Batch != 128 || fs.Backbone != BackboneEval || fs.Probes != 5 {
		t.Errorf("official with --fit-backbone eval --probes 5: %+v", fs)
	}
	moved := func(preset FitPreset) float64 {
		st := tinySettings()
		st.Fit = FitChoice{Preset: preset}.Settings(ocm.Budget{Batch: st.Batch}, 0, nil)
		m, init := tinyModel(t, 1), tinyModel(t, 1)
		if err := Fit(dev, m, NewData(tinyImages(16), 2), st, nil, nil); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"fit_preset": string(preset), "fit_batch": "4", "fit_probes": "1", "fit_heads": "joint"}
		if preset == FitPresetOfficial {
			official := map[string]string{"fit_lr": "0.0001", "fit_ema": "0.9999", "fit_lr_schedule": "constant", "fit_ema_warmup": "false", "fit_backbone": "train"}
			for k, v := range official {
				want[k] = v
			}
		}
		for k, v := range want {
			if m.Meta[k] != v {
				t.Errorf("%s: metadata %s = %q, want %q", preset, k, m.Meta[k], v)
			}
		}
		d := 0.0
		for _, k := range ocm.HeadKinds() {
			pa, pb := m.Heads[k].Params(), init.Heads[k].Params()
			for i := range pa {
				x, y := pa[i].Value.Data(), pb[i].Value.Data()
				for j := range x {
					d = math.Max(d, math.Abs(float64(x[j]-y[j])))
				}
			}
		}
		return d
	}
	if d := moved(FitPresetOfficial); d > 1e-6 {
		t.Errorf("official: the averaged heads moved %g from their initial weights", d)
	}
	if d := moved(FitPresetOCM); d < 1e-5 {
		t.Errorf("ocm: the averaged heads moved only %g", d)
	}
}

// TestFitBackboneMode: with dropout in the UNet, fitting with the backbone in train
// mode gives other heads than eval mode; without dropout (as the embedded model) the
// two are bit-identical; and a fit checkpoint of one mode is not resumed in the other.
func TestFitBackboneMode(t *testing.T) {
	fit := func(dropout float32, mode BackboneMode, ctl *ocm.Control) (*Model, error) {
		cfg := tinyConfig()
		cfg.Dropout = dropout
		m := NewModel(dev, "test", cfg, tinyModel(t, 1).Sched, HeadSimple, 1)
		st := tinySettings()
		st.Fit.Backbone = mode
		return m, Fit(dev, m, NewData(tinyImages(16), 2), st, nil, ctl)
	}
	differ := func(a, b *Model) bool {
		pa, pb := a.params(), b.params()
		for i := range pa {
			x, y := pa[i].Value.Data(), pb[i].Value.Data()
			for j := range x {
				if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
					return true
				}
			}
		}
		return false
	}
	e0, _ := fit(0, BackboneEval, nil)
	t0, _ := fit(0, BackboneTrain, nil)
	e5, _ := fit(0.5, BackboneEval, nil)
	t5, err := fit(0.5, BackboneTrain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if differ(e0, t0) {
		t.Error("without dropout, train mode fits other heads than eval mode")
	}
	if !differ(e5, t5) {
		t.Error("with dropout 0.5, train mode fits the heads eval mode does")
	}
	if t5.Meta["fit_backbone"] != "train" || e5.Meta["fit_backbone"] != "eval" {
		t.Errorf("recorded modes %q, %q", t5.Meta["fit_backbone"], e5.Meta["fit_backbone"])
	}
	dir := t.TempDir()
	var stopped *ocm.Stopped
	if _, err := fit(0.5, BackboneEval, &ocm.Control{Dir: dir, Every: 5, Stop: stopAfter(2)}); !errors.As(err, &stopped) {
		t.Fatalf("want a stop, got %v", err)
	}
	var re *ocm.ResumeError
	if _, err := fit(0.5, BackboneTrain, resumeLatest(t, dir)); !errors.As(err, &re) || !strings.Contains(err.Error(), "fit_backbone") {
		t.Errorf("resumed in train mode: %v", err)
	}
}

// TestCurveInReportAndFiles: a fitted model's curve is written as JSON and SVG, and
// the evaluation report's section shows every point with its error.
func TestCurveInReportAndFiles(t *testing.T) {
	st := curveSettings()
	m := tinyModel(t, 1)
	if err := Fit(dev, m, NewData(tinyImages(16), 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths, err := WriteCurve(dir, m)
	if err != nil || len(paths) != 2 {
		t.Fatalf("WriteCurve: %v, %v", paths, err)
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "fit-curve.svg"))
	if n := strings.Count(string(svg), `class="errorbar"`); n != 3*4 {
		t.Errorf("the figure has %d error bars, want 12 (3 heads × 4 points)", n)
	}
	files, section, err := curveReport(t.TempDir(), m.metadata())
	if err != nil || len(files) != 1 {
		t.Fatalf("curveReport: %v, %v", files, err)
	}
	for _, want := range []string{"Learning curve", "| 0 |", "| 6 |", "fit preset ocm", "Analytic-DPM on the same images"} {
		if !strings.Contains(section, want) {
			t.Errorf("the report's section lacks %q:\n%s", want, section)
		}
	}
	broken := map[string]string{"train." + curveKey: `{"points": [`}
	if files, section, err := curveReport(t.TempDir(), broken); files != nil || !strings.Contains(section, "not shown") || err != nil {
		t.Errorf("a curve that does not parse: %v, %q, %v", files, section, err)
	}
	bare := tinyModel(t, 1)
	if files, section, err := curveReport(t.TempDir(), bare.metadata()); files != nil || section != "" || err != nil {
		t.Errorf("a model without a curve: %v, %q, %v", files, section, err)
	}
}

// TestSeparateFitResumesExactly: the separate fit (the joint fit's comparison: each
// head on its own batches, one after another) stopped inside the second head and
// resumed ends bit-identical to an uninterrupted one, and records itself.
func TestSeparateFitResumesExactly(t *testing.T) {
	st := tinySettings()
	st.Fit.Separate = true
	ds := tinyImages(16)
	a := tinyModel(t, 1)
	if err := Fit(dev, a, NewData(ds, 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stopped *ocm.Stopped
	err := Fit(dev, tinyModel(t, 1), NewData(ds, 2), st, nil, &ocm.Control{Dir: dir, Every: 3, Stop: stopAfter(6)})
	if !errors.As(err, &stopped) || stopped.Step != 6 {
		t.Fatalf("want a stop at step 6 (the second head's second), got %v", err)
	}
	c := tinyModel(t, 99)
	if err := Fit(dev, c, NewData(ds, 2), st, nil, resumeLatest(t, dir)); err != nil {
		t.Fatal(err)
	}
	sameModels(t, a, c)
	if c.Meta["fit_heads"] != "separate" || c.Meta["fit_seconds_per_step.npr"] == "" {
		t.Errorf("metadata fit_heads %q, fit_seconds_per_step.npr %q", c.Meta["fit_heads"], c.Meta["fit_seconds_per_step.npr"])
	}
	var re *ocm.ResumeError
	joint := st
	joint.Fit.Separate = false
	if err := Fit(dev, tinyModel(t, 1), NewData(ds, 2), joint, nil, resumeLatest(t, dir)); !errors.As(err, &re) || !strings.Contains(err.Error(), "fit_heads") {
		t.Errorf("a separate fit's checkpoint resumed jointly: %v", err)
	}
}
