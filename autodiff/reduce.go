package autodiff

import rt "ocm/runtime"

// sumAttr holds the axes of Sum.
type sumAttr struct {
	axes     []int
	keepDims bool
}

// opSum is linear: its transpose broadcasts the cotangent back over the summed axes.
var opSum = &prim{name: "sum",
	jvp: func(c *call) *rt.Tensor {
		a := c.aux.(sumAttr)
		return rt.Sum(c.tan[0], a.keepDims, a.axes...)
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		a := c.aux.(sumAttr)
		keep, _ := rt.ReducedShape(c.shape(0), true, a.axes)
		return []*rt.Tensor{rt.Expand(g.Reshape(keep...), c.shape(0)...)}
	},
	saves: savesNone,
}

// Sum returns the sum of x over axes (all axes when none are given).
func Sum(x *Var, keepDims bool, axes ...int) *Var {
	return apply(opSum, rt.Sum(x.Value, keepDims, axes...), sumAttr{axes, keepDims}, x)
}

// Mean returns the mean of x over axes (all axes when none are given).
func Mean(x *Var, keepDims bool, axes ...int) *Var {
	s := Sum(x, keepDims, axes...)
	return Scale(s, float32(s.Value.Len())/float32(x.Value.Len()))
}
