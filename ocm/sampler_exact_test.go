package ocm

import (
	"math"
	"testing"

	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

var dev = rt.NewCPU(rt.CPUOptions{})

// gaussian is a one-component anisotropic, rotated 2-D Gaussian: the case where the
// reverse process with the exact mean and exact full covariance is exact.
func gaussian(t *testing.T) *Mixture {
	t.Helper()
	m, err := NewMixture([]float64{1}, [][]float64{{0.3, -0.2}},
		[][]float64{{0.09, 0.06, 0.06, 0.05}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func exactPredictor(m *Mixture, s *sampler.Schedule, cov Covariance) *Predictor {
	mt := NewMixtureTeacher(m, s)
	return &Predictor{Teacher: mt, Sched: s, Cov: cov, Exact: mt}
}

func linear(t *testing.T) *sampler.Schedule {
	s, err := sampler.NewSchedule(sampler.Linear, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// moments returns the sample mean and covariance of n×2 points.
func moments(x []float32) (mu [2]float64, cov [4]float64) {
	n := len(x) / 2
	for i := range n {
		mu[0] += float64(x[2*i]) / float64(n)
		mu[1] += float64(x[2*i+1]) / float64(n)
	}
	for i := range n {
		a, b := float64(x[2*i])-mu[0], float64(x[2*i+1])-mu[1]
		cov[0] += a * a / float64(n-1)
		cov[1] += a * b / float64(n-1)
		cov[3] += b * b / float64(n-1)
	}
	cov[2] = cov[1]
	return mu, cov
}

// TestExactFullCovarianceSamplesExactly: with the exact mean and exact full covariance,
// DDPM with K steps reproduces a Gaussian's mean and covariance at any K.
func TestExactFullCovarianceSamplesExactly(t *testing.T) {
	m, s := gaussian(t), linear(t)
	const n = 20000
	for _, k := range []int{2, 5, 10} {
		steps, _ := sampler.Timesteps(sampler.Even, s.N, k)
		x := rt.Random(dev, rt.Normal, philox.Key{Seed: uint64(k)}, 0, n, 2)
		o := &sampler.Options{Method: sampler.DDPM, Steps: steps, Variance: sampler.OptimalFull, Key: philox.Key{Seed: 9, Stream: uint64(k)}}
		out, err := sampler.Sample(exactPredictor(m, s, CovExactFull), s, x, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		mu, cov := moments(out.Data())
		want := m.Cov()
		// Standard errors: mean √(σ²/n); covariance entries ≈ √((σ_ii σ_jj + σ_ij²)/n).
		for a := range 2 {
			if se := math.Sqrt(want[3*a] / n); math.Abs(mu[a]-m.Means[0][a]) > 5*se {
				t.Errorf("K=%d: mean[%d] = %.4f, data %.4f (se %.4f)", k, a, mu[a], m.Means[0][a], se)
			}
		}
		for i, c := range cov {
			a, b := i/2, i%2
			se := math.Sqrt((want[3*a]*want[3*b] + want[i]*want[i]) / n)
			if math.Abs(c-want[i]) > 5*se {
				t.Errorf("K=%d: cov[%d] = %.5f, data %.5f (se %.5f)", k, i, c, want[i], se)
			}
		}
	}
}

// TestExactDiagonalIsNotExact shows the test above can fail: with only the diagonal
// of the covariance, a correlated Gaussian comes out with the wrong correlation at K=2.
func TestExactDiagonalIsNotExact(t *testing.T) {
	m, s := gaussian(t), linear(t)
	const n = 20000
	steps, _ := sampler.Timesteps(sampler.Even, s.N, 2)
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, n, 2)
	o := &sampler.Options{Method: sampler.DDPM, Steps: steps, Variance: sampler.Optimal, Key: philox.Key{Seed: 9}}
	out, err := sampler.Sample(exactPredictor(m, s, CovExactDiag), s, x, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, cov := moments(out.Data())
	want := m.Cov()
	se := math.Sqrt((want[0]*want[3] + want[1]*want[1]) / n)
	if math.Abs(cov[1]-want[1]) < 10*se {
		t.Errorf("diagonal covariance reproduced the correlation %.4f (data %.4f): the exactness test would not discriminate", cov[1], want[1])
	}
}

// TestELBOExactWithFullCovariance: for Gaussian data the ELBO with the exact full
// covariance equals the log-likelihood up to the prior's mismatch (tiny at t = N) and
// Monte Carlo error; the exact diagonal gives a lower ELBO.
func TestELBOExactWithFullCovariance(t *testing.T) {
	m, s := gaussian(t), linear(t)
	const n = 4000
	x0 := MixtureData{Mix: m, Seed: 3}.Batch(dev, 0, n)
	xs := x0.Data()
	nll := make([]float64, n) // −log p(x_i), paired with each example's −ELBO
	for i := range n {
		nll[i] = -m.LogPdf([]float64{float64(xs[2*i]), float64(xs[2*i+1])})
	}
	for _, k := range []int{2, 10, 100} {
		steps, _ := sampler.Timesteps(sampler.Even, s.N, k)
		full, err := sampler.NELBO(exactPredictor(m, s, CovExactFull), s, x0, steps, sampler.OptimalFull, sampler.NELBOOptions{}, philox.Key{Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		diag, err := sampler.NELBO(exactPredictor(m, s, CovExactDiag), s, x0, steps, sampler.Optimal, sampler.NELBOOptions{}, philox.Key{Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		gapFull, gapDiag, diagMinusFull := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			gapFull[i], gapDiag[i] = full[i]-nll[i], diag[i]-nll[i]
			diagMinusFull[i] = diag[i] - full[i] // same noise draws: a paired difference
		}
		fm, fse := meanSE(gapFull)
		dm, _ := meanSE(gapDiag)
		dd, dse := meanSE(diagMinusFull)
		t.Logf("K=%d: −ELBO − NLL: full %.5f ± %.5f, diagonal %.5f; diagonal − full %.5f ± %.5f", k, fm, fse, dm, dd, dse)
		// The prior term KL(q(x_T|x0) ‖ N(0,I)) vs the true marginal adds at most ~1e-4 nats.
		if math.Abs(fm) > 4*fse+1e-3 {
			t.Errorf("K=%d: −ELBO with exact full covariance exceeds −log p by %.5f (s.e. %.5f)", k, fm, fse)
		}
		if dd < 4*dse {
			t.Errorf("K=%d: diagonal −ELBO above full by %.5f ± %.5f: not clearly worse", k, dd, dse)
		}
	}
}

// meanSE returns the mean and standard error of the per-example differences to the
// mean (the ELBO's Monte Carlo error).
func meanSE(v []float64) (float64, float64) {
	mu := 0.0
	for _, x := range v {
		mu += x / float64(len(v))
	}
	s := 0.0
	for _, x := range v {
		s += (x - mu) * (x - mu)
	}
	return mu, math.Sqrt(s / float64(len(v)-1) / float64(len(v)))
}
