package sampler

import (
	"fmt"
	"math"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// NELBOOptions configures NELBO and NELBOs.
type NELBOOptions struct {
	// ClipX0 clamps x̂0 to [−1, 1] and a diagonal c_t to [0, 1] before they enter the
	// means and variances: clip_x0 and clip_cov_x0 of ocm-math §4.5, both on for the
	// image likelihood of §6. A full covariance (CovExactFull) is never clamped.
	ClipX0 bool
	// Discrete selects the decoder of ocm-math §6 for data on the 256-level grid in
	// [−1, 1]: a discretised Gaussian per pixel with mean x̂0(x_1) and the variance fixed
	// to T̃B(1,2) for every covariance. Without it the decoder is a continuous Gaussian
	// (toy data) whose variance is that of the covariance at (s, t) = (0, 1).
	Discrete bool
	// Offset is the index of x0's first example in the whole evaluation set, so that a
	// set split into batches gets the noise of one big batch.
	Offset int
	// OnTerm, when set, is called after every term but the prior with the index of the
	// denoiser, the transition t → sPrev (sPrev = 0: the decoder) and the term of
	// every example in nats. The terms and the prior KL add up to the NELBO.
	OnTerm func(j, sPrev, t int, term []float64)
	// OnCov, when set, is called for every term whose variance uses a diagonal c_t
	// (the KL terms, and the continuous decoder; the discretised decoder's variance is
	// fixed) with the index of the denoiser, the transition t → sPrev, and x0, x̂0
	// and c_t on the host (N·D values each) exactly as the term uses them: clamped
	// with ClipX0. It costs no network pass; the slices must not be changed or kept.
	OnCov func(j, sPrev, t int, x0, x0hat, c []float64)
}

// PriorKL returns KL(q(x_T|x0) ‖ N(0, I)) in nats for every example of x0 (N, …), the
// prior term of NELBO with T = steps[K−1].
func PriorKL(s *Schedule, x0 *rt.Tensor, tEnd int) []float64 {
	n, d := x0.Dim(0), x0.Len()/x0.Dim(0)
	x0h := x0.Float64s()
	prior := make([]float64, n)
	for i := range n {
		prior[i] = priorKL(x0h[i*d:(i+1)*d], s.A[tEnd], s.B[tEnd])
	}
	return prior
}

// NELBO returns, for every example of x0 (N, …), the negative evidence lower bound
// −ELBO ≥ −log p(x0) in nats of the DDPM family with K = len(steps) steps and the
// covariance cov supplied by m (ocm-math §6):
//
//	L_prior = KL(q(x_T|x0) ‖ N(0, I)),  T = steps[K−1]
//	L_st    = KL(q(x_s|x_t, x0) ‖ p(x_s|x_t)) for consecutive (s, t), s ≥ 1, each at an
//	          independent draw x_t ~ q(x_t|x0)
//	L_0     = −log p(x0|x_1)
//
// The decoder p(x0|x_1) has mean x̂0(x_1). With o.Discrete it is the discretised
// Gaussian of §6 with variance T̃B(1,2) whatever the covariance; otherwise a continuous
// Gaussian with variance c_1 for the optimal family, T̃B(1,2) for small and β₁ for
// large. Everything after the network is computed in float64 on the host.
//
// NELBO is NELBOs with one denoiser; the same key gives the same noise in both.
func NELBO(m Denoiser, s *Schedule, x0 *rt.Tensor, steps []int, cov Variance, o NELBOOptions, key philox.Key) ([]float64, error) {
	out, err := NELBOs([]Denoiser{m}, []Variance{cov}, s, x0, steps, o, key)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// NELBOs returns NELBO for several denoisers (one covariance each) at once: out[j][i]
// is the negative ELBO of example i under ds[j] with covariance covs[j].
//
// Every term draws its x_t once, and every denoiser's Predict is called on that same
// tensor (the same pointer) and the same t, in the order of ds, before the next term
// is drawn. A teacher shared by the denoisers can therefore cache its network output
// per (tensor, t) and run the backbone once per term for all covariances. The terms
// draw the same noise as NELBO with the same key, so out[j] equals
// NELBO(ds[j], …, covs[j], o, key).
func NELBOs(ds []Denoiser, covs []Variance, s *Schedule, x0 *rt.Tensor, steps []int, o NELBOOptions, key philox.Key) ([][]float64, error) {
	if err := checkNELBOArgs(ds, covs, s, x0, steps); err != nil {
		return nil, fmt.Errorf("sampler: nelbo: %w", err)
	}
	n, d := x0.Dim(0), x0.Len()/x0.Dim(0)
	x0h := x0.Float64s()
	if o.Discrete {
		if err := checkGrid(x0h, d); err != nil {
			return nil, fmt.Errorf("sampler: nelbo: discrete decoder: %w", err)
		}
	}
	prior := PriorKL(s, x0, steps[len(steps)-1])
	out := make([][]float64, len(ds))
	for j := range out {
		out[j] = append([]float64(nil), prior...)
	}
	times := append([]int{0}, steps...)
	for k := 1; k < len(times); k++ {
		sPrev, t := times[k-1], times[k]
		xt := diffuse(x0, s, t, key.Split(uint64(k)), uint64(o.Offset*d))
		xth := xt.Float64s()
		for j, m := range ds {
			pr, err := m.Predict(xt, t)
			if err != nil {
				return nil, fmt.Errorf("sampler: nelbo: %v variance, step %d: %w", covs[j], t, err)
			}
			term := make([]float64, n)
			x0hat, c, err := addTerm(term, s, covs[j], o, pr, x0h, xth, sPrev, t, d)
			if err != nil {
				return nil, fmt.Errorf("sampler: nelbo: %v variance, step %d: %w", covs[j], t, err)
			}
			if o.OnCov != nil && c != nil {
				o.OnCov(j, sPrev, t, x0h, x0hat, c)
			}
			for i, v := range term {
				out[j][i] += v
			}
			if o.OnTerm != nil {
				o.OnTerm(j, sPrev, t, term)
			}
		}
	}
	return out, nil
}

// BitsPerDim converts a negative log-likelihood (or NELBO) of one example in nats to
// bits per dimension, nats/(dims·ln 2), with dims = C·H·W for images (ocm-math §6).
func BitsPerDim(nats float64, dims int) float64 {
	return nats / (float64(dims) * math.Ln2)
}

// checkNELBOArgs validates the arguments of NELBOs.
func checkNELBOArgs(ds []Denoiser, covs []Variance, s *Schedule, x0 *rt.Tensor, steps []int) error {
	if len(ds) == 0 || len(ds) != len(covs) {
		return fmt.Errorf("need one covariance per denoiser, got %d denoisers and %d covariances", len(ds), len(covs))
	}
	if len(steps) == 0 || steps[0] != 1 {
		return fmt.Errorf("timesteps must start at 1")
	}
	if err := checkIncreasing(steps); err != nil {
		return err
	}
	if steps[len(steps)-1] > s.N {
		return fmt.Errorf("timesteps must end at most at %d, got %d", s.N, steps[len(steps)-1])
	}
	if x0.Rank() == 0 || x0.Dim(0) == 0 || x0.Len() == 0 {
		return fmt.Errorf("need a non-empty batch, got shape %v", x0.Shape())
	}
	return nil
}

// checkIncreasing reports an error unless the timesteps strictly increase.
func checkIncreasing(steps []int) error {
	for k := 1; k < len(steps); k++ {
		if steps[k] <= steps[k-1] {
			return fmt.Errorf("timesteps must increase, got %d after %d", steps[k], steps[k-1])
		}
	}
	return nil
}

// gridTol is how far (in grid steps) a value may lie from the 256-level grid: float32
// images 2u/255 − 1 are off by about 1e-5 steps.
const gridTol = 1e-3

// checkGrid reports an error unless every value lies on the 256-level grid in [−1, 1].
func checkGrid(x []float64, d int) error {
	for i, v := range x {
		u := (v + 1) * 127.5
		if !(u >= -gridTol && u <= 255+gridTol && math.Abs(u-math.Round(u)) <= gridTol) {
			return fmt.Errorf("example %d value %d is %v, not on the 256-level grid in [-1, 1]", i/d, i%d, v)
		}
	}
	return nil
}

// addTerm adds the term of the transition t → sPrev to out, from the prediction pr at
// x_t (xth on the host): the decoder for sPrev = 0, else the KL term. It returns the
// x̂0 the term used and, when the term's variance has a diagonal c_t, that c_t.
func addTerm(out []float64, s *Schedule, cov Variance, o NELBOOptions, pr *Prediction,
	x0h, xth []float64, sPrev, t, d int) (x0hat, c []float64, err error) {
	if x0hat, err = hostX0(s, pr, xth, t, o.ClipX0); err != nil {
		return nil, nil, err
	}
	if sPrev == 0 && o.Discrete {
		discreteDecoderTerm(out, x0h, x0hat, s.TB(1, 2), d)
		return x0hat, nil, nil
	}
	v, err := reverseVariance(s, cov, pr, sPrev, t, o.ClipX0, len(xth), d)
	if err != nil {
		return nil, nil, err
	}
	if sPrev == 0 {
		// DDPMMeanCoef(0, 1) = (1, 0): the mean is x̂0.
		decoderTerm(out, x0h, x0hat, decoderVariance(s, cov, v), d)
		return x0hat, v.host, nil
	}
	cx0, cxt := s.DDPMMeanCoef(sPrev, t)
	klTerm(out, axpby(cx0, x0h, cxt, xth), axpby(cx0, x0hat, cxt, xth), s.TB(sPrev, t), v, d)
	return x0hat, v.host, nil
}

// hostX0 returns x̂0 in float64: the exact mean when the prediction has one, else
// x_t/√A − √(B/A)·ε̂; clamped to [−1, 1] with clip (ocm-math §2, §4.5).
func hostX0(s *Schedule, pr *Prediction, xth []float64, t int, clip bool) ([]float64, error) {
	var x0 []float64
	switch {
	case pr.X0 != nil:
		if pr.X0.Len() != len(xth) {
			return nil, fmt.Errorf("predicted x0 has %d values, x_t %d", pr.X0.Len(), len(xth))
		}
		x0 = pr.X0.Float64s()
	case pr.Eps != nil:
		if pr.Eps.Len() != len(xth) {
			return nil, fmt.Errorf("predicted eps has %d values, x_t %d", pr.Eps.Len(), len(xth))
		}
		cxt, ceps := s.X0Coef(t)
		x0 = pr.Eps.Float64s()
		for i, e := range x0 {
			x0[i] = cxt*xth[i] - ceps*e
		}
	default:
		return nil, fmt.Errorf("prediction has neither eps nor x0")
	}
	if clip {
		for i, v := range x0 {
			x0[i] = min(max(v, -1), 1)
		}
	}
	return x0, nil
}

// reverseVariance returns the DDPM variance of p(x_sPrev|x_t) for cov (ocm-math §4.3),
// with the diagonal c_t on the host, clamped to [0, 1] with clip.
func reverseVariance(s *Schedule, cov Variance, pr *Prediction, sPrev, t int, clip bool, size, d int) (*variance, error) {
	switch {
	case cov == Small:
		return &variance{base: s.TB(sPrev, t)}, nil
	case cov == Large:
		return &variance{base: s.SB(sPrev, t)}, nil
	}
	v := &variance{base: s.TB(sPrev, t), weight: s.DDPMCovWeight(sPrev, t), dim: d}
	if cov == OptimalFull {
		if len(pr.CovFull) != size*d {
			return nil, fmt.Errorf("full covariance has %d values, want %d", len(pr.CovFull), size*d)
		}
		v.full = pr.CovFull
		return v, nil
	}
	if pr.CovDiag == nil || pr.CovDiag.Len() != size {
		return nil, fmt.Errorf("the denoiser supplied no diagonal covariance of %d values", size)
	}
	v.host = pr.CovDiag.Float64s()
	if clip {
		for i, c := range v.host {
			v.host[i] = min(max(c, 0), 1)
		}
	}
	return v, nil
}

// diffuse draws x_t = √A[t]·x0 + √B[t]·ε with ε from key, starting at element offset
// of its stream.
func diffuse(x0 *rt.Tensor, s *Schedule, t int, key philox.Key, offset uint64) *rt.Tensor {
	eps := rt.Random(x0.Device(), rt.Normal, key, offset, x0.Shape()...)
	return rt.Add(rt.Scale(x0, float32(math.Sqrt(s.A[t]))), rt.Scale(eps, float32(math.Sqrt(s.B[t]))))
}

// priorKL is Σ_i KL(N(√A x_i, B) ‖ N(0, 1)).
func priorKL(x []float64, a, b float64) float64 {
	kl := 0.0
	for _, v := range x {
		kl += 0.5 * (a*v*v + b - 1 - math.Log(b))
	}
	return kl
}

// decoderVariance returns the continuous decoder's variance for the last transition
// (0, 1), given v, the covariance's variance there.
func decoderVariance(s *Schedule, cov Variance, v *variance) *variance {
	switch {
	case cov.Optimal():
		return v // base T̃B(0,1) = 0 and weight 1: σ² = c_1
	case cov == Large:
		return &variance{base: s.Beta[1]}
	}
	return &variance{base: s.TB(1, 2)}
}

// decoderTerm adds −log N(x0; mu, Σ) per example.
func decoderTerm(out, x0, mu []float64, v *variance, d int) {
	diff := make([]float64, d)
	for i := range out {
		for a := range d {
			diff[a] = x0[i*d+a] - mu[i*d+a]
		}
		quad, logdet, _ := v.quadForm(i, d, diff)
		out[i] += 0.5 * (quad + logdet + float64(d)*math.Log(2*math.Pi))
	}
}

// binHalfWidth is half the width of a pixel bin of the 256-level grid in [−1, 1].
const binHalfWidth = 1.0 / 255

// logProbFloor bounds the bin probabilities of the discretised Gaussian from below.
const logProbFloor = 1e-12

// discreteDecoderTerm adds −Σ_pixels log DiscGauss(x0; mu, variance) per example
// (ocm-math §6).
func discreteDecoderTerm(out, x0, mu []float64, variance float64, d int) {
	sd := math.Sqrt(variance)
	for i := range out {
		ll := 0.0
		for a := i * d; a < (i+1)*d; a++ {
			ll += discGaussLogProb(x0[a], mu[a], sd)
		}
		out[i] -= ll
	}
}

// discGaussLogProb is the log-probability of x's bin under N(mu, sd²) discretised to
// the 256-level grid in [−1, 1]; the edge bins extend to ±∞ (ocm-math §6).
func discGaussLogProb(x, mu, sd float64) float64 {
	r := (x - mu + binHalfWidth) / sd
	l := (x - mu - binHalfWidth) / sd
	switch {
	case x < -0.999:
		return math.Log(max(approxStdNormalCDF(r), logProbFloor))
	case x > 0.999:
		return math.Log(max(1-approxStdNormalCDF(l), logProbFloor))
	}
	return math.Log(max(approxStdNormalCDF(r)-approxStdNormalCDF(l), logProbFloor))
}

// approxStdNormalCDF is the tanh approximation of Φ used by the reference code:
// Φ(z) ≈ ½(1 + tanh(√(2/π)(z + 0.044715 z³))).
func approxStdNormalCDF(z float64) float64 {
	return 0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(z+0.044715*z*z*z)))
}

