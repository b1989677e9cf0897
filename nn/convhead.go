package nn

import (
	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// ConvHead is the "simple" covariance head of ocm-math §3.3 on a UNet's last feature
// map: h = Conv3×3(SiLU(GroupNorm(features))), its convolution zero-initialised so
// that a new head predicts h = 0.
type ConvHead struct {
	Norm *GroupNorm
	Conv *Conv2d
}

// NewConvHead returns a head from ch feature channels to outCh output channels,
// named prefix.norm and prefix.conv.
func NewConvHead(dev rt.Device, prefix string, ch, outCh int, key philox.Key) *ConvHead {
	h := &ConvHead{Norm: NewGroupNorm(dev, prefix+".norm", ch, min(UNetGroups, ch), UNetEps),
		Conv: NewConv2d(dev, prefix+".conv", ch, outCh, 3, 1, 1, key)}
	rt.CopyInto(h.Conv.W.Value, rt.Full(dev, 0, h.Conv.W.Value.Shape()...))
	rt.CopyInto(h.Conv.B.Value, rt.Full(dev, 0, h.Conv.B.Value.Shape()...))
	return h
}

// Forward maps features (N, ch, H, W) to h (N, outCh, H, W).
func (h *ConvHead) Forward(c *Ctx, features *ad.Var) *ad.Var {
	return h.Conv.Forward(c, ad.SiLU(h.Norm.Forward(c, features)))
}

// Params lists the norm's then the convolution's parameters.
func (h *ConvHead) Params() []*Param { return append(h.Norm.Params(), h.Conv.Params()...) }
