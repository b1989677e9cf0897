package autodiff

import (
	"slices"

	rt "ocm/runtime"
)

// Elementwise primitives. Binary ones broadcast (NumPy rules); their VJPs sum the
// cotangent back to each input's shape, and their JVPs broadcast each tangent to the
// output's shape.

// expandTo broadcasts a tangent to shape (a no-op when it already has it).
func expandTo(t *rt.Tensor, shape []int) *rt.Tensor {
	if t == nil || slices.Equal(t.Shape(), shape) {
		return t
	}
	return rt.Expand(t, shape...)
}

var opAdd = &prim{name: "add",
	jvp: func(c *call) *rt.Tensor {
		s := c.out.Shape()
		return addTan(expandTo(c.tan[0], s), expandTo(c.tan[1], s))
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		return []*rt.Tensor{rt.SumTo(g, c.shape(0)), rt.SumTo(g, c.shape(1))}
	},
	saves: savesNone,
}

// Add returns x + y.
func Add(x, y *Var) *Var { return apply(opAdd, rt.Add(x.Value, y.Value), nil, x, y) }

var opSub = &prim{name: "sub",
	jvp: func(c *call) *rt.Tensor {
		s := c.out.Shape()
		a, b := expandTo(c.tan[0], s), expandTo(c.tan[1], s)
		if b == nil {
			return a
		}
		if a == nil {
			return rt.Neg(b)
		}
		return rt.Sub(a, b)
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		var gy *rt.Tensor
		if c.need[1] {
			gy = rt.Neg(rt.SumTo(g, c.shape(1)))
		}
		return []*rt.Tensor{rt.SumTo(g, c.shape(0)), gy}
	},
	saves: savesNone,
}

// Sub returns x − y.
func Sub(x, y *Var) *Var { return apply(opSub, rt.Sub(x.Value, y.Value), nil, x, y) }

var opMul = &prim{name: "mul",
	jvp: func(c *call) *rt.Tensor {
		var a, b *rt.Tensor
		if c.tan[0] != nil {
			a = rt.Mul(c.tan[0], c.in[1])
		}
		if c.tan[1] != nil {
			b = rt.Mul(c.in[0], c.tan[1])
		}
		return addTan(expandTo(a, c.out.Shape()), expandTo(b, c.out.Shape()))
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		var gx, gy *rt.Tensor
		if c.need[0] {
			gx = rt.SumTo(rt.Mul(g, c.in[1]), c.shape(0))
		}
		if c.need[1] {
			gy = rt.SumTo(rt.Mul(g, c.in[0]), c.shape(1))
		}
		return []*rt.Tensor{gx, gy}
	},
	saves: savesOther,
}

// Mul returns x · y elementwise.
func Mul(x, y *Var) *Var { return apply(opMul, rt.Mul(x.Value, y.Value), nil, x, y) }

var opDiv = &prim{name: "div",
	jvp: func(c *call) *rt.Tensor {
		// d(x/y) = dx/y − (x/y)·dy/y
		var a, b *rt.Tensor
		if c.tan[0] != nil {
			a = rt.Div(c.tan[0], c.in[1])
		}
		if c.tan[1] != nil {
			b = rt.Neg(rt.Div(rt.Mul(c.out, c.tan[1]), c.in[1]))
		}
		return addTan(expandTo(a, c.out.Shape()), expandTo(b, c.out.Shape()))
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		gq := rt.Div(g, c.in[1])
		var gy *rt.Tensor
		if c.need[1] {
			gy = rt.SumTo(rt.Neg(rt.Mul(gq, c.out)), c.shape(1))
		}
		return []*rt.Tensor{rt.SumTo(gq, c.shape(0)), gy}
	},
	saves: func(need []bool) ([]bool, bool) { return []bool{false, true}, need[1] },
}

// Div returns x / y elementwise.
func Div(x, y *Var) *Var { return apply(opDiv, rt.Div(x.Value, y.Value), nil, x, y) }

// unaryPrim makes the rule block of a unary op whose derivative is a tensor d(x, y)
// (y the output) that reads y when ofY is set and x otherwise: JVP t·d, VJP g·d.
func unaryPrim(name string, ofY bool, deriv func(x, y *rt.Tensor) *rt.Tensor) *prim {
	saves := savesInput0
	if ofY {
		saves = savesOutput
	}
	return &prim{name: name,
		jvp: func(c *call) *rt.Tensor { return rt.Mul(c.tan[0], deriv(c.in[0], c.out)) },
		vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
			return []*rt.Tensor{rt.Mul(g, deriv(c.in[0], c.out))}
		},
		saves: saves,
	}
}