// klTerm adds KL(N(muq, varq·I) ‖ N(mup, Σ)) per example.
func klTerm(out, muq, mup []float64, varq float64, v *variance, d int) {
	diff := make([]float64, d)
	for i := range out {
		for a := range d {
			diff[a] = muq[i*d+a] - mup[i*d+a]
		}
		quad, logdet, trInv := v.quadForm(i, d, diff)
		out[i] += 0.5 * (varq*trInv + quad - float64(d) + logdet - float64(d)*math.Log(varq))
	}
}

// quadForm returns diffᵀΣ⁻¹diff, log det Σ and tr Σ⁻¹ for example i's covariance
// Σ = base·I + weight·C (C diagonal or full).
func (v *variance) quadForm(i, d int, diff []float64) (quad, logdet, trInv float64) {
	if v.full != nil {
		sig := make([]float64, d*d)
		v.dim = d
		v.sigmaFull(sig, i)
		quad, logdet = gaussQuad(sig, diff, d)
		for _, x := range invDiagOfInverse(sig, d) {
			trInv += x
		}
		return quad, logdet, trInv
	}
	if v.diag != nil && v.host == nil {
		v.host = v.diag.Float64s()
	}
	for a := range d {
		s2 := v.base
		if v.host != nil {
			s2 += v.weight * v.host[i*d+a]
		}
		quad += diff[a] * diff[a] / s2
		logdet += math.Log(s2)
		trInv += 1 / s2
	}
	return quad, logdet, trInv
}

