package cpu

import "math"

// gnCheck validates the GroupNorm shape arguments and returns the number of
// channels per group.
func gnCheck(op string, n, c, hw, groups int) int {
	if n < 0 || c < 1 || hw < 1 || groups < 1 {
		panic("cpu: " + op + ": invalid shape")
	}
	if c%groups != 0 {
		panic("cpu: " + op + ": groups does not divide channels")
	}
	return c / groups
}

// needLen panics unless len(b) >= want (or b is nil and nilOK).
func needLen(op, name string, b []float32, want int, nilOK bool) {
	if b == nil && nilOK {
		return
	}
	if len(b) < want {
		panic("cpu: " + op + ": " + name + " too short")
	}
}

// GroupNormForward normalises x, an n×c×hw tensor, over groups of c/groups
// consecutive channels. For each sample i and group k (s = i*groups+k) it
// computes, accumulating in float64 over the cpg·hw elements of the group,
//
//	mean[s] = Σ x / (cpg·hw)
//	rstd[s] = 1/sqrt(Σ (x-mean[s])² / (cpg·hw) + eps)   (biased variance)
//
// and writes y = (x-mean[s])*rstd[s]*gamma[ch] + beta[ch] for every element
// of channel ch of the group. gamma and beta may be nil, meaning 1 and 0.
// y may alias x. Work is split across (sample, group) pairs.
func GroupNormForward(y, mean, rstd, x, gamma, beta []float32, n, c, hw, groups int, eps float32) {
	groupNormForward("GroupNormForward", y, mean, rstd, x, gamma, beta, n, c, hw, groups, eps, false)
}

// GroupNormSiLUForward is GroupNormForward followed by SiLU in the same pass:
// y = silu(z) with z the output of GroupNormForward, which is not stored (the
// derivatives recompute it from x and the statistics). y may alias x.
func GroupNormSiLUForward(y, mean, rstd, x, gamma, beta []float32, n, c, hw, groups int, eps float32) {
	groupNormForward("GroupNormSiLUForward", y, mean, rstd, x, gamma, beta, n, c, hw, groups, eps, true)
}

func groupNormForward(op string, y, mean, rstd, x, gamma, beta []float32, n, c, hw, groups int, eps float32, silu bool) {
	cpg := gnCheck(op, n, c, hw, groups)
	size := n * c * hw
	needLen(op, "y", y, size, false)
	needLen(op, "x", x, size, false)
	needLen(op, "mean", mean, n*groups, false)
	needLen(op, "rstd", rstd, n*groups, false)
	needLen(op, "gamma", gamma, c, true)
	needLen(op, "beta", beta, c, true)
	gs := cpg * hw
	ParallelFor(n*groups, chunkFor(gs), func(lo, hi int) {
		for s := lo; s < hi; s++ {
			xs := x[s*gs : (s+1)*gs]
			// One pass over data shifted by its first element:
			// in float64 the cancellation in E[d²]-E[d]² is
			// harmless unless x[0] is ~1e4 std from the mean.
			s1, s2 := shiftedMoments64(xs, xs[0])
			d := s1 / float64(gs)
			m := float64(xs[0]) + d
			v := max(s2/float64(gs)-d*d, 0)
			mf := float32(m)
			rs := float32(1 / math.Sqrt(v+float64(eps)))
			mean[s], rstd[s] = mf, rs
			c0 := (s % groups) * cpg
			for j := range cpg {
				a, b := gnAffine(gamma, beta, c0+j, rs)
				o := s*gs + j*hw
				gnScale(y[o:o+hw], x[o:o+hw], mf, a, b)
				if silu {
					SiLU(y[o:o+hw], y[o:o+hw])
				}
			}
		}
	})
}

// gnAffine returns the scale rstd·gamma[ch] and shift beta[ch] that map x − mean
// to GroupNorm's output in channel ch (gamma, beta nil: 1 and 0).
func gnAffine(gamma, beta []float32, ch int, rs float32) (a, b float32) {
	a = rs
	if gamma != nil {
		a *= gamma[ch]
	}
	if beta != nil {
		b = beta[ch]
	}
	return a, b
}

