package nn

import (
	"math"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// The UNet's building blocks, each a port of the class of the same name in
// shared/bench/torch_ref.py with PyTorch's parameter names and layouts.

// GroupNorm settings of the reference's Normalize: 32 groups, eps 1e-6.
const (
	UNetGroups         = 32
	UNetEps    float32 = 1e-6
)

// Conv2d is PyTorch's nn.Conv2d with bias: weight (out, in, k, k), bias (out), square
// kernel, zero padding, PyTorch's default initialisation (weight and bias uniform in
// ±1/√(in·k·k)).
type Conv2d struct {
	W, B        *Param
	Stride, Pad int
}

// NewConv2d returns a k×k convolution from in to out channels named prefix
// (prefix.weight, prefix.bias).
func NewConv2d(dev rt.Device, prefix string, in, out, k, stride, pad int, key philox.Key) *Conv2d {
	bound := float32(1 / math.Sqrt(float64(in*k*k)))
	return &Conv2d{
		W:      &Param{Name: prefix + ".weight", Value: uniformInit(dev, key.Split(0), bound, out, in, k, k)},
		B:      &Param{Name: prefix + ".bias", Value: uniformInit(dev, key.Split(1), bound, out)},
		Stride: stride, Pad: pad,
	}
}

// Forward maps x (N, in, H, W) to (N, out, OH, OW).
func (l *Conv2d) Forward(c *Ctx, x *ad.Var) *ad.Var {
	return ad.Conv2dBias(x, c.P(l.W), c.P(l.B), l.Stride, l.Pad)
}

// ForwardAdd maps x (N, in, H, W) to Forward(x) + r, r (N, out, OH, OW) a residual
// connection added where the convolution stores its output (ad.Conv2dBiasAdd).
func (l *Conv2d) ForwardAdd(c *Ctx, x, r *ad.Var) *ad.Var {
	return ad.Conv2dBiasAdd(x, c.P(l.W), c.P(l.B), r, l.Stride, l.Pad)
}

// Params lists the weight then the bias.
func (l *Conv2d) Params() []*Param { return []*Param{l.W, l.B} }

// GroupNorm is PyTorch's nn.GroupNorm with affine parameters (weight ones, bias zeros).
type GroupNorm struct {
	W, B   *Param
	Groups int
	Eps    float32
}

// NewGroupNorm returns a group norm over ch channels named prefix.
func NewGroupNorm(dev rt.Device, prefix string, ch, groups int, eps float32) *GroupNorm {
	return &GroupNorm{
		W:      &Param{Name: prefix + ".weight", Value: rt.Full(dev, 1, ch)},
		B:      &Param{Name: prefix + ".bias", Value: rt.New(dev, ch)},
		Groups: groups, Eps: eps,
	}
}

// Forward normalises x (N, C, H, W).
func (g *GroupNorm) Forward(c *Ctx, x *ad.Var) *ad.Var {
	return ad.GroupNorm(x, c.P(g.W), c.P(g.B), g.Groups, g.Eps)
}

// ForwardSiLU returns SiLU(g(x)) as one fused op (GroupNorm's output is not kept).
func (g *GroupNorm) ForwardSiLU(c *Ctx, x *ad.Var) *ad.Var {
	return ad.GroupNormSiLU(x, c.P(g.W), c.P(g.B), g.Groups, g.Eps)
}

// Params lists the weight then the bias.
func (g *GroupNorm) Params() []*Param { return []*Param{g.W, g.B} }

// ResBlock is the DDPM residual block: GN-SiLU-conv3×3, plus Linear(SiLU(temb)) per
// channel, GN-SiLU-dropout-conv3×3, and a 1×1 (NIN) shortcut when the channel count
// changes.
type ResBlock struct {
	Norm1    *GroupNorm
	Conv1    *Conv2d
	TembProj *Linear
	Norm2    *GroupNorm
	Conv2    *Conv2d
	Shortcut *Conv2d // nil when in == out
	Dropout  float32
	// ScaleShift selects the improved-DDPM conditioning ("scale-shift norm"):
	// TembProj gives 2·out values (scale, shift) and the block computes
	// GN2(h)·(1 + scale) + shift, so the time survives the norm even with one
	// channel per group; conv2 starts at zero. Otherwise TembProj's out values are
	// added to h before GN2 (DDPM).
	ScaleShift bool
}

// NewResBlock returns a residual block named prefix.
func NewResBlock(dev rt.Device, prefix string, in, out, tembCh int, dropout float32, key philox.Key) *ResBlock {
	b := &ResBlock{
		Norm1:    NewGroupNorm(dev, prefix+".norm1", in, UNetGroups, UNetEps),
		Conv1:    NewConv2d(dev, prefix+".conv1", in, out, 3, 1, 1, key.Split(0)),
		TembProj: NewLinear(dev, prefix+".temb_proj", tembCh, out, key.Split(1)),
		Norm2:    NewGroupNorm(dev, prefix+".norm2", out, UNetGroups, UNetEps),
		Conv2:    NewConv2d(dev, prefix+".conv2", out, out, 3, 1, 1, key.Split(2)),
		Dropout:  dropout,
	}
	if in != out {
		b.Shortcut = NewConv2d(dev, prefix+".nin_shortcut", in, out, 1, 1, 0, key.Split(3))
	}
	return b
}

// NewScaleShiftResBlock returns a residual block with the improved-DDPM
// conditioning (see ResBlock.ScaleShift) named prefix.
func NewScaleShiftResBlock(dev rt.Device, prefix string, in, out, tembCh int, dropout float32, key philox.Key) *ResBlock {
	b := NewResBlock(dev, prefix, in, out, tembCh, dropout, key)
	b.ScaleShift = true
	b.TembProj = NewLinear(dev, prefix+".temb_proj", tembCh, 2*out, key.Split(1))
	rt.CopyInto(b.Conv2.W.Value, rt.New(dev, b.Conv2.W.Value.Shape()...))
	rt.CopyInto(b.Conv2.B.Value, rt.New(dev, b.Conv2.B.Value.Shape()...))
	return b
}

// Forward maps x (N, in, H, W) and the time embedding temb (N, tembCh) to
// (N, out, H, W). Its intermediate values are released as soon as the next op has
// read them (ad.Release: a no-op when a tape records them).
func (b *ResBlock) Forward(c *Ctx, x, temb *ad.Var) *ad.Var {
	h := b.Norm1.ForwardSiLU(c, x)
	if b.ScaleShift {
		h1 := b.Conv1.Forward(c, h)
		ad.Release(h, h1)
		tp := b.TembProj.Forward(c, ad.SiLU(temb))
		n, out := tp.Shape()[0], tp.Shape()[1]/2
		scale := ad.Reshape(ad.Slice(tp, 1, 0, out), n, out, 1, 1)
		shift := ad.Reshape(ad.Slice(tp, 1, out, 2*out), n, out, 1, 1)
		h = ad.SiLU(ad.Add(ad.Mul(b.Norm2.Forward(c, h1), ad.Affine(scale, 1, 1)), shift))
	} else {
		// conv1's bias and the time projection are added per image and channel where
		// conv1 stores its output.
		tp := ad.Add(b.TembProj.Forward(c, ad.SiLU(temb)), c.P(b.Conv1.B))
		h1 := ad.Conv2dBias(h, c.P(b.Conv1.W), tp, b.Conv1.Stride, b.Conv1.Pad)
		ad.Release(h, h1)
		h = b.Norm2.ForwardSiLU(c, h1)
		ad.Release(h1, h)
	}
	hd := c.Dropout(h, b.Dropout)
	ad.Release(h, hd)
	skip := x
	if b.Shortcut != nil {
		skip = b.Shortcut.Forward(c, x)
	}
	out := b.Conv2.ForwardAdd(c, hd, skip) // the skip added where conv2 stores its output
	ad.Release(hd, out, x)
	if skip != x {
		ad.Release(skip, out, x)
	}
	return out
}

// Params lists the parameters in PyTorch's state_dict order.
func (b *ResBlock) Params() []*Param {
	ps := append(b.Norm1.Params(), b.Conv1.Params()...)
	ps = append(ps, b.TembProj.Params()...)
	ps = append(ps, b.Norm2.Params()...)
	ps = append(ps, b.Conv2.Params()...)
	if b.Shortcut != nil {
		ps = append(ps, b.Shortcut.Params()...)
	}
	return ps
}

// AttnLayer is a self-attention block of a UNet: AttnBlock or MultiHeadAttnBlock.
type AttnLayer interface {
	Forward(c *Ctx, x *ad.Var) *ad.Var
	Params() []*Param
}

// AttnBlock is DDPM's single-head self-attention over the H·W positions, with q, k, v
// and the output projection as 1×1 convolutions, and a residual connection.
type AttnBlock struct {
	Norm          *GroupNorm
	Q, K, V, Proj *Conv2d
}

// NewAttnBlock returns an attention block over ch channels named prefix.
func NewAttnBlock(dev rt.Device, prefix string, ch int, key philox.Key) *AttnBlock {
	return &AttnBlock{
		Norm: NewGroupNorm(dev, prefix+".norm", ch, UNetGroups, UNetEps),
		Q:    NewConv2d(dev, prefix+".q", ch, ch, 1, 1, 0, key.Split(0)),
		K:    NewConv2d(dev, prefix+".k", ch, ch, 1, 1, 0, key.Split(1)),
		V:    NewConv2d(dev, prefix+".v", ch, ch, 1, 1, 0, key.Split(2)),
		Proj: NewConv2d(dev, prefix+".proj_out", ch, ch, 1, 1, 0, key.Split(3)),
	}
}

// Forward maps x (N, C, H, W) to x + proj(v·softmax(qᵀk/√C)ᵀ).
func (a *AttnBlock) Forward(c *Ctx, x *ad.Var) *ad.Var {
	s := x.Shape()
	n, ch, hw := s[0], s[1], s[2]*s[3]
	h := a.Norm.Forward(c, x)
	q := ad.Reshape(a.Q.Forward(c, h), n, ch, hw)
	k := ad.Reshape(a.K.Forward(c, h), n, ch, hw)
	v := ad.Reshape(a.V.Forward(c, h), n, ch, hw)
	w := ad.MatMul(q, k, true, false) // (N, HW of q, HW of k)
	w = ad.Softmax(ad.Scale(w, float32(1/math.Sqrt(float64(ch)))))
	h = ad.Reshape(ad.MatMul(v, w, false, true), s...) // (N, C, HW of q)
	return a.Proj.ForwardAdd(c, h, x)
}

// Params lists the parameters in PyTorch's state_dict order.
func (a *AttnBlock) Params() []*Param {
	ps := append(a.Norm.Params(), a.Q.Params()...)
	ps = append(ps, a.K.Params()...)
	ps = append(ps, a.V.Params()...)
	return append(ps, a.Proj.Params()...)
}

// MultiHeadAttnBlock is improved DDPM's self-attention: one 1×1 convolution gives
// q, k and v of every head (channels laid out [head][q | k | v][c], c = C/heads),
// each head attends with softmax(qᵀk/√c), and a zero-initialised 1×1 projection
// adds the result to x.
type MultiHeadAttnBlock struct {
	Norm      *GroupNorm
	QKV, Proj *Conv2d
	Heads     int
}

// NewMultiHeadAttnBlock returns an attention block over ch channels with heads heads
// (dividing ch) named prefix (prefix.norm, prefix.qkv, prefix.proj_out), its norm
// with the given eps.
func NewMultiHeadAttnBlock(dev rt.Device, prefix string, ch, heads int, eps float32, key philox.Key) *MultiHeadAttnBlock {
	a := &MultiHeadAttnBlock{
		Norm:  NewGroupNorm(dev, prefix+".norm", ch, UNetGroups, eps),
		QKV:   NewConv2d(dev, prefix+".qkv", ch, 3*ch, 1, 1, 0, key.Split(0)),
		Proj:  NewConv2d(dev, prefix+".proj_out", ch, ch, 1, 1, 0, key.Split(1)),
		Heads: heads,
	}
	rt.CopyInto(a.Proj.W.Value, rt.New(dev, a.Proj.W.Value.Shape()...))
	rt.CopyInto(a.Proj.B.Value, rt.New(dev, a.Proj.B.Value.Shape()...))
	return a
}

// Forward maps x (N, C, H, W) to x + proj(attention of every head).
func (a *MultiHeadAttnBlock) Forward(c *Ctx, x *ad.Var) *ad.Var {
	s := x.Shape()
	n, ch, hw := s[0], s[1], s[2]*s[3]
	d := ch / a.Heads
	qkv := ad.Reshape(a.QKV.Forward(c, a.Norm.Forward(c, x)), n*a.Heads, 3*d, hw)
	q, k, v := ad.Slice(qkv, 1, 0, d), ad.Slice(qkv, 1, d, 2*d), ad.Slice(qkv, 1, 2*d, 3*d)
	w := ad.MatMul(q, k, true, false) // (N·heads, HW of q, HW of k)
	w = ad.Softmax(ad.Scale(w, float32(1/math.Sqrt(float64(d)))))
	h := ad.Reshape(ad.MatMul(v, w, false, true), s...) // (N·heads, c, HW of q) = (N, C, H, W)
	return a.Proj.ForwardAdd(c, h, x)
}

// Params lists the parameters in state_dict order.
func (a *MultiHeadAttnBlock) Params() []*Param {
	ps := append(a.Norm.Params(), a.QKV.Params()...)
	return append(ps, a.Proj.Params()...)
}

// Downsample halves the resolution with a stride-2 3×3 convolution.
type Downsample struct{ Conv *Conv2d }

// NewDownsample returns a downsampling layer over ch channels named prefix.
func NewDownsample(dev rt.Device, prefix string, ch int, key philox.Key) *Downsample {
	return &Downsample{Conv: NewConv2d(dev, prefix+".conv", ch, ch, 3, 2, 1, key)}
}

// Forward maps x (N, C, H, W) to (N, C, ⌈H/2⌉, ⌈W/2⌉).
func (d *Downsample) Forward(c *Ctx, x *ad.Var) *ad.Var { return d.Conv.Forward(c, x) }

// Params lists the convolution's parameters.
func (d *Downsample) Params() []*Param { return d.Conv.Params() }

// Upsample doubles the resolution (nearest neighbour) and applies a 3×3 convolution.
type Upsample struct{ Conv *Conv2d }

// NewUpsample returns an upsampling layer over ch channels named prefix.
func NewUpsample(dev rt.Device, prefix string, ch int, key philox.Key) *Upsample {
	return &Upsample{Conv: NewConv2d(dev, prefix+".conv", ch, ch, 3, 1, 1, key)}
}

// Forward maps x (N, C, H, W) to (N, C, 2H, 2W).
func (u *Upsample) Forward(c *Ctx, x *ad.Var) *ad.Var {
	return u.Conv.Forward(c, ad.Upsample2x(x))
}

// Params lists the convolution's parameters.
func (u *Upsample) Params() []*Param { return u.Conv.Params() }
