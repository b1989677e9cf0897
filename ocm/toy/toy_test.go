package toy

import (
	"math"
	"path/filepath"
	"testing"

	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/sampler"
)

var dev = rt.NewCPU(rt.CPUOptions{})

func smallModel(t *testing.T) *Model {
	t.Helper()
	s, err := sampler.NewSchedule(sampler.Linear, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return NewModel(dev, "mog9", ocm.Mog9(), s, 32, []int{32}, 7)
}

// TestTrainLowersLoss trains a small backbone briefly: the denoising loss over the last
// steps must be well below the untrained network's (about D = 2 for ε̂ ≈ 0).
func TestTrainLowersLoss(t *testing.T) {
	m := smallModel(t)
	var first, last float64
	st := Settings{TrainSteps: 300, Batch: 128, LR: 3e-3, EMADecay: 0.99, Seed: 3}
	n := 0
	err := Train(dev, m, st, func(_ string, done, total int, loss float64) {
		switch {
		case done <= 20:
			first += loss / 20
		case done > total-50:
			last += loss / 50
			n++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 50 || !(last < 0.6*first) {
		t.Errorf("loss went from %.3f to %.3f over 300 steps", first, last)
	}
}

// TestBundleRoundTrip saves and loads a bundle and checks that every tensor and the
// tables come back equal, and that the loaded model predicts the same covariance.
func TestBundleRoundTrip(t *testing.T) {
	m := smallModel(t)
	m.MsEps, m.ExactMsEps = make([]float64, 1001), make([]float64, 1001)
	for i := range m.MsEps {
		m.MsEps[i] = float64(i) / 2000
	}
	m.Meta["note"] = "round trip"
	p := filepath.Join(t.TempDir(), "b.safetensors.zst")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(dev, p, f)
	if err != nil {
		t.Fatal(err)
	}
	a, b := m.params(), back.params()
	for i := range a {
		x, y := a[i].Value.Data(), b[i].Value.Data()
		for j := range x {
			if x[j] != y[j] {
				t.Fatalf("%s[%d]: %g after the round trip, %g before", a[i].Name, j, y[j], x[j])
			}
		}
	}
	if back.MsEps[500] != float64(float32(0.25)) || back.Meta["note"] != "round trip" {
		t.Errorf("ms_eps[500] = %v, meta %v", back.MsEps[500], back.Meta)
	}
}

// TestExactCovarianceIsExact: the exact-diag predictor reproduces the mixture's
// posterior variance (the yardstick of the covariance-error table).
func TestExactCovarianceIsExact(t *testing.T) {
	m := smallModel(t)
	x := diffusedSample(dev, m, 300, 64, 5)
	pr, err := m.Predictor(ocm.CovExactDiag, true).Predict(x, 300)
	if err != nil {
		t.Fatal(err)
	}
	truth := exactDiag(m.ExactTeacher().At(300), x)
	if e := mse(pr.CovDiag.Data(), truth); e > 1e-12 || math.IsNaN(e) {
		t.Errorf("exact-diag error %g", e)
	}
}

// TestSameSeedSameWeights trains twice with one seed and once with another: the first
// two must agree bit for bit, the third must not.
func TestSameSeedSameWeights(t *testing.T) {
	run := func(seed uint64) []float32 {
		m := smallModel(t)
		st := Settings{TrainSteps: 30, FitSteps: 5, Batch: 64, LR: 1e-3, EMADecay: 0.9, MsEpsPerStep: 1, Seed: seed}
		if err := Train(dev, m, st, nil); err != nil {
			t.Fatal(err)
		}
		var all []float32
		for _, p := range m.Net.Params() {
			all = append(all, p.Value.Data()...)
		}
		return all
	}
	a, b, c := run(11), run(11), run(12)
	same := func(x, y []float32) bool {
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("two runs with seed 11 differ")
	}
	if same(a, c) {
		t.Error("seeds 11 and 12 gave identical weights")
	}
}