// gnSiLUGrad overwrites dz (one group: cpg channels of hw values) with
// dy·silu′(z), z = (x − m)·a + b recomputed per channel with gnAffine's a, b.
func gnSiLUGrad(dz, dy, x, gamma, beta []float32, c0, cpg, hw int, m, rs float32) {
	for j := range cpg {
		a, b := gnAffine(gamma, beta, c0+j, rs)
		z := dz[j*hw : (j+1)*hw]
		gnScale(z, x[j*hw:(j+1)*hw], m, a, b)
		SiLUGrad(z, z, dy[j*hw:(j+1)*hw])
	}
}

// GroupNormBackward is the reverse-mode derivative of GroupNormForward,
// given the mean and rstd it stored. With xhat = (x-mean)*rstd,
// g = dy*gamma[ch] and mean_group the mean over the cpg·hw elements of a
// (sample, group), it overwrites
//
//	dx = rstd*(g - mean_group(g) - xhat*mean_group(g*xhat))
//
// and, when non-nil, accumulates dgamma[ch] += Σ_{n,hw} dy*xhat and
// dbeta[ch] += Σ_{n,hw} dy. gamma nil means all ones. Sums are accumulated
// in float64. dx may alias dy. Work is split across (sample, group) pairs.
func GroupNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma []float32, n, c, hw, groups int) {
	groupNormBackward("GroupNormBackward", dx, dgamma, dbeta, dy, x, mean, rstd, gamma, nil, n, c, hw, groups, false)
}

// GroupNormSiLUBackward is the reverse-mode derivative of GroupNormSiLUForward:
// GroupNormBackward applied to dz = dy·silu′(z), with z recomputed from x, the
// statistics, gamma and beta (nil: 1 and 0), a group at a time. dx may alias dy.
func GroupNormSiLUBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, beta []float32, n, c, hw, groups int) {
	groupNormBackward("GroupNormSiLUBackward", dx, dgamma, dbeta, dy, x, mean, rstd, gamma, beta, n, c, hw, groups, true)
}

func groupNormBackward(op string, dx, dgamma, dbeta, dy, x, mean, rstd, gamma, beta []float32, n, c, hw, groups int, silu bool) {
	cpg := gnCheck(op, n, c, hw, groups)
	size := n * c * hw
	needLen(op, "dx", dx, size, false)
	needLen(op, "dy", dy, size, false)
	needLen(op, "x", x, size, false)
	needLen(op, "mean", mean, n*groups, false)
	needLen(op, "rstd", rstd, n*groups, false)
	needLen(op, "gamma", gamma, c, true)
	needLen(op, "beta", beta, c, true)
	needLen(op, "dgamma", dgamma, c, true)
	needLen(op, "dbeta", dbeta, c, true)
	gs := cpg * hw
	// Per-(sample, channel) Σ dy*xhat and Σ dy, for dgamma and dbeta.
	var sdg, sdb []float64
	if dgamma != nil || dbeta != nil {
		sdg = make([]float64, n*c)
		sdb = make([]float64, n*c)
	}
	ParallelFor(n*groups, chunkFor(2*gs), func(lo, hi int) {
		var dz []float32
		if silu {
			dz = Scratch(gs)
			defer PutScratch(dz)
		}
		for s := lo; s < hi; s++ {
			mf, rs := mean[s], rstd[s]
			c0 := (s % groups) * cpg
			g, xs := dy[s*gs:(s+1)*gs], x[s*gs:(s+1)*gs]
			if silu {
				gnSiLUGrad(dz, g, xs, gamma, beta, c0, cpg, hw, mf, rs)
				g = dz
			}
			var sg, sgx float64 // Σ g and Σ g*xhat over the group
			for j := range cpg {
				o := j * hw
				sd, sdxc := sumDot64(g[o:o+hw], xs[o:o+hw], mf)
				sdxc *= float64(rs)
				if sdg != nil {
					sdg[s*cpg+j], sdb[s*cpg+j] = sdxc, sd
				}
				if gamma != nil {
					gj := float64(gamma[c0+j])
					sd *= gj
					sdxc *= gj
				}
				sg += sd
				sgx += sdxc
			}
			mg := float32(sg / float64(gs))
			mgx := float32(sgx / float64(gs))
			b, cc := -rs*rs*mgx, -rs*mg
			for j := range cpg {
				a, _ := gnAffine(gamma, nil, c0+j, rs)
				o := j * hw
				gnCombine(dx[s*gs+o:s*gs+o+hw], g[o:o+hw], xs[o:o+hw], mf, a, b, cc)
			}
		}
	})
	gnParamGrads(dgamma, dbeta, sdg, sdb, n, c)
}

