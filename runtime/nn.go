package runtime

import (
	"fmt"

	"ocm/runtime/philox"
)

// ConvGeometry returns the arguments of a convolution of x (N, C, H, W) with weights
// w (Cout, C, KH, KW) at the given stride and zero padding.
func ConvGeometry(xShape, wShape []int, stride, pad int) *ConvArgs {
	if len(xShape) != 4 || len(wShape) != 4 || xShape[1] != wShape[1] || stride < 1 || pad < 0 {
		panic(fmt.Sprintf("runtime: conv2d: input %v, weight %v, stride %d, pad %d", xShape, wShape, stride, pad))
	}
	c := &ConvArgs{N: xShape[0], C: xShape[1], H: xShape[2], W: xShape[3],
		Cout: wShape[0], KH: wShape[2], KW: wShape[3], Stride: stride, Pad: pad}
	c.OutH = (c.H+2*pad-c.KH)/stride + 1
	c.OutW = (c.W+2*pad-c.KW)/stride + 1
	if c.OutH < 1 || c.OutW < 1 {
		panic(fmt.Sprintf("runtime: conv2d: kernel %v larger than padded input %v", wShape, xShape))
	}
	return c
}

// Conv2d returns the cross-correlation of x (N, C, H, W) with w (Cout, C, KH, KW), as
// PyTorch's conv2d without bias: y (N, Cout, OH, OW).
func Conv2d(x, w *Tensor, stride, pad int) *Tensor {
	sameDevice("conv2d", x, w)
	c := ConvGeometry(x.shape, w.shape, stride, pad)
	y := empty(x.dev, c.N, c.Cout, c.OutH, c.OutW)
	x.dev.Conv2d(y.buf, x.buf, w.buf, c)
	return y
}

// Conv2dBias returns Conv2d(x, w, stride, pad) plus the bias b: (Cout), one value per
// output channel, or (N, Cout), one per image and channel (a per-image shift such as
// a time embedding's projection).
func Conv2dBias(x, w, b *Tensor, stride, pad int) *Tensor {
	sameDevice("conv2d", x, w, b)
	c := ConvGeometry(x.shape, w.shape, stride, pad)
	perImage := checkConvBias(b, c)
	bd, ok := x.dev.(BiasConvDevice)
	if !ok {
		bs := []int{1, c.Cout, 1, 1}
		if perImage {
			bs[0] = c.N
		}
		return Add(Conv2d(x, w, stride, pad), b.Reshape(bs...))
	}
	y := empty(x.dev, c.N, c.Cout, c.OutH, c.OutW)
	bd.Conv2dBias(y.buf, x.buf, w.buf, b.buf, c)
	return y
}

// checkConvBias panics unless b is a bias Conv2dBias takes for c, and reports
// whether it is one per image and channel.
func checkConvBias(b *Tensor, c *ConvArgs) (perImage bool) {
	perImage = len(b.shape) == 2 && b.shape[0] == c.N && b.shape[1] == c.Cout
	if !perImage && !(len(b.shape) == 1 && b.shape[0] == c.Cout) {
		panic(fmt.Sprintf("runtime: conv2d: bias %v for %d images of %d channels", b.shape, c.N, c.Cout))
	}
	return perImage
}

// Conv2dBiasAdd returns Conv2dBias(x, w, b, stride, pad) + r, with r of the output's
// shape (a residual connection) added in the same pass as the bias on a device with
// ResidualConvDevice, so that it costs no pass and no tensor of its own; b may be
// nil (no bias). The result is rounded as the two ops in that order would round it.
func Conv2dBiasAdd(x, w, b, r *Tensor, stride, pad int) *Tensor {
	sameDevice("conv2d", x, w, r)
	c := ConvGeometry(x.shape, w.shape, stride, pad)
	if b != nil {
		sameDevice("conv2d", x, b)
		checkConvBias(b, c)
	}
	if !SameShape(r.shape, []int{c.N, c.Cout, c.OutH, c.OutW}) {
		panic(fmt.Sprintf("runtime: conv2d: residual %v for output %v", r.shape, []int{c.N, c.Cout, c.OutH, c.OutW}))
	}
	rd, ok := x.dev.(ResidualConvDevice)
	if !ok {
		if b == nil {
			return Add(Conv2d(x, w, stride, pad), r)
		}
		return Add(Conv2dBias(x, w, b, stride, pad), r)
	}
	y := empty(x.dev, c.N, c.Cout, c.OutH, c.OutW)
	rd.Conv2dBiasAdd(y.buf, x.buf, w.buf, bufOf(b), r.buf, c)
	return y
}

// Conv2dInputGrad returns the gradient of a convolution with respect to its input of
// shape xShape, given the output gradient dy and the weights w.
func Conv2dInputGrad(dy, w *Tensor, xShape []int, stride, pad int) *Tensor {
	sameDevice("conv2d", dy, w)
	c := ConvGeometry(xShape, w.shape, stride, pad)
	dx := empty(dy.dev, xShape...)
	dy.dev.Conv2dInputGrad(dx.buf, dy.buf, w.buf, c)
	return dx
}

