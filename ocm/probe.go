package ocm

import (
	"math"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// DefaultProbes is the number of Rademacher probes per denoiser call of the
// ocm-probe covariance, as the reference code's head-free estimator (ocm-math §3.6).
const DefaultProbes = 100

// probeExamples bounds the examples (probes × batch) of one JVP call of ocm-probe.
const probeExamples = 256

// streamCovProbe is the stream of ocm-probe's probe keys under the sampling seed.
const streamCovProbe = 0x6f636d2d70726f62 // "ocm-prob"

// ProbeKey is the Philox key of probe m of ocm-probe at step t under seed: the same
// seed, step and probe index give the same ±1 values, whatever the batching.
func ProbeKey(seed uint64, t, m int) philox.Key {
	return philox.Key{Seed: seed, Stream: streamCovProbe}.Split(uint64(t)).Split(uint64(m))
}

// probeDiag estimates h = B[t]·diag H(x_t) = −√B[t]·diag J_ε(x_t) with the
// Hutchinson estimator −√B[t]·(1/M) Σ_m v_m ⊙ (J_ε v_m) over M fresh Rademacher
// probes through the frozen teacher (ocm-math §3.1, §3.6): the OCM head's
// regression target averaged over M probes, so c = (B/A)(1 + h) as for the head.
func (p *Predictor) probeDiag(x *rt.Tensor, n []int) *rt.Tensor {
	m := p.Probes
	if m <= 0 {
		m = DefaultProbes
	}
	t := n[0]
	_, _, sum := probeSum(p.Teacher, x, n, m, func(j int) philox.Key { return ProbeKey(p.Seed, t, j) })
	return rt.Scale(sum, float32(-math.Sqrt(p.Sched.B[t])/float64(m)))
}

// probeSum runs the teacher's forward-mode JVP at x (steps n) with m Rademacher
// probes, probe j drawn from keyOf(j), and returns the primal outputs of the first
// probe's pass (ε̂ and the features at x) and Σ_j v_j ⊙ (J_ε v_j). Several probes
// share one pass of up to probeExamples examples (x repeated, the probes
// concatenated); a probe's values depend on its key only, whatever the batching.
func probeSum(t Teacher, x *rt.Tensor, n []int, m int, keyOf func(j int) philox.Key) (eps, features, sum *rt.Tensor) {
	b := x.Dim(0)
	group := max(1, min(m, probeExamples/max(b, 1)))
	for lo := 0; lo < m; lo += group {
		g := min(group, m-lo)
		xs, vs := make([]*rt.Tensor, g), make([]*rt.Tensor, g)
		ns := make([]int, 0, g*b)
		for j := range g {
			xs[j] = x
			vs[j] = rt.Random(x.Device(), rt.Rademacher, keyOf(lo+j), 0, x.Shape()...)
			ns = append(ns, n...)
		}
		xg, vg := xs[0], vs[0]
		if g > 1 {
			xg, vg = rt.Concat(0, xs...), rt.Concat(0, vs...)
		}
		e, f, jv := t.Predict(xg, ns, vg)
		if lo == 0 {
			eps, features = firstExamples(e, b), firstExamples(f, b)
		}
		prod := rt.Mul(vg, jv)
		for j := range g {
			part := prod
			if g > 1 {
				part = rt.Slice(prod, 0, j*b, (j+1)*b)
			}
			sum = addOrSet(sum, part)
		}
	}
	return eps, features, sum
}

// firstExamples is the first b examples of x (x itself when it has b).
func firstExamples(x *rt.Tensor, b int) *rt.Tensor {
	if x.Dim(0) == b {
		return x
	}
	return rt.Slice(x, 0, 0, b)
}
