package toy

import (
	"encoding/json"
	"math"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// ELBORow is the mean negative ELBO (nats per data point) of one covariance at one K,
// next to the exact negative log-likelihood of the same points.
type ELBORow struct {
	Cov      string  `json:"variance_type"`
	K        int     `json:"steps"`
	NELBO    float64 `json:"nelbo_nats"`
	StdErr   float64 `json:"nelbo_std_err"`
	ExactNLL float64 `json:"exact_nll_nats"`
}

// elboCovariances are the DDPM covariances of the likelihood table.
var elboCovariances = []ocm.Covariance{ocm.CovSmall, ocm.CovLarge, ocm.CovAnalytic, ocm.CovSN, ocm.CovNPR,
	ocm.CovOCM, ocm.CovOCMProbe, ocm.CovExactDiag, ocm.CovExactFull}

// ELBOTable computes the negative ELBO of every DDPM covariance on n data points.
func ELBOTable(dev rt.Device, m *Model, ks []int, n int, seed uint64, probes int, prog Progress) ([]ELBORow, error) {
	x0 := ocm.MixtureData{Mix: m.Mix, Seed: seed}.Batch(dev, 0, n)
	nll := exactNLL(m, x0)
	var out []ELBORow
	covs := withoutProbe(elboCovariances, probes)
	for _, cov := range covs {
		for _, k := range ks {
			steps, err := sampler.Timesteps(sampler.Even, m.Sched.N, k)
			if err != nil {
				return nil, err
			}
			p := m.Predictor(cov, false)
			p.Seed, p.Probes = seed, probes
			v, err := sampler.NELBO(p, m.Sched, x0, steps, cov.Variance(), sampler.NELBOOptions{}, philox.Key{Seed: seed, Stream: 5})
			if err != nil {
				return nil, err
			}
			mu, sd := meanStd(v)
			out = append(out, ELBORow{Cov: cov.String(), K: k, NELBO: mu, StdErr: sd / math.Sqrt(float64(len(v))), ExactNLL: nll})
			if prog != nil {
				prog("likelihood table", len(out), len(ks)*len(covs), mu)
			}
		}
	}
	return out, nil
}

// exactNLL is the mean −log p(x0) under the mixture.
func exactNLL(m *Model, x0 *rt.Tensor) float64 {
	d := m.Mix.Dim
	xs := x0.Float64s()
	s := 0.0
	for i := range len(xs) / d {
		s -= m.Mix.LogPdf(xs[i*d : (i+1)*d])
	}
	return s / float64(len(xs)/d)
}

// MarshalJSON writes a non-finite NELBO or standard error (an optimal variance of 0
// in the decoder makes the bound infinite) as null: JSON has no NaN.
func (r ELBORow) MarshalJSON() ([]byte, error) {
	finite := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		Cov      string   `json:"variance_type"`
		K        int      `json:"steps"`
		NELBO    *float64 `json:"nelbo_nats"`
		StdErr   *float64 `json:"nelbo_std_err"`
		ExactNLL *float64 `json:"exact_nll_nats"`
	}{r.Cov, r.K, finite(r.NELBO), finite(r.StdErr), finite(r.ExactNLL)})
}
