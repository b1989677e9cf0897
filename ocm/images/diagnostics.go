package images

import (
	"cmp"
	"maps"
	"slices"

	"ocm/ocm"
	"ocm/sampler/metrics"
)

// CovDiag compares, at one transition s ← t of the NLL, a covariance's predicted
// c_t = diag Cov[x0|x_t] with the error it stands for: the squared error
// (x̂0 − x0)² of the same x̂0 at the same x_t, over every pixel of the NLL's test
// images. Both are the values the KL term of s ← t uses: x̂0 and c_t clamped
// (docs/method.md §6). A c_t below the error costs the KL term
// (x̂0 − x0)²/σ², one above it log σ², so a good estimator has ratio near 1 and r
// well above 0.
type CovDiag struct {
	Cov string `json:"covariance"`
	S   int    `json:"s"`
	T   int    `json:"t"`
	// Corr is the Pearson correlation of c_t and (x̂0 − x0)² over pixels and images:
	// NaN (null) when c_t is the same for every pixel, as analytic's is.
	Corr    float64 `json:"correlation"`
	Ratio   float64 `json:"mean_ratio"`         // mean c_t / mean (x̂0 − x0)²
	MeanC   float64 `json:"mean_c"`             // mean c_t
	MeanErr float64 `json:"mean_squared_error"` // mean (x̂0 − x0)²: the same for every covariance
	Values  int     `json:"values"`             // pixels × images
}

// covDiagnostics accumulates CovDiag for every covariance with a diagonal c_t and
// every transition, in float64, from the values the NELBO's terms use.
type covDiagnostics struct {
	covs []ocm.Covariance
	acc  map[diagKey]*metrics.Correlation
}

// diagKey is a covariance (its index in covs) and a transition s ← t.
type diagKey struct{ j, s, t int }

func newCovDiagnostics(covs []ocm.Covariance) *covDiagnostics {
	return &covDiagnostics{covs: covs, acc: map[diagKey]*metrics.Correlation{}}
}

// add takes one term's x0, x̂0 and c_t (sampler.NELBOOptions.OnCov).
func (d *covDiagnostics) add(j, sPrev, t int, x0, x0hat, c []float64) {
	k := diagKey{j, sPrev, t}
	a, ok := d.acc[k]
	if !ok {
		a = &metrics.Correlation{}
		d.acc[k] = a
	}
	for i, ci := range c {
		e := x0hat[i] - x0[i]
		a.Add(ci, e*e)
	}
}

// rows returns the diagnostics in the order of the reverse process (the largest t
// first), the covariances of a step in table order.
func (d *covDiagnostics) rows() []CovDiag {
	keys := slices.SortedFunc(maps.Keys(d.acc), func(a, b diagKey) int { return cmp.Or(cmp.Compare(b.t, a.t), cmp.Compare(a.j, b.j)) })
	out := make([]CovDiag, len(keys))
	for i, k := range keys {
		a := d.acc[k]
		mc, me := a.Means()
		out[i] = CovDiag{Cov: d.covs[k.j].String(), S: k.s, T: k.t, Corr: a.Pearson(), Ratio: a.MeanRatio(),
			MeanC: mc, MeanErr: me, Values: a.N()}
	}
	return out
}
