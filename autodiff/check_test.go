package autodiff

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// The derivative harness (style G3): every primitive gets, for each of its inputs,
//   (a) forward mode: J·v against a float64 central finite difference of the float32
//       forward pass (Richardson-extrapolated, so truncation error is O(h⁴)), value by
//       value;
//   (b) reverse mode: (Jᵀ·u)·v against u·(finite difference), and against u·(J·v) from
//       forward mode to float32 tolerance (the inner-product identity tying the modes).

var dev = rt.NewCPU(rt.CPUOptions{})

// primCase is one row of the harness table.
type primCase struct {
	name   string
	shapes [][]int
	f      func(x []*Var) *Var
	// gen draws input i's values; nil means normal(0, 1).
	gen func(r *rand.Rand, i int) float32
}

func positive(r *rand.Rand, _ int) float32 { return 0.5 + 2*r.Float32() }

// awayFromZero avoids the kinks of abs at 0.
func awayFromZero(r *rand.Rand, _ int) float32 {
	v := 0.2 + r.Float32()
	if r.IntN(2) == 0 {
		return -v
	}
	return v
}

// awayFromBounds keeps inputs of clamp(−0.5, 0.5) off the bounds by a margin.
func awayFromBounds(r *rand.Rand, _ int) float32 {
	for {
		v := 2*r.Float32() - 1
		if math.Abs(math.Abs(float64(v))-0.5) > 0.05 {
			return v
		}
	}
}

func unary(f func(*Var) *Var) func([]*Var) *Var { return func(x []*Var) *Var { return f(x[0]) } }
func binary(f func(a, b *Var) *Var) func([]*Var) *Var {
	return func(x []*Var) *Var { return f(x[0], x[1]) }
}