// gnParamGrads adds the per-(sample, channel) sums sdg, sdb (nil: none) over the
// samples into dgamma and dbeta (each may be nil).
func gnParamGrads(dgamma, dbeta []float32, sdg, sdb []float64, n, c int) {
	if sdg == nil {
		return
	}
	for ch := range c {
		var g, b float64
		for i := range n {
			g += sdg[i*c+ch]
			b += sdb[i*c+ch]
		}
		if dgamma != nil {
			dgamma[ch] += float32(g)
		}
		if dbeta != nil {
			dbeta[ch] += float32(b)
		}
	}
}

// GroupNormTangent is the forward-mode derivative of GroupNormForward, given
// the mean and rstd it stored: for input tangent tx and parameter tangents
// tgamma, tbeta (nil means zero) it overwrites
//
//	ty = gamma*rstd*(tx - mean_group(tx) - xhat*mean_group(tx*xhat)) + tgamma*xhat + tbeta
//
// with xhat = (x-mean)*rstd, mean_group over the cpg·hw elements of a
// (sample, group), accumulated in float64. gamma nil means all ones. ty may
// alias tx. Work is split across (sample, group) pairs.
func GroupNormTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma []float32, n, c, hw, groups int) {
	groupNormTangent("GroupNormTangent", ty, tx, tgamma, tbeta, x, mean, rstd, gamma, nil, n, c, hw, groups, false)
}

// GroupNormSiLUTangent is the forward-mode derivative of GroupNormSiLUForward:
// GroupNormTangent's tz times silu′(z), with z recomputed from x, the statistics,
// gamma and beta (nil: 1 and 0). ty may alias tx.
func GroupNormSiLUTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma, beta []float32, n, c, hw, groups int) {
	groupNormTangent("GroupNormSiLUTangent", ty, tx, tgamma, tbeta, x, mean, rstd, gamma, beta, n, c, hw, groups, true)
}

func groupNormTangent(op string, ty, tx, tgamma, tbeta, x, mean, rstd, gamma, beta []float32, n, c, hw, groups int, silu bool) {
	cpg := gnCheck(op, n, c, hw, groups)
	size := n * c * hw
	needLen(op, "ty", ty, size, false)
	needLen(op, "tx", tx, size, false)
	needLen(op, "x", x, size, false)
	needLen(op, "mean", mean, n*groups, false)
	needLen(op, "rstd", rstd, n*groups, false)
	needLen(op, "gamma", gamma, c, true)
	needLen(op, "beta", beta, c, true)
	needLen(op, "tgamma", tgamma, c, true)
	needLen(op, "tbeta", tbeta, c, true)
	gs := cpg * hw
	ParallelFor(n*groups, chunkFor(2*gs), func(lo, hi int) {
		var z []float32
		if silu {
			z = Scratch(hw)
			defer PutScratch(z)
		}
		for s := lo; s < hi; s++ {
			mf, rs := mean[s], rstd[s]
			c0 := (s % groups) * cpg
			var st, stx float64 // Σ tx and Σ tx*(x-mean) over the group
			for j := range cpg {
				o := s*gs + j*hw
				a, b := sumDot64(tx[o:o+hw], x[o:o+hw], mf)
				st += a
				stx += b
			}
			mt := float32(st / float64(gs))
			mtx := float32(stx * float64(rs) / float64(gs))
			for j := range cpg {
				ch := c0 + j
				tg, tb := float32(0), float32(0)
				if tgamma != nil {
					tg = tgamma[ch]
				}
				if tbeta != nil {
					tb = tbeta[ch]
				}
				a, _ := gnAffine(gamma, nil, ch, rs)
				o := s*gs + j*hw
				gnCombine(ty[o:o+hw], tx[o:o+hw], x[o:o+hw], mf, a, rs*(tg-a*mtx), tb-a*mt)
				if silu {
					za, zb := gnAffine(gamma, beta, ch, rs)
					gnScale(z, x[o:o+hw], mf, za, zb)
					SiLUGrad(ty[o:o+hw], z, ty[o:o+hw])
				}
			}
		}
	})
}

