package autodiff

import (
	"slices"

	rt "ocm/runtime"
)

// Movement primitives: all linear, each VJP is the transpose of the move.

var opReshape = &prim{name: "reshape",
	jvp:   func(c *call) *rt.Tensor { return c.tan[0].Reshape(c.out.Shape()...) },
	vjp:   func(c *call, g *rt.Tensor) []*rt.Tensor { return []*rt.Tensor{g.Reshape(c.shape(0)...)} },
	saves: savesNone,
}

// Reshape returns x with another shape of the same size (one axis may be −1).
func Reshape(x *Var, shape ...int) *Var {
	return apply(opReshape, x.Value.Reshape(shape...), nil, x)
}

var opPermute = &prim{name: "permute",
	jvp: func(c *call) *rt.Tensor { return rt.Permute(c.tan[0], c.aux.([]int)...) },
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		return []*rt.Tensor{rt.Permute(g, rt.InversePerm(c.aux.([]int))...)}
	},
	saves: savesNone,
}

// Permute reorders the axes of x: axis i of the result is axis perm[i] of x.
func Permute(x *Var, perm ...int) *Var {
	return apply(opPermute, rt.Permute(x.Value, perm...), slices.Clone(perm), x)
}

// Transpose swaps the last two axes of x.
func Transpose(x *Var) *Var {
	n := len(x.Shape())
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[n-1], perm[n-2] = n-2, n-1
	return Permute(x, perm...)
}

var opExpand = &prim{name: "expand",
	jvp:   func(c *call) *rt.Tensor { return rt.Expand(c.tan[0], c.out.Shape()...) },
	vjp:   func(c *call, g *rt.Tensor) []*rt.Tensor { return []*rt.Tensor{rt.SumTo(g, c.shape(0))} },
	saves: savesNone,
}

// Expand broadcasts x to shape.
func Expand(x *Var, shape ...int) *Var {
	return apply(opExpand, rt.Expand(x.Value, shape...), nil, x)
}

var opConcat = &prim{name: "concat",
	jvp: func(c *call) *rt.Tensor {
		ts := make([]*rt.Tensor, len(c.tan))
		for i, t := range c.tan {
			ts[i] = t
			if t == nil {
				ts[i] = rt.New(c.in[i].Device(), c.in[i].Shape()...)
			}
		}
		return rt.Concat(c.aux.(int), ts...)
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		axis := c.aux.(int)
		out := make([]*rt.Tensor, len(c.shapes))
		lo := 0
		for i, s := range c.shapes {
			hi := lo + s[axis]
			if c.need[i] {
				out[i] = rt.Slice(g, axis, lo, hi)
			}
			lo = hi
		}
		return out
	},
	saves: savesNone,
}

// Concat joins xs along axis.
func Concat(axis int, xs ...*Var) *Var {
	vals := make([]*rt.Tensor, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	if axis < 0 {
		axis += len(xs[0].Shape())
	}
	return apply(opConcat, rt.Concat(axis, vals...), axis, xs...)
}

// sliceAttr holds Slice's range.
type sliceAttr struct{ axis, lo, hi int }

var opSlice = &prim{name: "slice",
	jvp: func(c *call) *rt.Tensor {
		a := c.aux.(sliceAttr)
		return rt.Slice(c.tan[0], a.axis, a.lo, a.hi)
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		a := c.aux.(sliceAttr)
		return []*rt.Tensor{rt.SliceAdjoint(g, c.shape(0), a.axis, a.lo)}
	},
	saves: savesNone,
}

// Slice returns the part of x with lo ≤ index < hi along axis.
func Slice(x *Var, axis, lo, hi int) *Var {
	if axis < 0 {
		axis += len(x.Shape())
	}
	return apply(opSlice, rt.Slice(x.Value, axis, lo, hi), sliceAttr{axis, lo, hi}, x)
}