var primCases = []primCase{
	{name: "add/same", shapes: [][]int{{7, 33}, {7, 33}}, f: binary(Add)},
	{name: "add/bias", shapes: [][]int{{33, 7}, {7}}, f: binary(Add)},
	{name: "add/both-broadcast", shapes: [][]int{{3, 1, 7}, {1, 33, 1}}, f: binary(Add)},
	{name: "sub/broadcast", shapes: [][]int{{1}, {3, 7}}, f: binary(Sub)},
	{name: "mul/broadcast", shapes: [][]int{{3, 7, 33}, {7, 1}}, f: binary(Mul)},
	{name: "mul/scalar", shapes: [][]int{{257}, {1}}, f: binary(Mul)},
	{name: "div/broadcast", shapes: [][]int{{7, 33}, {33}}, f: binary(Div),
		gen: func(r *rand.Rand, i int) float32 {
			if i == 1 {
				return positive(r, i)
			}
			return float32(r.NormFloat64())
		}},
	{name: "exp", shapes: [][]int{{257}}, f: unary(Exp)},
	{name: "log", shapes: [][]int{{3, 33}}, f: unary(Log), gen: positive},
	{name: "sqrt", shapes: [][]int{{33}}, f: unary(Sqrt), gen: positive},
	{name: "rsqrt", shapes: [][]int{{7, 3}}, f: unary(Rsqrt), gen: positive},
	{name: "tanh", shapes: [][]int{{257}}, f: unary(Tanh)},
	{name: "sigmoid", shapes: [][]int{{257}}, f: unary(Sigmoid)},
	{name: "silu", shapes: [][]int{{7, 33}}, f: unary(SiLU)},
	{name: "sin", shapes: [][]int{{33}}, f: unary(Sin)},
	{name: "cos", shapes: [][]int{{33}}, f: unary(Cos)},
	{name: "square", shapes: [][]int{{1}}, f: unary(Square)},
	{name: "abs", shapes: [][]int{{257}}, f: unary(Abs), gen: awayFromZero},
	{name: "affine", shapes: [][]int{{3, 7}}, f: unary(func(x *Var) *Var { return Affine(x, -1.5, 0.25) })},
	{name: "clamp", shapes: [][]int{{257}}, f: unary(func(x *Var) *Var { return Clamp(x, -0.5, 0.5) }), gen: awayFromBounds},
	{name: "sum/all", shapes: [][]int{{7, 33}}, f: unary(func(x *Var) *Var { return Sum(x, false) })},
	{name: "sum/axis1", shapes: [][]int{{3, 33, 7}}, f: unary(func(x *Var) *Var { return Sum(x, false, 1) })},
	{name: "sum/axes0,2-keep", shapes: [][]int{{3, 7, 33}}, f: unary(func(x *Var) *Var { return Sum(x, true, 0, 2) })},
	{name: "mean/axis-1", shapes: [][]int{{7, 33}}, f: unary(func(x *Var) *Var { return Mean(x, false, -1) })},
	{name: "reshape", shapes: [][]int{{3, 7, 33}}, f: unary(func(x *Var) *Var { return Reshape(x, 21, -1) })},
	{name: "permute", shapes: [][]int{{3, 7, 33}}, f: unary(func(x *Var) *Var { return Permute(x, 2, 0, 1) })},
	{name: "expand", shapes: [][]int{{7, 1}}, f: unary(func(x *Var) *Var { return Expand(x, 3, 7, 33) })},
	{name: "concat/axis1", shapes: [][]int{{3, 7, 5}, {3, 1, 5}, {3, 33, 5}}, f: func(x []*Var) *Var { return Concat(1, x...) }},
	{name: "slice/axis1", shapes: [][]int{{3, 33, 7}}, f: unary(func(x *Var) *Var { return Slice(x, 1, 5, 12) })},
	{name: "matmul/nn", shapes: [][]int{{7, 33}, {33, 3}}, f: mm(false, false)},
	{name: "matmul/tn", shapes: [][]int{{33, 7}, {33, 3}}, f: mm(true, false)},
	{name: "matmul/nt", shapes: [][]int{{7, 33}, {3, 33}}, f: mm(false, true)},
	{name: "matmul/tt", shapes: [][]int{{33, 7}, {3, 33}}, f: mm(true, true)},
	{name: "matmul/batched", shapes: [][]int{{3, 7, 33}, {3, 33, 5}}, f: mm(false, false)},
	{name: "matmul/shared-weight", shapes: [][]int{{3, 7, 33}, {5, 33}}, f: mm(false, true)},
	{name: "conv2d/3x3s1p1", shapes: [][]int{{2, 3, 7, 5}, {4, 3, 3, 3}}, f: conv(1, 1)},
	{name: "conv2d/3x3s2p1", shapes: [][]int{{2, 3, 7, 7}, {5, 3, 3, 3}}, f: conv(2, 1)},
	{name: "conv2d/1x1", shapes: [][]int{{3, 5, 3, 7}, {2, 5, 1, 1}}, f: conv(1, 0)},
	{name: "conv2d+bias/3x3s1p1", shapes: [][]int{{2, 3, 7, 5}, {4, 3, 3, 3}, {4}}, f: convBias(1, 1)},
	{name: "conv2d+bias/3x3s1p1-grid", shapes: [][]int{{2, 3, 5, 14}, {4, 3, 3, 3}, {4}}, f: convBias(1, 1)},
	{name: "conv2d+bias/per-image", shapes: [][]int{{2, 3, 5, 14}, {4, 3, 3, 3}, {2, 4}}, f: convBias(1, 1)},
	{name: "conv2d+bias/3x3s2p1", shapes: [][]int{{2, 3, 7, 7}, {5, 3, 3, 3}, {2, 5}}, f: convBias(2, 1)},
	{name: "conv2d+bias/1x1", shapes: [][]int{{3, 5, 3, 7}, {2, 5, 1, 1}, {2}}, f: convBias(1, 0)},
	{name: "conv2d+bias+add/3x3s1p1", shapes: [][]int{{2, 3, 7, 5}, {4, 3, 3, 3}, {4}, {2, 4, 7, 5}}, f: convBiasAdd(1, 1)},
	{name: "conv2d+bias+add/3x3s1p1-grid", shapes: [][]int{{2, 3, 5, 14}, {4, 3, 3, 3}, {4}, {2, 4, 5, 14}}, f: convBiasAdd(1, 1)},
	{name: "conv2d+bias+add/per-image", shapes: [][]int{{2, 3, 5, 14}, {4, 3, 3, 3}, {2, 4}, {2, 4, 5, 14}}, f: convBiasAdd(1, 1)},
	{name: "conv2d+bias+add/3x3s2p1", shapes: [][]int{{2, 3, 7, 7}, {5, 3, 3, 3}, {2, 5}, {2, 5, 4, 4}}, f: convBiasAdd(2, 1)},
	{name: "conv2d+bias+add/1x1", shapes: [][]int{{3, 5, 3, 7}, {2, 5, 1, 1}, {2}, {3, 2, 3, 7}}, f: convBiasAdd(1, 0)},
	{name: "upsample2x", shapes: [][]int{{2, 3, 3, 7}}, f: unary(Upsample2x)},
	{name: "groupnorm", shapes: [][]int{{3, 6, 7}, {6}, {6}}, f: func(x []*Var) *Var {
		return GroupNorm(x[0], x[1], x[2], 3, 1e-5)
	}},
	{name: "groupnorm/hw1", shapes: [][]int{{2, 4, 1}, {4}, {4}}, f: func(x []*Var) *Var {
		return GroupNorm(x[0], x[1], x[2], 2, 1e-5)
	}},
	{name: "groupnorm+silu", shapes: [][]int{{3, 6, 7}, {6}, {6}}, f: func(x []*Var) *Var {
		return GroupNormSiLU(x[0], x[1], x[2], 3, 1e-5)
	}},
	{name: "groupnorm+silu/hw1", shapes: [][]int{{2, 4, 1}, {4}, {4}}, f: func(x []*Var) *Var {
		return GroupNormSiLU(x[0], x[1], x[2], 2, 1e-5)
	}},
	{name: "groupnorm+silu/nchw", shapes: [][]int{{2, 8, 5, 3}, {8}, {8}}, f: func(x []*Var) *Var {
		return GroupNormSiLU(x[0], x[1], x[2], 4, 1e-6)
	}},
	{name: "softmax", shapes: [][]int{{7, 33}}, f: unary(Softmax)},
	{name: "dropout", shapes: [][]int{{33, 7}}, f: unary(func(x *Var) *Var {
		return Dropout(x, 0.3, philox.Key{Seed: 5})
	})},
}

