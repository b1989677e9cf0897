package toy

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/sampler"
)

// tinyModel is a toy model small enough for many steps in a test.
func tinyModel(t *testing.T, seed uint64) *Model {
	t.Helper()
	s, err := sampler.NewSchedule(sampler.Linear, 100)
	if err != nil {
		t.Fatal(err)
	}
	return NewModel(dev, "mog9", ocm.Mog9(), s, 16, []int{8}, seed)
}

func tinySettings() Settings {
	return Settings{TrainSteps: 60, FitSteps: 20, Batch: 16, LR: 3e-3, EMADecay: 0.99, MsEpsPerStep: 4, Seed: 11}
}

// stopAfter returns a Stop func that says true on its n-th call (and after).
func stopAfter(n int64) func() bool {
	var calls atomic.Int64
	return func() bool { return calls.Add(1) >= n }
}

// resumeLatest reads the latest checkpoint of dir into a ocm.Control.
func resumeLatest(t *testing.T, dir string, every int) *ocm.Control {
	t.Helper()
	path, f, err := ocm.ReadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &ocm.Control{Dir: dir, Every: every, Resume: f, ResumePath: path}
}

// sameTensors fails unless a and b hold bit-identical tensors.
func sameTensors(t *testing.T, a, b *Model) {
	t.Helper()
	pa, pb := a.params(), b.params()
	for i := range pa {
		da, db := pa[i].Value.Data(), pb[i].Value.Data()
		for j := range da {
			if math.Float32bits(da[j]) != math.Float32bits(db[j]) {
				t.Fatalf("%s[%d]: %v uninterrupted, %v resumed", pa[i].Name, j, da[j], db[j])
			}
		}
	}
	for j := range a.MsEps {
		if a.MsEps[j] != b.MsEps[j] || a.ExactMsEps[j] != b.ExactMsEps[j] {
			t.Fatalf("analytic table differs at %d", j)
		}
	}
}

// TestTrainResumeIsExact trains 60 steps in one go, and 27 steps, a stop (with its
// checkpoint) and 33 more from a fresh process-like start: the weights must be
// bit-identical, as must the final checkpoints (Adam moments, EMA shadows).
func TestTrainResumeIsExact(t *testing.T) {
	st := tinySettings()
	dirA, dirB := t.TempDir(), t.TempDir()
	a := tinyModel(t, 1)
	if err := TrainWith(dev, a, st, nil, &ocm.Control{Dir: dirA, Every: 10}); err != nil {
		t.Fatal(err)
	}
	b := tinyModel(t, 1)
	err := TrainWith(dev, b, st, nil, &ocm.Control{Dir: dirB, Every: 10, Stop: stopAfter(27)})
	var stopped *ocm.Stopped
	if !errors.As(err, &stopped) || stopped.Step != 27 || filepath.Base(stopped.Path) != "ckpt-train-27.safetensors" {
		t.Fatalf("want a stop at step 27 with its checkpoint, got %v", err)
	}
	resumed := tinyModel(t, 99) // other initial weights: all must come from the checkpoint
	if err := TrainWith(dev, resumed, st, nil, resumeLatest(t, dirB, 10)); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, a, resumed)
	fa, err1 := safetensors.ReadFile(filepath.Join(dirA, "ckpt-train-60.safetensors"))
	fb, err2 := safetensors.ReadFile(filepath.Join(dirB, "ckpt-train-60.safetensors"))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if len(fa.Tensors) != len(fb.Tensors) || !strings.Contains(strings.Join(tensorNames(fa), " "), "adam.m.backbone.") {
		t.Fatalf("checkpoints hold %d and %d tensors: %v", len(fa.Tensors), len(fb.Tensors), tensorNames(fa))
	}
	for i, ta := range fa.Tensors {
		for j, v := range ta.Data {
			if math.Float32bits(v) != math.Float32bits(fb.Tensors[i].Data[j]) {
				t.Fatalf("final checkpoints differ in %s", ta.Name)
			}
		}
	}
}

func tensorNames(f *safetensors.File) []string {
	var names []string
	for _, t := range f.Tensors {
		names = append(names, t.Name)
	}
	return names
}

