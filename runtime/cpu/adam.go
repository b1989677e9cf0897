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
	c := adamConsts{weightDecay, beta1, 1 - beta1, beta2, 1 - beta2, stepSize, rbc2, eps}
	loop := adamLoop
	if adamAVX512 != nil {
		loop = adamAVX512
	}
	ParallelFor(n, parallelMinWork, func(lo, hi int) {
		loop(p[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], &c)
	})
}

// adamConsts are the per-step constants of the Adam loop (layout shared
// with the assembly kernel).
type adamConsts struct {
	wd, beta1, omb1, beta2, omb2, stepSize, rbc2, eps float32
}

// adamLoop is the portable Adam update over equal-length slices.
func adamLoop(pp, gg, mm, vv []float32, c *adamConsts) {
	gg, mm, vv = gg[:len(pp)], mm[:len(pp)], vv[:len(pp)]
	wd, beta1, omb1, beta2, omb2, stepSize, rbc2, eps := c.wd, c.beta1, c.omb1, c.beta2, c.omb2, c.stepSize, c.rbc2, c.eps
	for i, pi := range pp {
		gi := gg[i] + wd*pi
		mi := beta1*mm[i] + omb1*gi
		vi := beta2*vv[i] + omb2*gi*gi
		mm[i], vv[i] = mi, vi
		pp[i] = pi - stepSize*mi/(float32(math.Sqrt(float64(vi)))*rbc2+eps)
	}
}
