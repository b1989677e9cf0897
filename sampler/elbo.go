package sampler

import (
	"fmt"
	"math"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// NELBO returns, for every example of x0 (N, …), the negative evidence lower bound
// −ELBO ≥ −log p(x0) in nats of the DDPM family with K = len(steps) steps (ocm-math §6):
//
//	L_prior = KL(q(x_T|x0) ‖ N(0, I)),  T = steps[K−1]
//	L_st    = KL(q(x_s|x_t, x0) ‖ p(x_s|x_t)) for consecutive (s, t), s ≥ 1, each at an
//	          independent draw x_t ~ q(x_t|x0)
//	L_0     = −log p(x0|x_1), a Gaussian decoder for continuous data
//
// The decoder's mean is x̂0(x_1) and its variance that of the chosen covariance at
// (s, t) = (0, 1): c_1 for the optimal family, T̃B(1,2) for small and β₁ for large.
// Computations after the network are in float64 on the host.
func NELBO(m ocm.Denoiser, s *ocm.Schedule, x0 *rt.Tensor, steps []int, cov ocm.Covariance, clipX0 bool, key philox.Key) ([]float64, error) {
	if len(steps) == 0 || steps[0] != 1 {
		return nil, fmt.Errorf("sampler: nelbo: timesteps must start at 1")
	}
	n, d := x0.Dim(0), x0.Len()/x0.Dim(0)
	x0h := x0.Float64s()
	out := make([]float64, n)
	tEnd := steps[len(steps)-1]
	for i := range n {
		out[i] = priorKL(x0h[i*d:(i+1)*d], s.A[tEnd], s.B[tEnd])
	}
	o := &Options{Method: DDPM, Cov: cov, ClipX0: clipX0}
	times := append([]int{0}, steps...)
	for k := 1; k < len(times); k++ {
		sPrev, t := times[k-1], times[k]
		xt := diffuse(x0, s, t, key.Split(uint64(k)))
		pr, err := m.Predict(xt, t)
		if err != nil {
			return nil, fmt.Errorf("sampler: nelbo: step %d: %w", t, err)
		}
		mu, v := transition(s, o, xt, pr, sPrev, t)
		if sPrev == 0 {
			decoderTerm(out, x0h, mu.Float64s(), decoderVariance(s, cov, v), d)
			continue
		}
		cq0, cqt := s.DDPMMeanCoef(sPrev, t)
		muq := axpby(cq0, x0h, cqt, xt.Float64s())
		klTerm(out, muq, mu.Float64s(), s.TB(sPrev, t), v, d)
	}
	return out, nil
}

// diffuse draws x_t = √A[t]·x0 + √B[t]·ε with ε from key.
func diffuse(x0 *rt.Tensor, s *ocm.Schedule, t int, key philox.Key) *rt.Tensor {
	eps := rt.Random(x0.Device(), rt.Normal, key, 0, x0.Shape()...)
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

// decoderVariance returns the decoder's variance for the last transition (0, 1).
func decoderVariance(s *ocm.Schedule, cov ocm.Covariance, v *variance) *variance {
	switch {
	case cov.Optimal():
		return v // base T̃B(0,1) = 0 and weight 1: σ² = c_1
	case cov == ocm.CovLarge:
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