// TestFitResumeIsExact fits the six heads (20 steps each) in one go, and with a stop
// after 37 head steps (spread over heads running in parallel) and a resume: heads and
// tables must be bit-identical.
func TestFitResumeIsExact(t *testing.T) {
	st := tinySettings()
	a, b := tinyModel(t, 1), tinyModel(t, 1)
	if err := Fit(dev, a, st, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err := FitWith(dev, b, st, nil, &ocm.Control{Dir: dir, Every: 0, Stop: stopAfter(37)})
	var stopped *ocm.Stopped
	if !errors.As(err, &stopped) || stopped.Phase != ocm.PhaseFit || stopped.Path == "" || stopped.Step >= 120 {
		t.Fatalf("want a stop of the fit with a checkpoint, got %v", err)
	}
	resumed := tinyModel(t, 5)
	resumed.Net = b.Net // the backbone a --fit run reads from its bundle
	if err := FitWith(dev, resumed, st, nil, resumeLatest(t, dir, 0)); err != nil {
		t.Fatal(err)
	}
	sameTensors(t, a, resumed)
}

// TestResumeChecksSettings refuses a checkpoint written with another batch size or for
// another model, with a *ocm.ResumeError.
func TestResumeChecksSettings(t *testing.T) {
	st := tinySettings()
	st.TrainSteps = 5
	dir := t.TempDir()
	if err := TrainWith(dev, tinyModel(t, 1), st, nil, &ocm.Control{Dir: dir, Every: 5}); err != nil {
		t.Fatal(err)
	}
	other := st
	other.Batch = 32
	var re *ocm.ResumeError
	err := TrainWith(dev, tinyModel(t, 1), other, nil, resumeLatest(t, dir, 5))
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "batch 16") {
		t.Errorf("other batch size: %v", err)
	}
	s, _ := sampler.NewSchedule(sampler.Linear, 100)
	wide := NewModel(dev, "mog9", ocm.Mog9(), s, 32, []int{8}, 1)
	if err := TrainWith(dev, wide, st, nil, resumeLatest(t, dir, 5)); !errors.As(err, &re) || !strings.Contains(err.Error(), "hidden") {
		t.Errorf("other model: %v", err)
	}
	if err := FitWith(dev, tinyModel(t, 1), st, nil, resumeLatest(t, dir, 5)); !errors.As(err, &re) {
		t.Errorf("fit from a training checkpoint: %v", err)
	}
}

// TestBrokenWeightsAreNeverSaved poisons the backbone after step 20 (through the Stop
// hook, after step 21): every later step is skipped as non-finite, the checkpoint due at step 25 is
// refused, and latest still names the good checkpoint of step 20, which loads.
func TestBrokenWeightsAreNeverSaved(t *testing.T) {
	st := tinySettings()
	dir := t.TempDir()
	m := tinyModel(t, 1)
	var calls int
	poison := func() bool {
		if calls++; calls == 21 { // after step 21; its checkpoint at 20 is good
			w := m.Net.Params()[0].Value
			d := w.Data()
			d[0] = float32(math.NaN())
			rt.CopyInto(w, rt.FromSlice(dev, d, w.Shape()...))
		}
		return false
	}
	err := TrainWith(dev, m, st, nil, &ocm.Control{Dir: dir, Every: 5, Stop: poison})
	if err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("want a refusal to save non-finite weights, got %v", err)
	}
	if err := m.CheckFinite(); err == nil {
		t.Error("CheckFinite passes NaN weights")
	}
	latest, _ := os.ReadFile(filepath.Join(dir, ocm.LatestName))
	if got := strings.TrimSpace(string(latest)); got != "ckpt-train-20.safetensors" {
		t.Fatalf("latest names %q, want the step-20 checkpoint", got)
	}
	st.TrainSteps = 22
	resumed := tinyModel(t, 3)
	if err := TrainWith(dev, resumed, st, nil, resumeLatest(t, dir, 0)); err != nil {
		t.Fatal(err)
	}
	if err := resumed.CheckFinite(); err != nil {
		t.Fatal(err)
	}
}
