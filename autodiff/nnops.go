package autodiff

import (
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// convAttr holds Conv2d's stride and padding.
type convAttr struct{ stride, pad int }

// opConv2d is bilinear in (x, w).
var opConv2d = &prim{name: "conv2d",
	jvp: func(c *call) *rt.Tensor {
		a := c.aux.(convAttr)
		var tx, tw *rt.Tensor
		if c.tan[0] != nil {
			tx = rt.Conv2d(c.tan[0], c.in[1], a.stride, a.pad)
		}
		if c.tan[1] != nil {
			tw = rt.Conv2d(c.in[0], c.tan[1], a.stride, a.pad)
		}
		return addTan(tx, tw)
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		a := c.aux.(convAttr)
		var gx, gw *rt.Tensor
		if c.need[0] {
			gx = rt.Conv2dInputGrad(g, c.in[1], c.shape(0), a.stride, a.pad)
		}
		if c.need[1] {
			gw = rt.Conv2dWeightGrad(g, c.in[0], c.shape(1), a.stride, a.pad)
		}
		return []*rt.Tensor{gx, gw}
	},
	saves: savesOther,
}

// Conv2d returns the convolution of x (N, C, H, W) with w (Cout, C, KH, KW), zero
// padding pad, as PyTorch's conv2d without bias.
func Conv2d(x, w *Var, stride, pad int) *Var {
	return apply(opConv2d, rt.Conv2d(x.Value, w.Value, stride, pad), convAttr{stride, pad}, x, w)
}

// opConv2dBias is conv2d plus a bias b of Cout values or (N, Cout) values: affine
// in b, bilinear in (x, w).
var opConv2dBias = &prim{name: "conv2d+bias",
	jvp: func(c *call) *rt.Tensor { return convBiasTangent(c, nil) },
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		gs := opConv2d.vjp(c, g)
		if c.need[2] {
			gb := rt.SumTo(g, biasShape(c.shape(2), g.Shape()))
			gs = append(gs, gb.Reshape(c.shape(2)...))
		} else {
			gs = append(gs, nil)
		}
		return gs
	},
	saves: savesOther,
}

// convBiasTangent is the tangent of conv(x, w) + b + r for the tangents c.tan[0..2]
// of x, w, b and tr of r (each may be nil): the bias's and the residual's tangents
// are added by the first tangent convolution that runs, where it stores its output.
func convBiasTangent(c *call, tr *rt.Tensor) *rt.Tensor {
	a := c.aux.(convAttr)
	tb := c.tan[2]
	conv := func(x, w *rt.Tensor) *rt.Tensor {
		var y *rt.Tensor
		switch {
		case tr != nil:
			y = rt.Conv2dBiasAdd(x, w, tb, tr, a.stride, a.pad)
		case tb != nil:
			y = rt.Conv2dBias(x, w, tb, a.stride, a.pad)
		default:
			y = rt.Conv2d(x, w, a.stride, a.pad)
		}
		tb, tr = nil, nil
		return y
	}
	var t *rt.Tensor
	if c.tan[0] != nil {
		t = conv(c.tan[0], c.in[1])
	}
	if c.tan[1] != nil {
		t = addTan(t, conv(c.in[0], c.tan[1]))
	}
	if tb != nil {
		t = rt.Expand(tb.Reshape(biasShape(tb.Shape(), c.out.Shape())...), c.out.Shape()...)
	}
	return addTan(t, tr)
}

// biasShape is the shape (1 or N, Cout, 1, 1) that broadcasts a bias of shape b
// (Cout, or N, Cout) of Conv2dBias over its output of shape y.
func biasShape(b, y []int) []int {
	s := []int{1, y[1], 1, 1}
	if len(b) == 2 {
		s[0] = y[0]
	}
	return s
}

// Conv2dBias returns Conv2d(x, w, stride, pad) plus the bias b: (Cout), one value per
// output channel as PyTorch's conv2d, or (N, Cout), one per image and channel. The
// bias is added in the pass that stores the output.
func Conv2dBias(x, w, b *Var, stride, pad int) *Var {
	return apply(opConv2dBias, rt.Conv2dBias(x.Value, w.Value, b.Value, stride, pad), convAttr{stride, pad}, x, w, b)
}

// opConv2dBiasAdd is conv2d plus a bias and a residual r of the output's shape;
// inputs (x, w, b, r). r's cotangent is the output's, shared, not copied.
var opConv2dBiasAdd = &prim{name: "conv2d+bias+add",
	jvp: func(c *call) *rt.Tensor { return convBiasTangent(c, c.tan[3]) },
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		gs := opConv2dBias.vjp(c, g)
		if c.need[3] {
			return append(gs, g)
		}
		return append(gs, nil)
	},
	saves: savesOther,
}

