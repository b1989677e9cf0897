package nn

import (
	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// ConvHead is a covariance head of ocm-math §3.3 on a UNet's last feature map.
// "simple": h = Conv3×3(SiLU(GroupNorm(features))); "complex": one residual block
// with scale-shift conditioning on the backbone's time embedding first (the
// improved-DDPM block of the paper's complex head; a DDPM block's additive time
// would be erased by a GroupNorm of one channel per group, as in 32-channel maps).
// The last convolution is zero-initialised, so a new head predicts h = 0.
type ConvHead struct {
	Block *ResBlock // nil for the simple head
	Norm  *GroupNorm
	Conv  *Conv2d
}

// NewConvHead returns a head from ch feature channels to outCh output channels,
// named prefix.block, prefix.norm and prefix.conv. With tembCh > 0 it is the complex
// head, whose residual block reads a time embedding of tembCh values; with 0, the
// simple head.
func NewConvHead(dev rt.Device, prefix string, ch, outCh, tembCh int, key philox.Key) *ConvHead {
	h := &ConvHead{Norm: NewGroupNorm(dev, prefix+".norm", ch, min(UNetGroups, ch), UNetEps),
		Conv: NewConv2d(dev, prefix+".conv", ch, outCh, 3, 1, 1, key)}
	if tembCh > 0 {
		h.Block = NewScaleShiftResBlock(dev, prefix+".block", ch, ch, tembCh, 0, key.Split(1<<20))
	}
	rt.CopyInto(h.Conv.W.Value, rt.Full(dev, 0, h.Conv.W.Value.Shape()...))
	rt.CopyInto(h.Conv.B.Value, rt.Full(dev, 0, h.Conv.B.Value.Shape()...))
	return h
}

// Forward maps features (N, ch, H, W) to h (N, outCh, H, W); temb (N, tembCh) is
// the time embedding the complex head's block reads (ignored by the simple head).
func (h *ConvHead) Forward(c *Ctx, features, temb *ad.Var) *ad.Var {
	if h.Block != nil {
		features = h.Block.Forward(c, features, temb)
	}
	return h.Conv.Forward(c, h.Norm.ForwardSiLU(c, features))
}

// Params lists the block's (if any), the norm's, then the convolution's parameters.
func (h *ConvHead) Params() []*Param {
	var ps []*Param
	if h.Block != nil {
		ps = h.Block.Params()
	}
	ps = append(ps, h.Norm.Params()...)
	return append(ps, h.Conv.Params()...)
}
