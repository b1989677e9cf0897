package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gnRef is a float64 GroupNorm forward; gamma/beta nil mean 1/0.
func gnRef(x, gamma, beta []float64, n, c, hw, groups int, eps float64) (y, mean, rstd []float64) {
	cpg := c / groups
	gs := cpg * hw
	y = make([]float64, n*c*hw)
	mean = make([]float64, n*groups)
	rstd = make([]float64, n*groups)
	for s := range n * groups {
		xs := x[s*gs : (s+1)*gs]
		var m, v float64
		for _, e := range xs {
			m += e
		}
		m /= float64(gs)
		for _, e := range xs {
			v += (e - m) * (e - m)
		}
		v /= float64(gs)
		rs := 1 / math.Sqrt(v+eps)
		mean[s], rstd[s] = m, rs
		for j := range gs {
			ch := (s%groups)*cpg + j/hw
			gm, bt := 1.0, 0.0
			if gamma != nil {
				gm = gamma[ch]
			}
			if beta != nil {
				bt = beta[ch]
			}
			y[s*gs+j] = (xs[j]-m)*rs*gm + bt
		}
	}
	return y, mean, rstd
}

func kt64(s []float32) []float64 {
	if s == nil {
		return nil
	}
	d := make([]float64, len(s))
	for i, v := range s {
		d[i] = float64(v)
	}
	return d
}

type gnShape struct{ n, c, hw, groups int }

var gnShapes = []gnShape{
	{2, 6, 5, 3},
	{1, 32, 3, 32},
	{3, 6, 1, 3},
	{2, 8, 49, 4},
	{2, 4, 7, 1},
	{1, 3, 2, 3},
}

const gnEps = 1e-5

func TestGroupNormForward(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	shapes := append(gnShapes, gnShape{8, 32, 196, 8}) // parallel path
	for _, sh := range shapes {
		for _, offset := range []float32{0, 100} {
			for _, affine := range []bool{true, false} {
				name := fmt.Sprintf("%+v/off=%v/affine=%v", sh, offset, affine)
				size := sh.n * sh.c * sh.hw
				x := ktRand(r, size)
				for i := range x {
					x[i] = x[i]*2 + offset
				}
				var gamma, beta []float32
				if affine {
					gamma, beta = ktRand(r, sh.c), ktRand(r, sh.c)
				}
				y := ktNaN(size)
				mean, rstd := ktNaN(sh.n*sh.groups), ktNaN(sh.n*sh.groups)
				GroupNormForward(y, mean, rstd, x, gamma, beta, sh.n, sh.c, sh.hw, sh.groups, gnEps)
				wy, wm, wr := gnRef(kt64(x), kt64(gamma), kt64(beta), sh.n, sh.c, sh.hw, sh.groups, gnEps)
				// float32 x near offset carries ~|offset|·2⁻²⁴ rounding.
				tol := 2e-6 * (1 + float64(offset))
				if i := ktClose(mean, wm, tol); i >= 0 {
					t.Fatalf("%s: mean[%d] = %v, want %v", name, i, mean[i], wm[i])
				}
				for i := range wr {
					if math.Abs(float64(rstd[i])-wr[i]) > 1e-5*wr[i] {
						t.Fatalf("%s: rstd[%d] = %v, want %v", name, i, rstd[i], wr[i])
					}
				}
				ytol := 1e-5 * (1 + float64(offset)) * (1 + ktMaxAbs(wy))
				if i := ktClose(y, wy, ytol); i >= 0 {
					t.Fatalf("%s: y[%d] = %v, want %v", name, i, y[i], wy[i])
				}
				// In place.
				GroupNormForward(x, mean, rstd, x, gamma, beta, sh.n, sh.c, sh.hw, sh.groups, gnEps)
				for i := range x {
					if x[i] != y[i] {
						t.Fatalf("%s: in-place result differs at %d", name, i)
					}
				}
			}
		}
	}
}

// gnSetup returns random x, gamma, beta and the forward's mean, rstd.
func gnSetup(r *rand.Rand, sh gnShape) (x, gamma, beta, mean, rstd []float32) {
	x = ktRand(r, sh.n*sh.c*sh.hw)
	gamma, beta = ktRand(r, sh.c), ktRand(r, sh.c)
	mean, rstd = make([]float32, sh.n*sh.groups), make([]float32, sh.n*sh.groups)
	y := make([]float32, len(x))
	GroupNormForward(y, mean, rstd, x, gamma, beta, sh.n, sh.c, sh.hw, sh.groups, gnEps)
	return
}

