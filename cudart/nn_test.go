package cudart

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"ocm/runtime"
)

// The nn.ptx kernels (reductions, GroupNorm forward, backward and tangent, softmax and
// its backward) in the PTX simulator against runtime.CPU: equal to the last bit but for
// the rare float64 → float32 rounding difference (tolerance 1 ulp-ish), with no host
// fallback.
func TestFakeDeviceNN(t *testing.T) {
	d := newFakeDevice(t)
	r := rand.New(rand.NewPCG(31, 32))
	cmp := func(what string, p pair) { compare(t, what, d, p, 1e-7, 2e-7) }
	for _, c := range []struct {
		shape []int
		red   []bool
	}{
		{[]int{2, 3, 4, 5}, []bool{true, false, true, false}},
		{[]int{2, 3, 4, 5}, []bool{false, true, false, true}},
		{[]int{6, 7}, []bool{true, false}},
		{[]int{6, 7}, []bool{true, true}},
		{[]int{1, 5, 1, 3}, []bool{true, false, true, true}},
		{[]int{4, 1, 9}, []bool{false, true, false}},
		{[]int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2}, []bool{true, false, true, false, true, false, true, false, true, false}},
		{[]int{8, 3, 1000}, []bool{true, false, true}}, // long: two passes, 8 parts of 1000
		{[]int{5000}, []bool{true}},
	} {
		n, out := numel(c.shape), 1
		for i, s := range c.shape {
			if !c.red[i] {
				out *= s
			}
		}
		x := randn(r, n, 2)
		x[n/2] = float32(math.NaN())
		for _, op := range []runtime.ReduceOp{runtime.ReduceSum, runtime.ReduceMax} {
			xp, o := newPair(d, x), newPair(d, make([]float32, out))
			d.Reduce(op, o.g, xp.g, c.shape, c.red)
			cpuDev.Reduce(op, o.c, xp.c, c.shape, c.red)
			cmp(fmt.Sprintf("reduce %s %v %v", op, c.shape, c.red), o)
		}
	}
	for _, g := range []*runtime.GroupNormArgs{{N: 2, C: 6, HW: 7, Groups: 3, Eps: 1e-5}, {N: 3, C: 4, HW: 16, Groups: 1, Eps: 1e-3}} {
		size, rows := g.N*g.C*g.HW, g.N*g.Groups
		for _, affine := range []bool{true, false} {
			what := fmt.Sprintf("%+v affine=%v", *g, affine)
			x := newPair(d, randn(r, size, 3))
			var gamma, beta, dgamma, dbeta pair
			if affine {
				gamma, beta = newPair(d, randn(r, g.C, 1)), newPair(d, randn(r, g.C, 1))
				dgamma, dbeta = newPair(d, randn(r, g.C, 1)), newPair(d, randn(r, g.C, 1))
			}
			y, mean, rstd := newPair(d, make([]float32, size)), newPair(d, make([]float32, rows)), newPair(d, make([]float32, rows))
			d.GroupNorm(y.g, mean.g, rstd.g, x.g, gamma.g, beta.g, g)
			cpuDev.GroupNorm(y.c, mean.c, rstd.c, x.c, gamma.c, beta.c, g)
			cmp("groupnorm y "+what, y)
			cmp("groupnorm mean "+what, mean)
			cmp("groupnorm rstd "+what, rstd)
			dy := newPair(d, randn(r, size, 1))
			d.GroupNormBackward(dy.g, dgamma.g, dbeta.g, dy.g, x.g, mean.g, rstd.g, gamma.g, g) // dx overwrites dy
			cpuDev.GroupNormBackward(dy.c, dgamma.c, dbeta.c, dy.c, x.c, mean.c, rstd.c, gamma.c, g)
			cmp("groupnorm dx "+what, dy)
			if affine {
				cmp("groupnorm dgamma "+what, dgamma)
				cmp("groupnorm dbeta "+what, dbeta)
			}
			tx, tg := newPair(d, randn(r, size, 1)), newPair(d, randn(r, g.C, 1))
			ty := newPair(d, make([]float32, size))
			d.GroupNormTangent(ty.g, tx.g, tg.g, nil, x.g, mean.g, rstd.g, gamma.g, g)
			cpuDev.GroupNormTangent(ty.c, tx.c, tg.c, nil, x.c, mean.c, rstd.c, gamma.c, g)
			cmp("groupnorm tangent "+what, ty)
		}
	}
	for _, s := range [][2]int{{5, 9}, {1, 1}, {3, 200}} {
		x := randn(r, s[0]*s[1], 4)
		x[0] = 100 // a large logit: the max shift matters
		xp, y := newPair(d, x), newPair(d, make([]float32, len(x)))
		d.Softmax(y.g, xp.g, s[0], s[1])
		cpuDev.Softmax(y.c, xp.c, s[0], s[1])
		cmp(fmt.Sprintf("softmax %v", s), y)
		gp := newPair(d, randn(r, len(x), 1))
		d.SoftmaxBackward(gp.g, y.g, gp.g, s[0], s[1]) // dx overwrites g
		cpuDev.SoftmaxBackward(gp.c, y.c, gp.c, s[0], s[1])
		cmp(fmt.Sprintf("softmax backward %v", s), gp)
	}
	if st := d.Stats(); st.Fallbacks != 0 {
		t.Errorf("%d host fallbacks: %v", st.Fallbacks, st.FallbackByOp)
	}
}