// Conv2dBiasAdd returns Conv2dBias(x, w, b, stride, pad) + r, r of the output's
// shape (a residual connection), with r added in the pass that stores the output
// (see rt.Conv2dBiasAdd): no pass and no tensor for the sum.
func Conv2dBiasAdd(x, w, b, r *Var, stride, pad int) *Var {
	y := rt.Conv2dBiasAdd(x.Value, w.Value, b.Value, r.Value, stride, pad)
	return apply(opConv2dBiasAdd, y, convAttr{stride, pad}, x, w, b, r)
}

var opUpsample2x = &prim{name: "upsample2x",
	jvp:   func(c *call) *rt.Tensor { return rt.Upsample2x(c.tan[0]) },
	vjp:   func(c *call, g *rt.Tensor) []*rt.Tensor { return []*rt.Tensor{rt.Upsample2xBackward(g)} },
	saves: savesNone,
}

// Upsample2x repeats every value of x (N, C, H, W) into a 2×2 block.
func Upsample2x(x *Var) *Var { return apply(opUpsample2x, rt.Upsample2x(x.Value), nil, x) }

// opGroupNorm's inputs are (x, gamma, beta); gamma and beta are always present.
var opGroupNorm = &prim{name: "groupnorm",
	jvp: func(c *call) *rt.Tensor {
		r := c.aux.(*rt.GroupNormResult)
		return rt.GroupNormTangent(r, c.tan[0], c.tan[1], c.tan[2], c.in[0], c.in[1])
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		r := c.aux.(*rt.GroupNormResult)
		gx, gg, gb := rt.GroupNormBackward(r, g, c.in[0], c.in[1])
		return []*rt.Tensor{gx, gg, gb}
	},
	saves: func(need []bool) ([]bool, bool) { return []bool{true, true, false}, false },
}

// GroupNorm normalises x (N, C, …) over groups of channels and scales and shifts each
// channel by gamma (C) and beta (C).
func GroupNorm(x, gamma, beta *Var, groups int, eps float32) *Var {
	r := rt.GroupNorm(x.Value, gamma.Value, beta.Value, groups, eps)
	y := r.Y
	r.Y = nil // the rules read the statistics, not the output
	return apply(opGroupNorm, y, r, x, gamma, beta)
}

// opGroupNormSiLU is silu ∘ groupnorm as one primitive; inputs (x, gamma, beta).
var opGroupNormSiLU = &prim{name: "groupnorm+silu",
	jvp: func(c *call) *rt.Tensor {
		r := c.aux.(*rt.GroupNormResult)
		return rt.GroupNormSiLUTangent(r, c.tan[0], c.tan[1], c.tan[2], c.in[0], c.in[1], c.in[2])
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		r := c.aux.(*rt.GroupNormResult)
		gx, gg, gb := rt.GroupNormSiLUBackward(r, g, c.in[0], c.in[1], c.in[2])
		return []*rt.Tensor{gx, gg, gb}
	},
	saves: func(need []bool) ([]bool, bool) { return []bool{true, true, true}, false },
}

// GroupNormSiLU returns SiLU(GroupNorm(x, gamma, beta, groups, eps)) in one pass;
// GroupNorm's output is not kept for the derivatives (they recompute it).
func GroupNormSiLU(x, gamma, beta *Var, groups int, eps float32) *Var {
	r := rt.GroupNormSiLU(x.Value, gamma.Value, beta.Value, groups, eps)
	y := r.Y
	r.Y = nil // the rules read the statistics (and z where it is kept), not the output
	return apply(opGroupNormSiLU, y, r, x, gamma, beta)
}

var opSoftmax = &prim{name: "softmax",
	jvp:   func(c *call) *rt.Tensor { return rt.SoftmaxBackward(c.out, c.tan[0]) },
	vjp:   func(c *call, g *rt.Tensor) []*rt.Tensor { return []*rt.Tensor{rt.SoftmaxBackward(c.out, g)} },
	saves: savesOutput,
}

// Softmax normalises x over its last axis.
func Softmax(x *Var) *Var { return apply(opSoftmax, rt.Softmax(x.Value), nil, x) }

// Dropout zeroes each value of x with probability p and scales the rest by 1/(1−p),
// with the mask drawn from key (so a run can be replayed). p = 0 returns x.
func Dropout(x *Var, p float32, key philox.Key) *Var {
	if p == 0 {
		return x
	}
	mask := rt.DropoutMask(x.Value.Device(), p, key, x.Shape()...)
	return Mul(x, Const(mask))
}