func TestGroupNormBackwardFD(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, sh := range gnShapes {
		x, gamma, beta, mean, rstd := gnSetup(r, sh)
		w := ktRand(r, len(x))
		x64, g64, b64, w64 := kt64(x), kt64(gamma), kt64(beta), kt64(w)
		obj := func() float64 {
			y, _, _ := gnRef(x64, g64, b64, sh.n, sh.c, sh.hw, sh.groups, gnEps)
			var s float64
			for i := range y {
				s += w64[i] * y[i]
			}
			return s
		}
		fd := func(v []float64) []float64 {
			const h = 1e-5
			d := make([]float64, len(v))
			for i := range v {
				o := v[i]
				v[i] = o + h
				p := obj()
				v[i] = o - h
				m := obj()
				v[i] = o
				d[i] = (p - m) / (2 * h)
			}
			return d
		}
		wdx, wdg, wdb := fd(x64), fd(g64), fd(b64)

		dx := ktNaN(len(x))
		dg, db := ktRand(r, sh.c), ktRand(r, sh.c) // accumulated onto
		dg0, db0 := kt64(dg), kt64(db)
		GroupNormBackward(dx, dg, db, w, x, mean, rstd, gamma, sh.n, sh.c, sh.hw, sh.groups)
		for i := range wdg {
			wdg[i] += dg0[i]
			wdb[i] += db0[i]
		}
		name := fmt.Sprintf("%+v", sh)
		for _, chk := range []struct {
			what string
			got  []float32
			want []float64
		}{{"dx", dx, wdx}, {"dgamma", dg, wdg}, {"dbeta", db, wdb}} {
			tol := 2e-4 * (1 + ktMaxAbs(chk.want))
			if i := ktClose(chk.got, chk.want, tol); i >= 0 {
				t.Errorf("%s: %s[%d] = %v, finite difference %v", name, chk.what, i, chk.got[i], chk.want[i])
			}
		}

		// nil dgamma/dbeta and dx aliasing dy give the same dx.
		dy := append([]float32(nil), w...)
		GroupNormBackward(dy, nil, nil, dy, x, mean, rstd, gamma, sh.n, sh.c, sh.hw, sh.groups)
		for i := range dx {
			if dy[i] != dx[i] {
				t.Fatalf("%s: dx with nil dgamma/dbeta, aliased dy differs at %d", name, i)
			}
		}
	}
}

func TestGroupNormBackwardNilGamma(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sh := gnShape{2, 6, 5, 3}
	x, _, _, mean, rstd := gnSetup(r, sh)
	ones := make([]float32, sh.c)
	for i := range ones {
		ones[i] = 1
	}
	GroupNormForward(make([]float32, len(x)), mean, rstd, x, nil, nil, sh.n, sh.c, sh.hw, sh.groups, gnEps)
	dy := ktRand(r, len(x))
	a, b := make([]float32, len(x)), make([]float32, len(x))
	ga, gb := make([]float32, sh.c), make([]float32, sh.c)
	GroupNormBackward(a, ga, nil, dy, x, mean, rstd, nil, sh.n, sh.c, sh.hw, sh.groups)
	GroupNormBackward(b, gb, nil, dy, x, mean, rstd, ones, sh.n, sh.c, sh.hw, sh.groups)
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			t.Fatalf("dx[%d]: gamma nil %v, ones %v", i, a[i], b[i])
		}
	}
	for i := range ga {
		if ga[i] != gb[i] {
			t.Fatalf("dgamma[%d]: gamma nil %v, ones %v", i, ga[i], gb[i])
		}
	}
}

func TestGroupNormTangentFD(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, sh := range gnShapes {
		for _, params := range []bool{true, false} {
			x, gamma, beta, mean, rstd := gnSetup(r, sh)
			tx := ktRand(r, len(x))
			var tg, tb []float32
			if params {
				tg, tb = ktRand(r, sh.c), ktRand(r, sh.c)
			}
			ty := ktNaN(len(x))
			GroupNormTangent(ty, tx, tg, tb, x, mean, rstd, gamma, sh.n, sh.c, sh.hw, sh.groups)

			const h = 1e-5
			at := func(sgn float64) []float64 {
				xs, gs, bs := kt64(x), kt64(gamma), kt64(beta)
				for i := range xs {
					xs[i] += sgn * h * float64(tx[i])
				}
				if params {
					for i := range gs {
						gs[i] += sgn * h * float64(tg[i])
						bs[i] += sgn * h * float64(tb[i])
					}
				}
				y, _, _ := gnRef(xs, gs, bs, sh.n, sh.c, sh.hw, sh.groups, gnEps)
				return y
			}
			p, m := at(1), at(-1)
			want := make([]float64, len(p))
			for i := range p {
				want[i] = (p[i] - m[i]) / (2 * h)
			}
			name := fmt.Sprintf("%+v/params=%v", sh, params)
			if i := ktClose(ty, want, 2e-4*(1+ktMaxAbs(want))); i >= 0 {
				t.Errorf("%s: ty[%d] = %v, finite difference %v", name, i, ty[i], want[i])
			}
			// In place.
			GroupNormTangent(tx, tx, tg, tb, x, mean, rstd, gamma, sh.n, sh.c, sh.hw, sh.groups)
			for i := range tx {
				if tx[i] != ty[i] {
					t.Fatalf("%s: in-place tangent differs at %d", name, i)
				}
			}
		}
	}
}