func mm(ta, tb bool) func([]*Var) *Var {
	return func(x []*Var) *Var { return MatMul(x[0], x[1], ta, tb) }
}

func conv(stride, pad int) func([]*Var) *Var {
	return func(x []*Var) *Var { return Conv2d(x[0], x[1], stride, pad) }
}

func convBias(stride, pad int) func([]*Var) *Var {
	return func(x []*Var) *Var { return Conv2dBias(x[0], x[1], x[2], stride, pad) }
}

func convBiasAdd(stride, pad int) func([]*Var) *Var {
	return func(x []*Var) *Var { return Conv2dBiasAdd(x[0], x[1], x[2], x[3], stride, pad) }
}

func randTensor(r *rand.Rand, shape []int, gen func() float32) *rt.Tensor {
	d := make([]float32, rt.Numel(shape))
	for i := range d {
		d[i] = gen()
	}
	return rt.FromSlice(dev, d, shape...)
}

func dot64(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// evalAt evaluates the case with input i moved by h·v (all inputs constant).
func evalAt(pc primCase, xs []*rt.Tensor, i int, v *rt.Tensor, h float32) []float64 {
	in := make([]*Var, len(xs))
	for j, x := range xs {
		in[j] = Const(x)
	}
	in[i] = Const(rt.Add(xs[i], rt.Scale(v, h)))
	out := pc.f(in).Value.Data()
	o := make([]float64, len(out))
	for k, val := range out {
		o[k] = float64(val)
	}
	return o
}

// finiteDiff returns the Richardson-extrapolated central difference of the case along
// direction v of input i: (4·D(h/2) − D(h))/3 with D(h) = (f(x+hv) − f(x−hv))/2h.
func finiteDiff(pc primCase, xs []*rt.Tensor, i int, v *rt.Tensor, h float32) []float64 {
	d := func(h float32) []float64 {
		p, m := evalAt(pc, xs, i, v, h), evalAt(pc, xs, i, v, -h)
		for k := range p {
			p[k] = (p[k] - m[k]) / (2 * float64(h))
		}
		return p
	}
	d1, d2 := d(h), d(h/2)
	for k := range d1 {
		d1[k] = (4*d2[k] - d1[k]) / 3
	}
	return d1
}

func TestPrimitiveDerivatives(t *testing.T) {
	for ci, pc := range primCases {
		t.Run(pc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 7))
			xs := make([]*rt.Tensor, len(pc.shapes))
			for i, s := range pc.shapes {
				gen := func() float32 { return float32(r.NormFloat64()) }
				if pc.gen != nil {
					gen = func() float32 { return pc.gen(r, i) }
				}
				xs[i] = randTensor(r, s, gen)
			}
			for i := range xs {
				checkInput(t, pc, xs, i, r)
			}
		})
	}
}