// Conv2dWeightGrad returns the gradient of a convolution with respect to its weights
// of shape wShape, given the output gradient dy and the input x.
func Conv2dWeightGrad(dy, x *Tensor, wShape []int, stride, pad int) *Tensor {
	sameDevice("conv2d", dy, x)
	c := ConvGeometry(x.shape, wShape, stride, pad)
	dw := empty(dy.dev, wShape...)
	dy.dev.Conv2dWeightGrad(dw.buf, dy.buf, x.buf, c)
	return dw
}

// Upsample2x returns x (N, C, H, W) with every value repeated into a 2×2 block.
func Upsample2x(x *Tensor) *Tensor {
	if len(x.shape) != 4 {
		panic(fmt.Sprintf("runtime: upsample2x: shape %v is not NCHW", x.shape))
	}
	n, c, h, w := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	y := empty(x.dev, n, c, 2*h, 2*w)
	x.dev.Upsample2x(y.buf, x.buf, n*c, h, w)
	return y
}

// Upsample2xBackward sums each 2×2 block of g (N, C, 2H, 2W): the adjoint of Upsample2x.
func Upsample2xBackward(g *Tensor) *Tensor {
	n, c, h, w := g.shape[0], g.shape[1], g.shape[2]/2, g.shape[3]/2
	if len(g.shape) != 4 || g.shape[2] != 2*h || g.shape[3] != 2*w {
		panic(fmt.Sprintf("runtime: upsample2x: gradient shape %v", g.shape))
	}
	dx := empty(g.dev, n, c, h, w)
	g.dev.Upsample2xBackward(dx.buf, g.buf, n*c, h, w)
	return dx
}

// GroupNormResult holds GroupNorm's output and the statistics its derivatives need.
type GroupNormResult struct {
	Y          *Tensor // same shape as x
	Z          *Tensor // GroupNormSiLU without the fused kernels: GroupNorm's output
	Mean, Rstd *Tensor // (N, groups)
	Args       *GroupNormArgs
}

// GroupNorm normalises x (N, C, …) over groups of C/groups channels and all spatial
// positions, then scales by gamma (C) and shifts by beta (C) when they are not nil.
func GroupNorm(x, gamma, beta *Tensor, groups int, eps float32) *GroupNormResult {
	if len(x.shape) < 2 || groups < 1 || x.shape[1]%groups != 0 {
		panic(fmt.Sprintf("runtime: groupnorm: %d groups for shape %v", groups, x.shape))
	}
	a := &GroupNormArgs{N: x.shape[0], C: x.shape[1], HW: x.Len() / max(1, x.shape[0]*x.shape[1]),
		Groups: groups, Eps: eps}
	r := &GroupNormResult{Y: empty(x.dev, x.shape...), Mean: empty(x.dev, a.N, groups),
		Rstd: empty(x.dev, a.N, groups), Args: a}
	x.dev.GroupNorm(r.Y.buf, r.Mean.buf, r.Rstd.buf, x.buf, bufOf(gamma), bufOf(beta), a)
	return r
}

// GroupNormBackward returns dx, and dgamma and dbeta when gamma is not nil.
func GroupNormBackward(r *GroupNormResult, dy, x, gamma *Tensor) (dx, dgamma, dbeta *Tensor) {
	dx = empty(x.dev, x.shape...)
	var dg, db Buffer
	if gamma != nil {
		dgamma, dbeta = New(x.dev, r.Args.C), New(x.dev, r.Args.C)
		dg, db = dgamma.buf, dbeta.buf
	}
	x.dev.GroupNormBackward(dx.buf, dg, db, dy.buf, x.buf, r.Mean.buf, r.Rstd.buf, bufOf(gamma), r.Args)
	return dx, dgamma, dbeta
}

// GroupNormTangent returns the forward-mode tangent of GroupNorm's output given the
// tangents of x, gamma and beta (each may be nil for zero).
func GroupNormTangent(r *GroupNormResult, tx, tgamma, tbeta, x, gamma *Tensor) *Tensor {
	ty := empty(x.dev, x.shape...)
	if tx == nil {
		tx = New(x.dev, x.shape...)
	}
	x.dev.GroupNormTangent(ty.buf, bufOf(tx), bufOf(tgamma), bufOf(tbeta), x.buf, r.Mean.buf, r.Rstd.buf, bufOf(gamma), r.Args)
	return ty
}