// gaussQuad returns diffᵀ Σ⁻¹ diff and log det Σ (Cholesky; diagonal Σ is cheap).
func gaussQuad(sig, diff []float64, d int) (quad, logdet float64) {
	l := cholesky(sig, d)
	y := make([]float64, d)
	for a := range d {
		s := diff[a]
		for b := range a {
			s -= l[a*d+b] * y[b]
		}
		y[a] = s / l[a*d+a]
		quad += y[a] * y[a]
		logdet += 2 * math.Log(l[a*d+a])
	}
	return quad, logdet
}

// invDiagOfInverse returns the diagonal of Σ⁻¹.
func invDiagOfInverse(sig []float64, d int) []float64 {
	l := cholesky(sig, d)
	out := make([]float64, d)
	e := make([]float64, d)
	for c := range d {
		clear(e)
		e[c] = 1
		// Solve L y = e, then Σ⁻¹_cc = |y|² restricted: Σ⁻¹ = L⁻ᵀL⁻¹, (Σ⁻¹)_cc = Σ_k (L⁻¹)_kc².
		for a := range d {
			s := e[a]
			for b := range a {
				s -= l[a*d+b] * e[b]
			}
			e[a] = s / l[a*d+a]
		}
		for a := range d {
			out[c] += e[a] * e[a]
		}
	}
	return out
}

func axpby(a float64, x []float64, b float64, y []float64) []float64 {
	out := make([]float64, len(x))
	for i := range x {
		out[i] = a*x[i] + b*y[i]
	}
	return out
}