var (
	opExp   = unaryPrim("exp", true, func(_, y *rt.Tensor) *rt.Tensor { return y })
	opLog   = unaryPrim("log", false, func(x, _ *rt.Tensor) *rt.Tensor { return rt.Recip(x) })
	opSqrt  = unaryPrim("sqrt", true, func(_, y *rt.Tensor) *rt.Tensor { return rt.Scale(rt.Recip(y), 0.5) })
	opRsqrt = unaryPrim("rsqrt", true, func(_, y *rt.Tensor) *rt.Tensor { // −½ y³
		return rt.Mul(rt.Scale(y, -0.5), rt.Square(y))
	})
	opTanh = unaryPrim("tanh", true, func(_, y *rt.Tensor) *rt.Tensor { // 1 − y²
		return rt.Affine(rt.Square(y), -1, 1)
	})
	opSigmoid = unaryPrim("sigmoid", true, func(_, y *rt.Tensor) *rt.Tensor { // y(1−y)
		return rt.Mul(y, rt.Affine(y, -1, 1))
	})
	opSin    = unaryPrim("sin", false, func(x, _ *rt.Tensor) *rt.Tensor { return rt.Cos(x) })
	opCos    = unaryPrim("cos", false, func(x, _ *rt.Tensor) *rt.Tensor { return rt.Neg(rt.Sin(x)) })
	opSquare = unaryPrim("square", false, func(x, _ *rt.Tensor) *rt.Tensor { return rt.Scale(x, 2) })
	opAbs    = unaryPrim("abs", false, func(x, _ *rt.Tensor) *rt.Tensor { return rt.Sign(x) })
)

// Exp returns eˣ.
func Exp(x *Var) *Var { return apply(opExp, rt.Exp(x.Value), nil, x) }

// Log returns ln x.
func Log(x *Var) *Var { return apply(opLog, rt.Log(x.Value), nil, x) }

// Sqrt returns √x.
func Sqrt(x *Var) *Var { return apply(opSqrt, rt.Sqrt(x.Value), nil, x) }

// Rsqrt returns 1/√x.
func Rsqrt(x *Var) *Var { return apply(opRsqrt, rt.Rsqrt(x.Value), nil, x) }

// Tanh returns tanh x.
func Tanh(x *Var) *Var { return apply(opTanh, rt.Tanh(x.Value), nil, x) }

// Sigmoid returns 1/(1+e⁻ˣ).
func Sigmoid(x *Var) *Var { return apply(opSigmoid, rt.Sigmoid(x.Value), nil, x) }

// Sin returns sin x.
func Sin(x *Var) *Var { return apply(opSin, rt.Sin(x.Value), nil, x) }

// Cos returns cos x.
func Cos(x *Var) *Var { return apply(opCos, rt.Cos(x.Value), nil, x) }

// Square returns x².
func Square(x *Var) *Var { return apply(opSquare, rt.Square(x.Value), nil, x) }

// Abs returns |x| (derivative sign(x), 0 at 0).
func Abs(x *Var) *Var { return apply(opAbs, rt.Abs(x.Value), nil, x) }

// opSiLU has a fused derivative kernel: silu′(x) = s(1 + x(1−s)), s = sigmoid(x).
var opSiLU = &prim{name: "silu",
	jvp:   func(c *call) *rt.Tensor { return rt.SiLUGrad(c.in[0], c.tan[0]) },
	vjp:   func(c *call, g *rt.Tensor) []*rt.Tensor { return []*rt.Tensor{rt.SiLUGrad(c.in[0], g)} },
	saves: savesInput0,
}

// SiLU returns x·sigmoid(x).
func SiLU(x *Var) *Var { return apply(opSiLU, rt.SiLU(x.Value), nil, x) }

// affineAttr holds the constants of Affine.
type affineAttr struct{ scale, shift float32 }

// opAffine is linear in x: its transpose scales the cotangent.
var opAffine = &prim{name: "affine",
	jvp: func(c *call) *rt.Tensor { return rt.Scale(c.tan[0], c.aux.(affineAttr).scale) },
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		return []*rt.Tensor{rt.Scale(g, c.aux.(affineAttr).scale)}
	},
	saves: savesNone,
}

// Affine returns scale·x + shift for constants scale and shift.
func Affine(x *Var, scale, shift float32) *Var {
	return apply(opAffine, rt.Affine(x.Value, scale, shift), affineAttr{scale, shift}, x)
}

// Scale returns s·x.
func Scale(x *Var, s float32) *Var { return Affine(x, s, 0) }

// Neg returns −x.
func Neg(x *Var) *Var { return Affine(x, -1, 0) }

// clampAttr holds the bounds of Clamp.
type clampAttr struct{ lo, hi float32 }

var opClamp = &prim{name: "clamp",
	jvp: func(c *call) *rt.Tensor {
		a := c.aux.(clampAttr)
		return rt.Mul(c.tan[0], rt.InRange(c.in[0], a.lo, a.hi))
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		a := c.aux.(clampAttr)
		return []*rt.Tensor{rt.Mul(g, rt.InRange(c.in[0], a.lo, a.hi))}
	},
	saves: savesInput0,
}

// Clamp returns min(max(x, lo), hi); its derivative is 1 strictly inside and 0 outside.
func Clamp(x *Var, lo, hi float32) *Var {
	return apply(opClamp, rt.Clamp(x.Value, lo, hi), clampAttr{lo, hi}, x)
}
