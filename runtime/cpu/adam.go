package cpu

import "math"

// AdamStep applies one Adam update (Kingma & Ba 2015, bias-corrected as in
// PyTorch's torch.optim.Adam with its L2-form weight decay) in place to the
// parameters p, given their gradient g and moment buffers m, v:
//
//	gg = g + weightDecay*p
//	m  = beta1*m + (1-beta1)*gg
//	v  = beta2*v + (1-beta2)*gg²
//	p -= lr * (m/(1-beta1^step)) / (sqrt(v/(1-beta2^step)) + eps)
//
// g is not modified; step counts from 1. Elements are split with ParallelFor.
func AdamStep(p, g, m, v []float32, lr, beta1, beta2, eps, weightDecay float32, step int) {
	if step < 1 {
		panic("cpu: AdamStep: step < 1")
	}
	n := len(p)
	if len(g) != n || len(m) != n || len(v) != n {
		panic("cpu: AdamStep: length mismatch")
	}
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	stepSize := float32(float64(lr) / bc1)
	rbc2 := float32(1 / math.Sqrt(bc2))
	ParallelFor(n, parallelMinWork, func(lo, hi int) {
		pp, gg, mm, vv := p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
		gg, mm, vv = gg[:len(pp)], mm[:len(pp)], vv[:len(pp)]
		for i, pi := range pp {
			gi := gg[i] + weightDecay*pi
			mi := beta1*mm[i] + (1-beta1)*gi
			vi := beta2*vv[i] + (1-beta2)*gi*gi
			mm[i], vv[i] = mi, vi
			pp[i] = pi - stepSize*mi/(float32(math.Sqrt(float64(vi)))*rbc2+eps)
		}
	})
}