// GroupNormSiLU returns silu(GroupNorm(x, gamma, beta)) in r.Y. On a device with
// the fused kernels (GroupNormSiLUDevice) GroupNorm's output is never stored and
// r.Z is nil; otherwise r.Z holds it for the derivatives.
func GroupNormSiLU(x, gamma, beta *Tensor, groups int, eps float32) *GroupNormResult {
	fd, ok := x.dev.(GroupNormSiLUDevice)
	if !ok {
		r := GroupNorm(x, gamma, beta, groups, eps)
		r.Z, r.Y = r.Y, SiLU(r.Y)
		return r
	}
	if len(x.shape) < 2 || groups < 1 || x.shape[1]%groups != 0 {
		panic(fmt.Sprintf("runtime: groupnorm: %d groups for shape %v", groups, x.shape))
	}
	a := &GroupNormArgs{N: x.shape[0], C: x.shape[1], HW: x.Len() / max(1, x.shape[0]*x.shape[1]),
		Groups: groups, Eps: eps}
	r := &GroupNormResult{Y: empty(x.dev, x.shape...), Mean: empty(x.dev, a.N, groups),
		Rstd: empty(x.dev, a.N, groups), Args: a}
	fd.GroupNormSiLU(r.Y.buf, r.Mean.buf, r.Rstd.buf, x.buf, bufOf(gamma), bufOf(beta), a)
	return r
}

// GroupNormSiLUBackward returns dx, and dgamma and dbeta when gamma is not nil, for
// the output gradient dy of GroupNormSiLU.
func GroupNormSiLUBackward(r *GroupNormResult, dy, x, gamma, beta *Tensor) (dx, dgamma, dbeta *Tensor) {
	if r.Z != nil {
		return GroupNormBackward(r, SiLUGrad(r.Z, dy), x, gamma)
	}
	dx = empty(x.dev, x.shape...)
	var dg, db Buffer
	if gamma != nil {
		dgamma, dbeta = New(x.dev, r.Args.C), New(x.dev, r.Args.C)
		dg, db = dgamma.buf, dbeta.buf
	}
	x.dev.(GroupNormSiLUDevice).GroupNormSiLUBackward(dx.buf, dg, db, dy.buf, x.buf, r.Mean.buf, r.Rstd.buf, bufOf(gamma), bufOf(beta), r.Args)
	return dx, dgamma, dbeta
}

// GroupNormSiLUTangent returns the forward-mode tangent of GroupNormSiLU's output
// given the tangents of x, gamma and beta (each may be nil for zero).
func GroupNormSiLUTangent(r *GroupNormResult, tx, tgamma, tbeta, x, gamma, beta *Tensor) *Tensor {
	if r.Z != nil {
		return SiLUGrad(r.Z, GroupNormTangent(r, tx, tgamma, tbeta, x, gamma))
	}
	ty := empty(x.dev, x.shape...)
	if tx == nil {
		tx = New(x.dev, x.shape...)
	}
	x.dev.(GroupNormSiLUDevice).GroupNormSiLUTangent(ty.buf, tx.buf, bufOf(tgamma), bufOf(tbeta), x.buf, r.Mean.buf, r.Rstd.buf, bufOf(gamma), bufOf(beta), r.Args)
	return ty
}

// Softmax normalises x over its last axis.
func Softmax(x *Tensor) *Tensor {
	cols := x.Dim(-1)
	y := empty(x.dev, x.shape...)
	if y.Len() > 0 {
		x.dev.Softmax(y.buf, x.buf, x.Len()/cols, cols)
	}
	return y
}

// SoftmaxBackward returns y·(g − Σ g·y) over the last axis: the VJP of Softmax for an
// upstream gradient g and its JVP for a tangent g.
func SoftmaxBackward(y, g *Tensor) *Tensor {
	cols := y.Dim(-1)
	dx := empty(y.dev, y.shape...)
	if dx.Len() > 0 {
		y.dev.SoftmaxBackward(dx.buf, y.buf, g.buf, y.Len()/cols, cols)
	}
	return dx
}

// AdamStep updates p in place with gradient g and moment buffers m, v.
func AdamStep(p, g, m, v *Tensor, a *AdamArgs) {
	sameDevice("adam", p, g, m, v)
	if p.Len() != g.Len() || p.Len() != m.Len() || p.Len() != v.Len() || a.Step < 1 {
		panic(fmt.Sprintf("runtime: adam: sizes %d %d %d %d, step %d", p.Len(), g.Len(), m.Len(), v.Len(), a.Step))
	}
	p.dev.Adam(p.buf, g.buf, m.buf, v.buf, a)
}

// Random returns a tensor of the given shape drawn from dist with key, starting at
// element offset of the key's stream.
func Random(dev Device, dist Distribution, key philox.Key, offset uint64, shape ...int) *Tensor {
	t := empty(dev, shape...)
	if t.Len() > 0 {
		dev.Random(t.buf, dist, key, offset)
	}
	return t
}

// DropoutMask returns a mask of the given shape whose values are 0 with probability p
// and 1/(1−p) otherwise, drawn from key.
func DropoutMask(dev Device, p float32, key philox.Key, shape ...int) *Tensor {
	if md, ok := dev.(MaskDevice); ok {
		m := empty(dev, shape...)
		if m.Len() > 0 {
			md.DropoutMask(m.buf, key, p, 1/(1-p))
		}
		return m
	}
	u := Random(dev, Uniform, key, 0, shape...)
	return Unary(OpDropMask, u, p, 1/(1-p))
}

func bufOf(t *Tensor) Buffer {
	if t == nil {
		return nil
	}
	return t.buf
}
