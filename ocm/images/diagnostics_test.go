package images

import (
	"math"
	"testing"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// fittedTinyModel is a tiny model trained and fitted for a few steps.
func fittedTinyModel(t *testing.T) *Model {
	t.Helper()
	m := tinyModel(t, 7)
	ds := tinyImages(24)
	st := tinySettings()
	st.TrainSteps, st.FitSteps = 3, 2
	if err := Train(dev, m, NewData(ds, 1), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := Fit(dev, m, NewData(ds, 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestNLLDiagnosticsByHand: at one step of the smallest K, on 2 test images, the
// diagnostics' correlation and ratio and the NLL's KL term, each computed here from
// one x_t drawn as the NELBO draws it, one prediction, and x̂0 and c_t clamped to
// [−1, 1] and [0, 1], agree with the report's: both read the same c_t and x̂0.
func TestNLLDiagnosticsByHand(t *testing.T) {
	m := fittedTinyModel(t)
	ds := tinyImages(24)
	cfg := EvalConfig{Ks: []int{4, 3}, TestImages: 2, Batch: 8, Seed: 1}
	rep := &Report{}
	if _, err := m.nllTable(dev, ds, cfg, rep, nil); err != nil {
		t.Fatal(err)
	}
	steps, err := sampler.Timesteps(sampler.Even, m.Sched.N, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Two KL terms (the decoder's variance is fixed) of four covariances with a c_t.
	if rep.DiagK != 3 || len(rep.Diagnostics) != 2*4 {
		t.Fatalf("diagnostics at K=%d: %+v", rep.DiagK, rep.Diagnostics)
	}
	x0 := rt.FromSlice(dev, firstImages(ds, 2), 2, 1, 8, 8)
	varied, clamped := 0, 0
	for k := 1; k < len(steps); k++ { // the KL terms s ← t, index k + 1 of (0, steps…)
		v, c := checkStepByHand(t, m, rep, x0, philox.Key{Seed: cfg.Seed, Stream: 11}.Split(3).Split(uint64(k+1)), steps[k-1], steps[k])
		varied, clamped = varied+v, clamped+c
	}
	if varied == 0 || clamped == 0 {
		t.Fatalf("%d covariances with a correlation, %d values at the clamp: the check says little", varied, clamped)
	}
}

// checkStepByHand checks the diagnostics and the KL term s ← t of every covariance
// with a c_t from x_t drawn with key; it returns how many covariances have a
// correlation and how many values of c_t lie at a bound of the clamp.
func checkStepByHand(t *testing.T, m *Model, rep *Report, x0 *rt.Tensor, key philox.Key, sPrev, step int) (varied, clamped int) {
	t.Helper()
	noise := rt.Random(dev, rt.Normal, key, 0, x0.Shape()...)
	xt := rt.Add(rt.Scale(x0, float32(math.Sqrt(m.Sched.A[step]))), rt.Scale(noise, float32(math.Sqrt(m.Sched.B[step]))))
	x0h, xth := x0.Float64s(), xt.Float64s()
	varq, w := m.Sched.TB(sPrev, step), m.Sched.DDPMCovWeight(sPrev, step)
	cx0, _ := m.Sched.DDPMMeanCoef(sPrev, step)
	cxt, ceps := m.Sched.X0Coef(step)
	for _, cov := range []ocm.Covariance{ocm.CovAnalytic, ocm.CovSN, ocm.CovNPR, ocm.CovOCM} {
		pr, err := m.Predictor(cov).Predict(xt, step)
		if err != nil {
			t.Fatal(err)
		}
		eps, cd := pr.Eps.Float64s(), pr.CovDiag.Float64s()
		c, e := make([]float64, len(cd)), make([]float64, len(cd))
		kl := 0.0
		for i := range cd {
			x0hat := min(1, max(-1, cxt*xth[i]-ceps*eps[i]))
			c[i], e[i] = min(1, max(0, cd[i])), (x0hat-x0h[i])*(x0hat-x0h[i])
			if c[i] == 0 || c[i] == 1 {
				clamped++
			}
			diff, s2 := cx0*(x0h[i]-x0hat), varq+w*c[i]
			kl += 0.5 * (varq/s2 + diff*diff/s2 - 1 + math.Log(s2) - math.Log(varq))
		}
		r, ratio := twoPass(c, e)
		got, ok := findDiag(rep, cov.String(), sPrev, step)
		if !ok || got.Values != len(c) || !closeOrBothNaN(got.Corr, r, 1e-9) || math.Abs(got.Ratio-ratio) > 1e-12*ratio {
			t.Errorf("%v at %d ← %d: report r %v ratio %.15g over %d values; by hand r %v ratio %.15g over %d",
				cov, sPrev, step, got.Corr, got.Ratio, got.Values, r, ratio, len(c))
		}
		if !math.IsNaN(r) {
			varied++
		}
		bpd := kl / (float64(x0.Len()) * math.Ln2) // the mean over the images of nats/(64 ln 2)
		for _, tm := range rep.TermsAt(3) {
			if tm.S == sPrev && tm.T == step && math.Abs(tm.BPD[cov.String()]-bpd) > 1e-9*bpd {
				t.Errorf("%v: KL term %d ← %d is %.15g bits/dim, by hand %.15g", cov, sPrev, step, tm.BPD[cov.String()], bpd)
			}
		}
	}
	return varied, clamped
}

// TestNLLTableNetworkPasses: the NLL of every covariance at every K, with its terms
// and diagnostics, costs one backbone pass per term and batch, shared by all
// covariances.
func TestNLLTableNetworkPasses(t *testing.T) {
	m := fittedTinyModel(t)
	counter := &countingTeacher{Teacher: m.teacher.Teacher}
	m.teacher.Teacher = counter
	cfg := EvalConfig{Ks: []int{3, 4}, TestImages: 5, Batch: 2, Seed: 1}
	rep := &Report{}
	if _, err := m.nllTable(dev, tinyImages(24), cfg, rep, nil); err != nil {
		t.Fatal(err)
	}
	batches := 3 // 5 images, 2 per batch
	if want := (3 + 4) * batches; counter.calls != want || len(rep.Diagnostics) == 0 {
		t.Errorf("%d backbone passes (%d diagnostics), want %d", counter.calls, len(rep.Diagnostics), want)
	}
}

// twoPass is the Pearson correlation of x and y (NaN when x is constant) and the
// ratio of their means, computed directly.
func twoPass(x, y []float64) (r, ratio float64) {
	mx, my := 0.0, 0.0
	for i := range x {
		mx += x[i] / float64(len(x))
		my += y[i] / float64(len(y))
	}
	sxx, syy, sxy := 0.0, 0.0, 0.0
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
		sxy += (x[i] - mx) * (y[i] - my)
	}
	if sxx < 1e-20*mx*mx || syy == 0 {
		return math.NaN(), mx / my
	}
	return sxy / math.Sqrt(sxx*syy), mx / my
}

func findDiag(rep *Report, cov string, s, t int) (CovDiag, bool) {
	for _, d := range rep.Diagnostics {
		if d.Cov == cov && d.S == s && d.T == t {
			return d, true
		}
	}
	return CovDiag{}, false
}

func closeOrBothNaN(a, b, tol float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}
