package toy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
	"ocm/sampler/metrics"
)

// StudyConfig sets the size of the measurements.
type StudyConfig struct {
	ErrTimes   []int  `json:"covariance_error_steps"`   // steps t of the covariance-error table
	ErrSamples int    `json:"covariance_error_samples"` // x_t per step for the covariance error
	Ks         []int  `json:"mmd_steps"`                // sampling step counts of the MMD table
	ELBOKs     []int  `json:"nelbo_steps,omitempty"`    // step counts of the NELBO table (nil: DefaultELBOKs)
	Samples    int    `json:"mmd_samples"`              // samples per MMD measurement
	Seeds      int    `json:"mmd_seeds"`                // sampling seeds per MMD measurement
	Seed       uint64 `json:"seed"`
	// Probes adds the head-free ocm-probe estimator with this many probes per call to
	// the covariance-error and NELBO tables (0: not measured; it costs Probes JVPs
	// per call).
	Probes int `json:"probes,omitempty"`
}

// withoutProbe is covs without ocm-probe unless probes > 0.
func withoutProbe(covs []ocm.Covariance, probes int) []ocm.Covariance {
	if probes > 0 {
		return covs
	}
	return slices.DeleteFunc(slices.Clone(covs), func(c ocm.Covariance) bool { return c == ocm.CovOCMProbe })
}

// DefaultELBOKs are the step counts of the NELBO table when StudyConfig.ELBOKs is nil.
func DefaultELBOKs() []int { return []int{2, 5, 10, 25, 100} }

func (c StudyConfig) elboKs() []int {
	if len(c.ELBOKs) > 0 {
		return c.ELBOKs
	}
	return DefaultELBOKs()
}

// DefaultErrTimes returns the t grid of the covariance-error table (N = 1000).
func DefaultErrTimes() []int {
	return []int{1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 400, 500, 600, 700, 800, 900, 1000}
}

// CovErrorRow is the diagonal-covariance error of each estimator at one step t:
// E_{x_t}[(1/D) Σ_i (ĉ_i − Cov*_ii)²].
type CovErrorRow struct {
	T       int                `json:"t"`
	Learned map[string]float64 `json:"learned_score"`
	Exact   map[string]float64 `json:"exact_score"`
	TrueVar float64            `json:"mean_true_diag_cov"`
}

// MMDResult is MMD² of one sampler and covariance at one K, over seeds.
type MMDResult struct {
	Method  string    `json:"sampler"`
	Cov     string    `json:"variance_type"`
	K       int       `json:"steps"`
	Values  []float64 `json:"mmd2_per_seed"`
	Mean    float64   `json:"mmd2_mean"`
	Std     float64   `json:"mmd2_std"`
	Seconds float64   `json:"seconds"`
}

// errorEstimators are the diagonal estimators compared in the covariance-error table.
// ocm-probe (no head, StudyConfig.Probes JVPs per call; only when asked) is the
// reference a fitted OCM head is judged against.
var errorEstimators = []ocm.Covariance{ocm.CovOCM, ocm.CovSN, ocm.CovNPR, ocm.CovAnalytic, ocm.CovOCMProbe}

// CovErrors measures every estimator against the exact diagonal covariance.
func CovErrors(dev rt.Device, m *Model, times []int, samples int, seed uint64, probes int, prog Progress) ([]CovErrorRow, error) {
	exact := m.ExactTeacher()
	var rowsOut []CovErrorRow
	for i, t := range times {
		if t < 1 || t > m.Sched.N {
			return nil, fmt.Errorf("covariance-error step %d outside 1..%d", t, m.Sched.N)
		}
		x := diffusedSample(dev, m, t, samples, seed+uint64(t))
		truth := exactDiag(exact.At(t), x)
		row := CovErrorRow{T: t, Learned: map[string]float64{}, Exact: map[string]float64{}, TrueVar: mean(truth)}
		for _, cov := range withoutProbe(errorEstimators, probes) {
			for _, exactScore := range []bool{false, true} {
				p := m.Predictor(cov, exactScore)
				p.Seed, p.Probes = seed, probes
				pr, err := p.Predict(x, t)
				if err != nil {
					return nil, err
				}
				e := mse(pr.CovDiag.Data(), truth)
				if exactScore {
					row.Exact[cov.String()] = e
				} else {
					row.Learned[cov.String()] = e
				}
			}
		}
		rowsOut = append(rowsOut, row)
		if prog != nil {
			prog("covariance error vs t", i+1, len(times), math.NaN())
		}
	}
	return rowsOut, nil
}

