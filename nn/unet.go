package nn

import (
	"fmt"
	"slices"

	ad "ocm/autodiff"
	"ocm/nn/safetensors"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// UNetConfig describes a DDPM UNet (shared/bench/torch_ref.py UNetS) or, with Variant
// "iddpm", the improved-DDPM UNet of the paper's CIFAR-10 backbone (ocm-math
// Appendix B). The JSON names are the reference constructor's argument names.
type UNetConfig struct {
	InCh       int     `json:"in_ch"`            // image channels
	Ch         int     `json:"ch"`               // base width; a multiple of 32
	Mult       []int   `json:"ch_mult"`          // width multiplier per resolution level
	NumRes     int     `json:"num_res_blocks"`   // residual blocks per level (down path)
	AttnRes    []int   `json:"attn_resolutions"` // resolutions with self-attention
	Resolution int     `json:"resolution"`       // input height and width
	Dropout    float32 `json:"dropout"`          // dropout probability in residual blocks
	TembIn     int     `json:"temb_in"`          // sinusoidal embedding width; the MLP is TembIn → 4Ch → 4Ch
	// Variant is "" (or "ddpm") for the reference's DDPM UNet, or "iddpm": residual
	// blocks with scale-shift conditioning, multi-head attention with one qkv
	// convolution, the embedding laid out [cos, sin], GroupNorm eps 1e-5, and the
	// last convolution of every block, attention and the output zero-initialised.
	Variant string `json:"variant,omitempty"`
	Heads   int    `json:"num_heads,omitempty"` // attention heads of the iddpm variant (0: one)
}

// Improved reports whether c is the improved-DDPM variant.
func (c UNetConfig) Improved() bool { return c.Variant == VariantIDDPM }

// UNet variants (UNetConfig.Variant).
const (
	VariantDDPM  = "ddpm"
	VariantIDDPM = "iddpm"
)

// UNetCIFAR returns the configuration of the paper's CIFAR-10 backbone (ocm-math
// Appendix B): improved DDPM, 3×32×32, ch 128, mult (1, 2, 2, 2), three residual
// blocks per level, 4-head attention at 16×16 and 8×8, dropout 0.3, temb 128.
func UNetCIFAR() UNetConfig {
	return UNetConfig{InCh: 3, Ch: 128, Mult: []int{1, 2, 2, 2}, NumRes: 3, AttnRes: []int{16, 8},
		Resolution: 32, Dropout: 0.3, TembIn: 128, Variant: VariantIDDPM, Heads: 4}
}

// UNetS returns the configuration of the reference unet-s: 1×28×28, ch 64, mult
// (1, 2, 2), two residual blocks per level, attention at 7×7, dropout 0.1, temb 64.
func UNetS() UNetConfig {
	return UNetConfig{InCh: 1, Ch: 64, Mult: []int{1, 2, 2}, NumRes: 2, AttnRes: []int{7},
		Resolution: 28, Dropout: 0.1, TembIn: 64}
}

// UNetSParamCount is the parameter count of the reference unet-s.
const UNetSParamCount = 6469889

// UNetCIFARParamCount is the parameter count of unet-cifar as PyTorch counts it
// (nn/testdata/iddpm_ref.py's UNet()): improved DDPM's 52.5M-parameter CIFAR-10 model.
const UNetCIFARParamCount = 52542979

// UNetLevel is one resolution level: its residual blocks, each followed by an
// attention block or nothing (nil), then a resampling layer (nil at the end).
type UNetLevel struct {
	Blocks     []*ResBlock
	Attns      []AttnLayer // nil where the level has no attention
	Downsample *Downsample // down path only
	Upsample   *Upsample   // up path only
}

// UNet is the DDPM UNet of the reference, predicting ε from (x, t). Its parameter
// names are the keys of the PyTorch model's state_dict.
type UNet struct {
	Config       UNetConfig
	Temb0, Temb1 *Linear // temb.0 and temb.2 of the PyTorch Sequential
	ConvIn       *Conv2d
	Down         []*UNetLevel
	MidBlock1    *ResBlock
	MidAttn      AttnLayer
	MidBlock2    *ResBlock
	Up           []*UNetLevel // in execution order, lowest resolution first
	NormOut      *GroupNorm
	ConvOut      *Conv2d
	temb         *EmbeddingCache
	key          philox.Key // construction: layer keys are key.Split(1), Split(2), …
	nextKey      uint64
	dev          rt.Device
}

// validate panics on a configuration the reference could not build.
func (cfg UNetConfig) validate() {
	if cfg.InCh < 1 || cfg.Ch < 1 || len(cfg.Mult) == 0 || cfg.NumRes < 1 || cfg.TembIn < 2 || cfg.TembIn%2 != 0 {
		panic(fmt.Sprintf("nn: unet: invalid config %+v", cfg))
	}
	for _, m := range cfg.Mult {
		if m < 1 || (cfg.Ch*m)%UNetGroups != 0 {
			panic(fmt.Sprintf("nn: unet: width %d·%d is not a multiple of %d groups", cfg.Ch, m, UNetGroups))
		}
	}
	if cfg.Resolution%(1<<(len(cfg.Mult)-1)) != 0 {
		panic(fmt.Sprintf("nn: unet: resolution %d is not divisible by 2^%d", cfg.Resolution, len(cfg.Mult)-1))
	}
	if err := cfg.CheckVariant(); err != nil {
		panic("nn: unet: " + err.Error())
	}
}

// CheckVariant returns an error for an unknown variant or a head count that the
// variant or the widths do not allow.
func (cfg UNetConfig) CheckVariant() error {
	switch cfg.Variant {
	case "", VariantDDPM:
		if cfg.Heads > 1 {
			return fmt.Errorf("num_heads %d needs variant %q (the DDPM UNet has one head)", cfg.Heads, VariantIDDPM)
		}
	case VariantIDDPM:
		heads := max(1, cfg.Heads)
		for _, m := range cfg.Mult {
			if (cfg.Ch*m)%heads != 0 {
				return fmt.Errorf("width %d·%d is not a multiple of num_heads %d", cfg.Ch, m, heads)
			}
		}
	default:
		return fmt.Errorf("unknown variant %q (want %s or %s)", cfg.Variant, VariantDDPM, VariantIDDPM)
	}
	if cfg.Heads < 0 || cfg.Heads > 64 {
		return fmt.Errorf("num_heads %d is out of range (want 0 to 64)", cfg.Heads)
	}
	return nil
}

// layerKey returns a fresh key for the next layer.
func (m *UNet) layerKey() philox.Key {
	m.nextKey++
	return m.key.Split(m.nextKey)
}

// NewUNet returns a UNet with PyTorch's default initialisation drawn from key.
func NewUNet(dev rt.Device, cfg UNetConfig, key philox.Key) *UNet {
	cfg.validate()
	cfg.Mult, cfg.AttnRes = slices.Clone(cfg.Mult), slices.Clone(cfg.AttnRes)
	m := &UNet{Config: cfg, temb: NewEmbeddingCache(cfg.TembIn, cfg.Improved()), key: key, dev: dev}
	m.Temb0 = NewLinear(dev, "temb.0", cfg.TembIn, m.TembCh(), m.layerKey())
	m.Temb1 = NewLinear(dev, "temb.2", m.TembCh(), m.TembCh(), m.layerKey())
	m.ConvIn = NewConv2d(dev, "conv_in", cfg.InCh, cfg.Ch, 3, 1, 1, m.layerKey())
	hs, cur, res := []int{cfg.Ch}, cfg.Ch, cfg.Resolution
	for i, mult := range cfg.Mult {
		l := &UNetLevel{}
		for j := range cfg.NumRes {
			p := fmt.Sprintf("down.%d", i)
			l.Blocks = append(l.Blocks, m.resBlock(fmt.Sprintf("%s.blocks.%d", p, j), cur, cfg.Ch*mult))
			cur = cfg.Ch * mult
			l.Attns = append(l.Attns, m.maybeAttn(fmt.Sprintf("%s.attns.%d", p, j), cur, res))
			hs = append(hs, cur)
		}
		if i != len(cfg.Mult)-1 {
			l.Downsample = NewDownsample(dev, fmt.Sprintf("down.%d.downsample", i), cur, m.layerKey())
			hs = append(hs, cur)
			res /= 2
		}
		m.Down = append(m.Down, l)
	}
	m.MidBlock1 = m.resBlock("mid_block1", cur, cur)
	m.MidAttn = m.attn("mid_attn", cur)
	m.MidBlock2 = m.resBlock("mid_block2", cur, cur)
	cur = m.buildUp(hs, cur, res)
	m.NormOut = NewGroupNorm(dev, "norm_out", cur, UNetGroups, m.eps())
	m.ConvOut = NewConv2d(dev, "conv_out", cur, cfg.InCh, 3, 1, 1, m.layerKey())
	if cfg.Improved() {
		rt.CopyInto(m.ConvOut.W.Value, rt.New(dev, m.ConvOut.W.Value.Shape()...))
		rt.CopyInto(m.ConvOut.B.Value, rt.New(dev, m.ConvOut.B.Value.Shape()...))
	}
	checkUnique(m.Params())
	return m
}

// eps is the GroupNorm epsilon of the variant: the reference's 1e-6, or PyTorch's
// default 1e-5 in improved DDPM.
func (m *UNet) eps() float32 {
	if m.Config.Improved() {
		return 1e-5
	}
	return UNetEps
}

// resBlock returns the variant's residual block from in to out channels.
func (m *UNet) resBlock(prefix string, in, out int) *ResBlock {
	if !m.Config.Improved() {
		return NewResBlock(m.dev, prefix, in, out, m.TembCh(), m.Config.Dropout, m.layerKey())
	}
	b := NewScaleShiftResBlock(m.dev, prefix, in, out, m.TembCh(), m.Config.Dropout, m.layerKey())
	b.Norm1.Eps, b.Norm2.Eps = m.eps(), m.eps()
	return b
}

// attn returns the variant's attention block over ch channels.
func (m *UNet) attn(prefix string, ch int) AttnLayer {
	if !m.Config.Improved() {
		return NewAttnBlock(m.dev, prefix, ch, m.layerKey())
	}
	return NewMultiHeadAttnBlock(m.dev, prefix, ch, max(1, m.Config.Heads), m.eps(), m.layerKey())
}

// buildUp adds the up path given the skip widths hs and returns its output width.
func (m *UNet) buildUp(hs []int, cur, res int) int {
	cfg := m.Config
	for k := range cfg.Mult {
		i := len(cfg.Mult) - 1 - k
		l := &UNetLevel{}
		for j := range cfg.NumRes + 1 {
			skip := hs[len(hs)-1]
			hs = hs[:len(hs)-1]
			p := fmt.Sprintf("up.%d", k)
			l.Blocks = append(l.Blocks, m.resBlock(fmt.Sprintf("%s.blocks.%d", p, j), cur+skip, cfg.Ch*cfg.Mult[i]))
			cur = cfg.Ch * cfg.Mult[i]
			l.Attns = append(l.Attns, m.maybeAttn(fmt.Sprintf("%s.attns.%d", p, j), cur, res))
		}
		if i != 0 {
			l.Upsample = NewUpsample(m.dev, fmt.Sprintf("up.%d.upsample", k), cur, m.layerKey())
			res *= 2
		}
		m.Up = append(m.Up, l)
	}
	if len(hs) != 0 || res != cfg.Resolution {
		panic("nn: unet: skip connections do not balance") // unreachable for a valid config
	}
	return cur
}

// maybeAttn returns an attention block when res is an attention resolution, else nil
// (PyTorch's nn.Identity, which has no parameters).
func (m *UNet) maybeAttn(prefix string, ch, res int) AttnLayer {
	if !slices.Contains(m.Config.AttnRes, res) {
		return nil
	}
	return m.attn(prefix, ch)
}

// Forward returns ε̂ (N, C, H, W) for x (N, C, H, W) at time inputs t (N of them), and
// the features the OCM head reads: the last hidden map before norm_out (N, ch, H, W).
func (m *UNet) Forward(c *Ctx, x *ad.Var, t []float64) (eps, features *ad.Var) {
	if len(t) != x.Shape()[0] {
		panic(fmt.Sprintf("nn: unet: %d time inputs for a batch of %d", len(t), x.Shape()[0]))
	}
	temb := m.TimeEmbedding(c, t)
	hs := []*ad.Var{m.ConvIn.Forward(c, x)}
	for _, l := range m.Down {
		for j, b := range l.Blocks {
			hs = append(hs, attnOrSkip(c, l.Attns[j], b.Forward(c, hs[len(hs)-1], temb)))
		}
		if l.Downsample != nil {
			hs = append(hs, l.Downsample.Forward(c, hs[len(hs)-1]))
		}
	}
	h := after(m.MidBlock1.Forward(c, hs[len(hs)-1], temb), func(h *ad.Var) *ad.Var { return m.MidAttn.Forward(c, h) })
	h = after(h, func(h *ad.Var) *ad.Var { return m.MidBlock2.Forward(c, h, temb) })
	for _, l := range m.Up {
		for j, b := range l.Blocks {
			skip := hs[len(hs)-1]
			hs = hs[:len(hs)-1]
			cat := ad.Concat(1, h, skip)
			ad.Release(h, cat)
			ad.Release(skip, cat)
			h = attnOrSkip(c, l.Attns[j], after(cat, func(h *ad.Var) *ad.Var { return b.Forward(c, h, temb) }))
		}
		if l.Upsample != nil {
			h = after(h, func(h *ad.Var) *ad.Var { return l.Upsample.Forward(c, h) })
		}
	}
	return after(m.NormOut.ForwardSiLU(c, h), func(n *ad.Var) *ad.Var { return m.ConvOut.Forward(c, n) }), h
}

// after returns f(h) and releases h (ad.Release), which f's result may share.
func after(h *ad.Var, f func(*ad.Var) *ad.Var) *ad.Var {
	y := f(h)
	ad.Release(h, y)
	return y
}

// TimeEmbedding returns the time embedding (N, TembCh()) that every residual block
// reads: the sinusoidal embedding of t through the two-layer MLP temb.
func (m *UNet) TimeEmbedding(c *Ctx, t []float64) *ad.Var {
	temb := ad.Const(m.temb.Embed(m.dev, t))
	return m.Temb1.Forward(c, ad.SiLU(m.Temb0.Forward(c, temb)))
}

// TembCh is the width of the time embedding, 4·Ch.
func (m *UNet) TembCh() int { return 4 * m.Config.Ch }

// attnOrSkip applies a when it is not nil.
func attnOrSkip(c *Ctx, a AttnLayer, h *ad.Var) *ad.Var {
	if a == nil {
		return h
	}
	return after(h, func(h *ad.Var) *ad.Var { return a.Forward(c, h) })
}

// Params lists the parameters in PyTorch's state_dict order.
func (m *UNet) Params() []*Param {
	ps := append(m.Temb0.Params(), m.Temb1.Params()...)
	ps = append(ps, m.ConvIn.Params()...)
	for _, l := range m.Down {
		ps = append(ps, l.params()...)
	}
	ps = append(ps, m.MidBlock1.Params()...)
	ps = append(ps, m.MidAttn.Params()...)
	ps = append(ps, m.MidBlock2.Params()...)
	for _, l := range m.Up {
		ps = append(ps, l.params()...)
	}
	ps = append(ps, m.NormOut.Params()...)
	return append(ps, m.ConvOut.Params()...)
}

// params lists a level's parameters: blocks, attentions, then the resampling layer.
func (l *UNetLevel) params() []*Param {
	var ps []*Param
	for _, b := range l.Blocks {
		ps = append(ps, b.Params()...)
	}
	for _, a := range l.Attns {
		if a != nil {
			ps = append(ps, a.Params()...)
		}
	}
	if l.Downsample != nil {
		ps = append(ps, l.Downsample.Params()...)
	}
	if l.Upsample != nil {
		ps = append(ps, l.Upsample.Params()...)
	}
	return ps
}

// LoadSafetensors sets every parameter from the tensor of the same name in f (a
// PyTorch state_dict saved with safetensors). Every parameter must be present with its
// shape; other tensors in f are ignored. On error no parameter is changed.
func (m *UNet) LoadSafetensors(f *safetensors.File) error {
	params := m.Params()
	vals := make([]*rt.Tensor, len(params))
	for i, p := range params {
		t, ok := f.Get(p.Name)
		if !ok {
			return fmt.Errorf("nn: unet: load: tensor %q missing", p.Name)
		}
		if !slices.Equal(t.Shape, p.Value.Shape()) {
			return fmt.Errorf("nn: unet: load: tensor %q has shape %v, want %v", p.Name, t.Shape, p.Value.Shape())
		}
		vals[i] = rt.FromSlice(p.Value.Device(), t.Data, t.Shape...)
	}
	for i, p := range params {
		p.Value = vals[i]
	}
	return nil
}