// TestGroupNormTangentBackwardDual checks u·(J t) == (Jᵀ u)·t, with J the
// Jacobian of the forward with respect to (x, gamma, beta).
func TestGroupNormTangentBackwardDual(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	shapes := append(gnShapes, gnShape{4, 32, 196, 8})
	for _, sh := range shapes {
		x, gamma, _, mean, rstd := gnSetup(r, sh)
		tx, tg, tb := ktRand(r, len(x)), ktRand(r, sh.c), ktRand(r, sh.c)
		u := ktRand(r, len(x))
		ty := make([]float32, len(x))
		GroupNormTangent(ty, tx, tg, tb, x, mean, rstd, gamma, sh.n, sh.c, sh.hw, sh.groups)
		dx, dg, db := make([]float32, len(x)), make([]float32, sh.c), make([]float32, sh.c)
		GroupNormBackward(dx, dg, db, u, x, mean, rstd, gamma, sh.n, sh.c, sh.hw, sh.groups)
		lhs := ktDot(u, ty)
		rhs := ktDot(dx, tx) + ktDot(dg, tg) + ktDot(db, tb)
		scale := math.Sqrt(ktDot(u, u) * ktDot(ty, ty))
		if math.Abs(lhs-rhs) > 1e-4*(1+scale) {
			t.Errorf("%+v: u·(J t) = %v, (Jᵀu)·t = %v", sh, lhs, rhs)
		}
	}
}

func TestGroupNormPanics(t *testing.T) {
	b := make([]float32, 64)
	ktPanics(t, "cpu: GroupNormForward: groups does not divide", func() {
		GroupNormForward(b, b, b, b, nil, nil, 1, 6, 2, 4, gnEps)
	})
	ktPanics(t, "cpu: GroupNormForward: gamma too short", func() {
		GroupNormForward(b, b, b, b, b[:3], nil, 1, 6, 2, 3, gnEps)
	})
	ktPanics(t, "cpu: GroupNormBackward: dx too short", func() {
		GroupNormBackward(b[:11], nil, nil, b, b, b, b, nil, 1, 6, 2, 3)
	})
	ktPanics(t, "cpu: GroupNormTangent: rstd too short", func() {
		GroupNormTangent(b, b, nil, nil, b, b, b[:2], nil, 1, 6, 2, 3)
	})
}

// TestGroupNormSiLUEqualsComposition checks the fused GroupNorm + SiLU kernels
// against GroupNorm's kernels followed by SiLU's (forward: SiLU of the output;
// backward: GroupNormBackward of dy·silu′(z); tangent: silu′(z) times
// GroupNormTangent), bit for bit, with and without gamma and beta.
func TestGroupNormSiLUEqualsComposition(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, sh := range append(gnShapes[:len(gnShapes):len(gnShapes)], gnShape{8, 32, 196, 8}) {
		for _, affine := range []bool{true, false} {
			x, gamma, beta, mean, rstd := gnSetup(r, sh)
			if !affine {
				gamma, beta = nil, nil
			}
			n, c, hw, g := sh.n, sh.c, sh.hw, sh.groups
			z := make([]float32, len(x))
			GroupNormForward(z, mean, rstd, x, gamma, beta, n, c, hw, g, gnEps)
			want := make([]float32, len(x))
			SiLU(want, z)
			got := make([]float32, len(x))
			m2, r2 := make([]float32, len(mean)), make([]float32, len(rstd))
			GroupNormSiLUForward(got, m2, r2, x, gamma, beta, n, c, hw, g, gnEps)
			gnSame(t, sh, "forward", got, want)
			gnSame(t, sh, "mean", m2, mean)
			gnSame(t, sh, "rstd", r2, rstd)

			dy := ktRand(r, len(x))
			dz := make([]float32, len(x))
			SiLUGrad(dz, z, dy)
			wdx, wdg, wdb := make([]float32, len(x)), make([]float32, c), make([]float32, c)
			GroupNormBackward(wdx, wdg, wdb, dz, x, mean, rstd, gamma, n, c, hw, g)
			dx, dg, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
			GroupNormSiLUBackward(dx, dg, db, dy, x, mean, rstd, gamma, beta, n, c, hw, g)
			gnSame(t, sh, "dx", dx, wdx)
			gnSame(t, sh, "dgamma", dg, wdg)
			gnSame(t, sh, "dbeta", db, wdb)

			tx, tg, tb := ktRand(r, len(x)), ktRand(r, c), ktRand(r, c)
			wty := make([]float32, len(x))
			GroupNormTangent(wty, tx, tg, tb, x, mean, rstd, gamma, n, c, hw, g)
			SiLUGrad(wty, z, wty)
			ty := make([]float32, len(x))
			GroupNormSiLUTangent(ty, tx, tg, tb, x, mean, rstd, gamma, beta, n, c, hw, g)
			gnSame(t, sh, "tangent", ty, wty)
		}
	}
}

func gnSame(t *testing.T, sh gnShape, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%+v %s: value %d = %g, composition %g", sh, what, i, got[i], want[i])
		}
	}
}