// shiftedMoments64 returns Σ (x-k) and Σ (x-k)², accumulated in float64: sixteen
// partial sums by lane (AVX-512 where gnVector says, the same additions in Go
// otherwise), added in lane order, then the tail.
func shiftedMoments64(x []float32, k float32) (s1, s2 float64) {
	kk := float64(k)
	n16 := len(x) &^ 15
	var acc [32]float64
	switch {
	case n16 == 0:
	case gnVector:
		moments16AVX512(&x[0], n16, kk, &acc)
	default:
		for i := 0; i < n16; i += 16 {
			for l, v := range x[i : i+16] {
				d := float64(v) - kk
				acc[l] += d
				acc[16+l] += float64(d * d) // the conversion rules out a fused multiply-add
			}
		}
	}
	s1, s2 = sumLanes(&acc)
	for _, v := range x[n16:] {
		d := float64(v) - kk
		s1 += d
		s2 += float64(d * d)
	}
	return s1, s2
}

// sumDot64 returns Σ d and Σ d*(x-m), accumulated in float64 as shiftedMoments64
// does; len(x) >= len(d).
func sumDot64(d, x []float32, m float32) (sd, sdx float64) {
	x = x[:len(d)]
	mm := float64(m)
	n16 := len(d) &^ 15
	var acc [32]float64
	switch {
	case n16 == 0:
	case gnVector:
		sumDot16AVX512(&d[0], &x[0], n16, mm, &acc)
	default:
		for i := 0; i < n16; i += 16 {
			xs := x[i : i+16]
			for l, v := range d[i : i+16] {
				acc[l] += float64(v)
				acc[16+l] += float64(float64(v) * (float64(xs[l]) - mm))
			}
		}
	}
	sd, sdx = sumLanes(&acc)
	for i, v := range d[n16:] {
		sd += float64(v)
		sdx += float64(float64(v) * (float64(x[n16+i]) - mm))
	}
	return sd, sdx
}

// sumLanes adds the two sets of sixteen lane sums of acc, each in lane order.
func sumLanes(acc *[32]float64) (a, b float64) {
	for l := range 16 {
		a += acc[l]
		b += acc[16+l]
	}
	return a, b
}

// gnScale computes y[i] = (x[i]-m)*a + b; len(x) == len(y).
func gnScale(y, x []float32, m, a, b float32) {
	y = y[:len(x)]
	if gnVector && len(x) > 0 {
		gnScaleAVX512(&y[0], &x[0], len(x), m, a, b)
		return
	}
	for i, v := range x {
		y[i] = (v-m)*a + b
	}
}

// gnCombine computes dst[i] = a*d[i] + b*(x[i]-m) + c;
// len(d) == len(x) == len(dst).
func gnCombine(dst, d, x []float32, m, a, b, c float32) {
	d = d[:len(dst)]
	x = x[:len(dst)]
	if gnVector && len(dst) > 0 {
		gnCombineAVX512(&dst[0], &d[0], &x[0], len(dst), m, a, b, c)
		return
	}
	for i := range dst {
		dst[i] = a*d[i] + b*(x[i]-m) + c
	}
}