// checkInput runs both checks for input i of a case.
func checkInput(t *testing.T, pc primCase, xs []*rt.Tensor, i int, r *rand.Rand) {
	t.Helper()
	normal := func() float32 { return float32(r.NormFloat64()) }
	v := randTensor(r, xs[i].Shape(), normal)

	// Forward mode: only input i carries a tangent.
	in := make([]*Var, len(xs))
	for j, x := range xs {
		in[j] = Const(x)
	}
	in[i] = Dual(xs[i], v)
	out := pc.f(in)
	if out.Tangent == nil {
		t.Fatalf("input %d: no tangent", i)
	}
	jv := out.Tangent.Data()
	fd := finiteDiff(pc, xs, i, v, 1e-2)
	scale := 0.0
	for _, x := range fd {
		scale = max(scale, math.Abs(x))
	}
	for k := range fd {
		if err := math.Abs(float64(jv[k]) - fd[k]); err > 2e-3*(1+scale) {
			t.Fatalf("input %d: JVP[%d] = %g, finite difference %g", i, k, jv[k], fd[k])
		}
	}

	// Reverse mode: input i is the only leaf.
	u := randTensor(r, out.Shape(), normal)
	in[i] = Leaf(xs[i])
	g := Grad(pc.f(in), u, in[i])[0]
	if g == nil {
		t.Fatalf("input %d: no gradient", i)
	}
	ud := u.Data()
	uJv := dot64(ud, jv)
	jtuv := dot64(g.Data(), v.Data())
	uFD := 0.0
	for k := range fd {
		uFD += float64(ud[k]) * fd[k]
	}
	mag := math.Abs(uJv) + math.Sqrt(float64(len(ud)))*(1+scale)
	if math.Abs(jtuv-uFD) > 2e-3*mag {
		t.Errorf("input %d: (Jᵀu)·v = %g, u·(finite difference) = %g", i, jtuv, uFD)
	}
	if math.Abs(jtuv-uJv) > 1e-5*mag {
		t.Errorf("input %d: (Jᵀu)·v = %g but u·(Jv) = %g", i, jtuv, uJv)
	}
}

// TestModesAgreeOnNetworks checks u·(J v) == (Jᵀ u)·v for the input Jacobian of a small
// MLP and a small conv net, and that the parameter gradients of both modes agree.
func TestModesAgreeOnNetworks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	normal := func() float32 { return float32(r.NormFloat64()) * 0.5 }
	w1, w2 := randTensor(r, []int{33, 7}, normal), randTensor(r, []int{3, 33}, normal)
	b1 := randTensor(r, []int{33}, normal)
	mlp := func(x *Var) *Var {
		h := SiLU(Add(MatMul(x, Const(w1), false, true), Const(b1)))
		return MatMul(h, Const(w2), false, true)
	}
	k1, k2 := randTensor(r, []int{8, 3, 3, 3}, normal), randTensor(r, []int{2, 8, 3, 3}, normal)
	g1, be1 := randTensor(r, []int{8}, normal), randTensor(r, []int{8}, normal)
	convNet := func(x *Var) *Var {
		h := Conv2d(x, Const(k1), 1, 1)
		h = SiLU(GroupNorm(h, Const(g1), Const(be1), 4, 1e-5))
		h = Upsample2x(Conv2d(h, Const(k2), 2, 1))
		return Softmax(h)
	}
	for _, c := range []struct {
		name  string
		f     func(*Var) *Var
		shape []int
	}{{"mlp", mlp, []int{5, 7}}, {"convnet", convNet, []int{2, 3, 9, 7}}} {
		x, v := randTensor(r, c.shape, normal), randTensor(r, c.shape, normal)
		y, jv := JVP(c.f, x, v)
		u := randTensor(r, y.Shape(), normal)
		_, jtu := VJP(c.f, x, u)
		a, b := dot64(u.Data(), jv.Data()), dot64(jtu.Data(), v.Data())
		if math.Abs(a-b) > 1e-5*(math.Abs(a)+1) {
			t.Errorf("%s: u·(Jv) = %.9g, (Jᵀu)·v = %.9g", c.name, a, b)
		}
		fmt.Printf("%s: u·(Jv) = %.9g, (Jᵀu)·v = %.9g\n", c.name, a, b)
	}
}

// TestFrozenInputsGetNoGradient checks that constants receive no gradient and that a
// JVP through a network of constants records no tape.
func TestFrozenInputsGetNoGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	normal := func() float32 { return float32(r.NormFloat64()) }
	w := Const(randTensor(r, []int{4, 3}, normal))
	b := Leaf(randTensor(r, []int{4}, normal))
	x := Const(randTensor(r, []int{2, 3}, normal))
	y := Sum(Add(MatMul(x, w, false, true), b), false)
	g := Grad(y, nil, w, b)
	if g[0] != nil {
		t.Error("frozen weight got a gradient")
	}
	if g[1] == nil || g[1].Data()[0] != 2 {
		t.Errorf("bias gradient %v, want all 2 (batch of 2)", g[1])
	}
	out := MatMul(Dual(x.Value, x.Value), w, false, true)
	if out.rec != nil || out.NeedsGrad() {
		t.Error("forward mode through constants recorded a tape node")
	}
}

