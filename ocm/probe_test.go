package ocm

import (
	"math"
	"math/rand/v2"
	"testing"

	rt "ocm/runtime"
)

// TestOCMProbeMatchesExactDiagonal checks the head-free OCM covariance with M = 100
// probes through the exact mixture teacher (whose J·v is exact) against the exact
// diagonal posterior covariance, at several t. Per dimension a of a 2-D mixture the
// probe term v_a(Jv)_a = J_aa + v_a v_b J_ab has variance J_ab² exactly, so c_a has
// standard error (B/A)·√B·|J_ab|/√M = (B/A)·B·|H_ab|/√M: every point must lie within
// 5 standard errors (plus float32 rounding of 1 + h, amplified by B/A), and the
// normalised errors must have mean square near 1 (a wrong sign, scale or probe count
// moves it far away).
func TestOCMProbeMatchesExactDiagonal(t *testing.T) {
	s := linear(t)
	mix := Mog40()
	mt := NewMixtureTeacher(mix, s)
	const m, points = DefaultProbes, 200
	rng := rand.New(rand.NewPCG(1, 2))
	for _, step := range []int{10, 50, 150, 300, 400, 550} {
		post := mt.At(step)
		xs := make([]float32, 0, 2*points)
		for _, p := range post.Marginal.Sample(rng, points) {
			xs = append(xs, float32(p[0]), float32(p[1]))
		}
		x := rt.FromSlice(testDev, xs, points, 2)
		probe := &Predictor{Teacher: mt, Sched: s, Cov: CovOCMProbe, Probes: m, Seed: 7}
		exact := &Predictor{Teacher: mt, Sched: s, Cov: CovExactDiag, Exact: mt}
		got, err := probe.Predict(x, step)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exact.Predict(x, step)
		if err != nil {
			t.Fatal(err)
		}
		g, w := got.CovDiag.Data(), want.CovDiag.Data()
		ratio, b := s.B[step]/s.A[step], s.B[step]
		sumZ2, nz := 0.0, 0
		for i := range points {
			hess := post.Marginal.Hessian([]float64{float64(xs[2*i]), float64(xs[2*i+1])})
			se := ratio * b * math.Abs(hess[1]) / math.Sqrt(m)
			for a := range 2 {
				diff := float64(g[2*i+a]) - float64(w[2*i+a])
				// float32 rounding: of c itself, and of h (|h| ≤ 1 + |B·H_aa|) times B/A.
				tol := 1e-6*math.Abs(float64(w[2*i+a])) + 2e-6*ratio*(1+b*math.Abs(hess[3*a])) + 1e-7
				if math.Abs(diff) > 5*se+tol {
					t.Fatalf("t=%d point %d dim %d: ocm-probe %.6g, exact %.6g (standard error %.2g)", step, i, a, g[2*i+a], w[2*i+a], se)
				}
				if se > 10*tol && g[2*i+a] > 0 { // not clamped, noise well above rounding
					sumZ2 += diff * diff / (se * se)
					nz++
				}
			}
		}
		if nz < points/2 {
			t.Fatalf("t=%d: only %d of %d values have probe noise above rounding", step, nz, 2*points)
		}
		t.Logf("t=%d: %d values, mean z² %.3f", step, nz, sumZ2/float64(nz))
		if ms := sumZ2 / float64(nz); ms < 0.7 || ms > 1.4 {
			t.Errorf("t=%d: mean squared normalised error %.3f over %d values, want ≈ 1", step, ms, nz)
		}
	}
}

// TestOCMProbeReproducible: the same seed gives the same covariance, whatever the
// number of probes sharing one pass; another seed gives another draw.
func TestOCMProbeReproducible(t *testing.T) {
	s := linear(t)
	mt := NewMixtureTeacher(Mog40(), s)
	x := rt.FromSlice(testDev, []float32{0.1, -0.2, 0.5, 0.3, -0.7, 0.9}, 3, 2)
	at := func(seed uint64, probes int) []float32 {
		p := &Predictor{Teacher: mt, Sched: s, Cov: CovOCMProbe, Probes: probes, Seed: seed}
		pr, err := p.Predict(x, 200)
		if err != nil {
			t.Fatal(err)
		}
		return pr.CovDiag.Data()
	}
	a, b, c := at(3, 300), at(3, 300), at(4, 300)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("value %d: %g then %g with the same seed", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Errorf("seeds 3 and 4 gave the same covariance %v", a)
	}
}
