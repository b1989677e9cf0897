package sampler

import (
	"fmt"

	rt "ocm/runtime"
)

// Variance names the family of reverse-step variances the sampler applies
// (ocm-math §4.3). Which estimator supplied c_t is the caller's business: the sampler
// only needs to know whether there is one, and whether it is full.
type Variance int

// Reverse-step variance families.
const (
	Small       Variance = iota // σ² = T̃B(s,t), the DDPM posterior variance
	Large                       // σ² = SB(s,t)
	Optimal                     // σ² = T̃B(s,t) + w·c_t, with c_t diagonal (Prediction.CovDiag)
	OptimalFull                 // the same with the full c_t (Prediction.CovFull)
)

// String is the variance family's name.
func (v Variance) String() string {
	switch v {
	case Small:
		return "small"
	case Large:
		return "large"
	case Optimal:
		return "optimal"
	case OptimalFull:
		return "optimal-full"
	}
	return fmt.Sprintf("Variance(%d)", int(v))
}

// Optimal reports whether the variance needs c_t from the Denoiser.
func (v Variance) Optimal() bool { return v == Optimal || v == OptimalFull }

// Prediction is what a reverse step needs from the model at one step t.
type Prediction struct {
	Eps     *rt.Tensor // ε̂ (N, …)
	X0      *rt.Tensor // E[x0|x_t] when known exactly (mixtures), else nil: derived from Eps
	CovDiag *rt.Tensor // c_t ≥ 0, the shape of x; nil for Small and Large
	CovFull []float64  // (N, D, D) full Cov[x0|x_t] on the host, for OptimalFull only
}

// Denoiser predicts ε̂ and, for the optimal variances, c_t for a batch x_t at step t.
type Denoiser interface {
	Predict(x *rt.Tensor, t int) (*Prediction, error)
}