// diffusedSample draws x_t = √A x0 + √B ε for n data points.
func diffusedSample(dev rt.Device, m *Model, t, n int, seed uint64) *rt.Tensor {
	x0 := ocm.MixtureData{Mix: m.Mix, Seed: seed}.Batch(dev, 0, n)
	eps := rt.Random(dev, rt.Normal, philox.Key{Seed: seed, Stream: 3}, 0, x0.Shape()...)
	return rt.Add(rt.Scale(x0, float32(math.Sqrt(m.Sched.A[t]))), rt.Scale(eps, float32(math.Sqrt(m.Sched.B[t]))))
}

// exactDiag returns the exact diag Cov[x0|x_t] (N·D values) in float64.
func exactDiag(p *ocm.Diffused, x *rt.Tensor) []float64 {
	d := p.Data.Dim
	xs := x.Float64s()
	out := make([]float64, len(xs))
	mu, cov := make([]float64, d), make([]float64, d*d)
	for i := range len(xs) / d {
		p.PosteriorInto(mu, cov, xs[i*d:(i+1)*d])
		for a := range d {
			out[i*d+a] = cov[a*d+a]
		}
	}
	return out
}

func mse(est []float32, truth []float64) float64 {
	s := 0.0
	for i, v := range est {
		d := float64(v) - truth[i]
		s += d * d
	}
	return s / float64(len(est))
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// mmdCovariances lists the covariances of the MMD table per sampler.
func mmdCovariances(method sampler.Method) []ocm.Covariance {
	if method == sampler.DDIM {
		return []ocm.Covariance{ocm.CovSmall, ocm.CovAnalytic, ocm.CovSN, ocm.CovNPR, ocm.CovOCM, ocm.CovExactDiag, ocm.CovExactFull}
	}
	return []ocm.Covariance{ocm.CovSmall, ocm.CovAnalytic, ocm.CovSN, ocm.CovNPR, ocm.CovOCM, ocm.CovExactDiag, ocm.CovExactFull, ocm.CovLarge}
}

// ReferenceBandwidth returns the RBF bandwidth of the MMD: the median heuristic on two
// independent data samples of size n (fixed per data set, so every method is measured
// with the same kernel).
func ReferenceBandwidth(m *Model, n int, seed uint64) float64 {
	a := m.Mix.Sample(rand.New(rand.NewPCG(seed, 1)), n)
	b := m.Mix.Sample(rand.New(rand.NewPCG(seed, 2)), n)
	return metrics.MedianBandwidth(a, b)
}

// MMDTable samples with every sampler, covariance and K, and measures MMD² against
// fresh data.
func MMDTable(dev rt.Device, m *Model, cfg StudyConfig, bandwidth float64, prog Progress) ([]MMDResult, error) {
	var out []MMDResult
	total := len(cfg.Ks) * (len(mmdCovariances(sampler.DDPM)) + len(mmdCovariances(sampler.DDIM)))
	for _, method := range []sampler.Method{sampler.DDPM, sampler.DDIM} {
		for _, cov := range mmdCovariances(method) {
			for _, k := range cfg.Ks {
				r, err := mmdAt(dev, m, cfg, method, cov, k, bandwidth)
				if err != nil {
					return nil, err
				}
				out = append(out, r)
				if prog != nil {
					prog("MMD table", len(out), total, r.Mean)
				}
			}
		}
	}
	return out, nil
}

func mmdAt(dev rt.Device, m *Model, cfg StudyConfig, method sampler.Method, cov ocm.Covariance, k int, bw float64) (MMDResult, error) {
	r := MMDResult{Method: method.String(), Cov: cov.String(), K: k}
	var secs float64
	for s := range cfg.Seeds {
		seed := cfg.Seed + uint64(1000*s)
		sc := SampleConfig{Sampling: ocm.Sampling{Method: method, K: k, Spacing: sampler.Even, Cov: cov}, N: cfg.Samples, Seed: seed}
		pts, el, err := timedSample(dev, m, sc)
		if err != nil {
			return r, err
		}
		secs += el
		ref := m.Mix.Sample(rand.New(rand.NewPCG(seed, 77)), cfg.Samples)
		r.Values = append(r.Values, metrics.MMD2(pts, ref, bw))
	}
	r.Mean, r.Std = meanStd(r.Values)
	r.Seconds = secs
	return r, nil
}

func meanStd(v []float64) (float64, float64) {
	mu := mean(v)
	if len(v) < 2 {
		return mu, 0
	}
	s := 0.0
	for _, x := range v {
		s += (x - mu) * (x - mu)
	}
	return mu, math.Sqrt(s / float64(len(v)-1))
}