// TestJVPAllInputsAtOnce checks, for every primitive of the harness, that the JVP
// with a tangent on every input at once is the sum of the JVPs with one tangent each
// (forward mode is linear in the tangents; the rules that combine several tangents
// in one kernel call are checked here).
func TestJVPAllInputsAtOnce(t *testing.T) {
	for ci, pc := range primCases {
		if len(pc.shapes) < 2 {
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 11))
			xs, vs := make([]*rt.Tensor, len(pc.shapes)), make([]*rt.Tensor, len(pc.shapes))
			for i, s := range pc.shapes {
				gen := func() float32 { return float32(r.NormFloat64()) }
				if pc.gen != nil {
					gen = func() float32 { return pc.gen(r, i) }
				}
				xs[i] = randTensor(r, s, gen)
				vs[i] = randTensor(r, s, func() float32 { return float32(r.NormFloat64()) })
			}
			in := make([]*Var, len(xs))
			var sum []float64
			for i := range xs {
				for j, x := range xs {
					in[j] = Const(x)
				}
				in[i] = Dual(xs[i], vs[i])
				jv := pc.f(in).Tangent.Data()
				if sum == nil {
					sum = make([]float64, len(jv))
				}
				for k, v := range jv {
					sum[k] += float64(v)
				}
			}
			for j, x := range xs {
				in[j] = Dual(x, vs[j])
			}
			all := pc.f(in).Tangent.Data()
			for k, v := range all {
				if math.Abs(float64(v)-sum[k]) > 1e-5*(1+math.Abs(sum[k])) {
					t.Fatalf("JVP[%d] with every tangent = %g, sum of one at a time %g", k, v, sum[k])
				}
			}
		})
	}
}

// TestVJPAllInputsAtOnce checks, for every primitive of the harness, that reverse
// mode with every input a leaf gives each input the gradient it gets when it is the
// only leaf (the values a rule keeps depend on which inputs need a gradient; see
// prim.saves).
func TestVJPAllInputsAtOnce(t *testing.T) {
	for ci, pc := range primCases {
		if len(pc.shapes) < 2 {
			continue
		}
		t.Run(pc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(ci), 13))
			xs := make([]*rt.Tensor, len(pc.shapes))
			for i, s := range pc.shapes {
				gen := func() float32 { return float32(r.NormFloat64()) }
				if pc.gen != nil {
					gen = func() float32 { return pc.gen(r, i) }
				}
				xs[i] = randTensor(r, s, gen)
			}
			in := make([]*Var, len(xs))
			for j, x := range xs {
				in[j] = Leaf(x)
			}
			y := pc.f(in)
			u := randTensor(r, y.Shape(), func() float32 { return float32(r.NormFloat64()) })
			all := Grad(y, u, in...)
			for i := range xs {
				for j, x := range xs {
					in[j] = Const(x)
				}
				in[i] = Leaf(xs[i])
				one := Grad(pc.f(in), u, in[i])[0].Data()
				got := all[i].Data()
				for k := range one {
					if math.Abs(float64(got[k]-one[k])) > 1e-5*(1+math.Abs(float64(one[k]))) {
						t.Fatalf("input %d: gradient[%d] with every input a leaf = %g, alone %g", i, k, got[k], one[k])
					}
				}
			}
		})
	}
}

// TestTapeDropsUnreadValues checks that a recorded call keeps only the values its
// VJP reads: none for a sum, the other factor for a product, the output for a
// softmax.
func TestTapeDropsUnreadValues(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	normal := func() float32 { return float32(r.NormFloat64()) }
	a, b := Leaf(randTensor(r, []int{3, 4}, normal)), Leaf(randTensor(r, []int{3, 4}, normal))
	mask := Const(randTensor(r, []int{3, 4}, normal))
	for _, c := range []struct {
		name   string
		y      *Var
		in     []bool
		outKey bool
	}{
		{"add", Add(a, b), []bool{false, false}, false},
		{"mul by a constant", Mul(a, mask), []bool{false, true}, false},
		{"mul", Mul(a, b), []bool{true, true}, false},
		{"softmax", Softmax(a), []bool{false}, true},
		{"silu", SiLU(a), []bool{true}, false},
	} {
		call := c.y.rec.node.c
		for i, keep := range c.in {
			if (call.in[i] != nil) != keep {
				t.Errorf("%s: input %d kept %v, want %v", c.name, i, call.in[i] != nil, keep)
			}
		}
		if (call.out != nil) != c.outKey {
			t.Errorf("%s: output kept %v, want %v", c.name, call.out != nil, c.outKey)
		}
	}
}
