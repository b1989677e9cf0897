package nn

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Checkpoint families: the PyTorch codebases whose UNets ocm can load.
const (
	// FamilyIDDPM is improved DDPM's UNetModel (openai/improved-diffusion; the
	// authors' CIFAR-10 and ImageNet64 backbones): time_embed.*, input_blocks.*,
	// middle_block.*, output_blocks.*, out.*, head out2.*.
	FamilyIDDPM = "iddpm"
	// FamilyDDPM is pytorch_diffusion's DDPM Model (the authors' CelebA64 and
	// LSUN-Bedroom backbones): temb.dense.*, down.*, mid.*, up.*, norm_out,
	// conv_out, heads norm_out2, conv_out2 and before_out.*.
	FamilyDDPM = "ddpm"
	// FamilyDiffusers is diffusers' UNet2DModel (config.json beside
	// diffusion_pytorch_model.safetensors).
	FamilyDiffusers = "diffusers"
)

// Arch is a UNet as a checkpoint family builds it: ocm's UNetConfig plus the
// conventions in which the family differs from the UNet NewUNet builds for that
// config. The zero value of every field but Config means "as NewUNet builds it".
// A model converted from a checkpoint must be rebuilt from its Arch (a bundle made
// from it has to store the Arch, not only the Config).
type Arch struct {
	Family string     `json:"family"`
	Config UNetConfig `json:"config"`
	// EmbedShift is s in the embedding frequencies exp(−ln(10⁴)·i/(half − s)):
	// 0 as ocm and improved DDPM, 1 as pytorch_diffusion (diffusers' freq_shift).
	EmbedShift int `json:"embed_shift,omitempty"`
	// EmbedCosFirst lays the embedding out [cos, sin] (improved DDPM; diffusers'
	// flip_sin_to_cos) rather than [sin, cos]; it overrides the variant's layout.
	EmbedCosFirst bool `json:"embed_cos_first"`
	// PadDownRightBottom makes every downsampling convolution pad one zero row and
	// column at the bottom and right only, then convolve 3×3 with stride 2
	// (pytorch_diffusion; diffusers' downsample_padding 0), instead of padding
	// one on every side. ocm computes it as a 4×4 kernel whose first row and
	// column are zero, with padding 1.
	PadDownRightBottom bool `json:"pad_down_right_bottom,omitempty"`
	// NormEps is every backbone GroupNorm's epsilon (0: the variant's).
	NormEps float32 `json:"norm_eps,omitempty"`
	// AttnHeadDim, when positive, gives every attention layer ch/AttnHeadDim heads
	// of improved DDPM's multi-head form (diffusers' attention_head_dim).
	AttnHeadDim int `json:"attn_head_dim,omitempty"`
	// OutCh is the output channels of the checkpoint's last convolution: InCh,
	// or 2·InCh for a model that also predicts its variance (ocm keeps ε, the
	// first InCh). 0 means InCh.
	OutCh int `json:"out_ch,omitempty"`
	// Head is the checkpoint's covariance head, if its family has one.
	Head HeadArch `json:"head"`
}

// HeadArch is a checkpoint's covariance head (ocm-math §3.3).
type HeadArch struct {
	// Mode is "simple", "complex" or "" (no head).
	Mode string `json:"mode,omitempty"`
	// ScaleShift selects improved DDPM's residual block in the complex head;
	// false is pytorch_diffusion's additive one.
	ScaleShift bool `json:"scale_shift,omitempty"`
	// NormEps is the epsilon of the head's GroupNorms.
	NormEps float32 `json:"norm_eps,omitempty"`
}

// Plain reports whether a's network is exactly the one NewUNet builds for
// a.Config, so that a bundle of it needs only the config.
func (a *Arch) Plain() bool {
	return a.EmbedShift == 0 && a.EmbedCosFirst == a.Config.Improved() && !a.PadDownRightBottom &&
		a.NormEps == 0 && a.AttnHeadDim == 0
}

// NewUNet builds the UNet of a with PyTorch's default initialisation drawn from
// key (the weights a checkpoint then replaces).
func (a *Arch) NewUNet(dev rt.Device, key philox.Key) *UNet {
	m := NewUNet(dev, a.Config, key)
	cfg := m.Config
	if a.EmbedShift != 0 || a.EmbedCosFirst != cfg.Improved() {
		m.temb = newShiftedEmbeddingCache(cfg.TembIn, a.EmbedShift, a.EmbedCosFirst)
	}
	if a.AttnHeadDim > 0 {
		m.eachAttn(func(at *AttnLayer, ch int) {
			*at = NewMultiHeadAttnBlock(dev, attnPrefix(*at), ch, ch/a.AttnHeadDim, m.eps(), m.layerKey())
		})
	}
	if a.PadDownRightBottom {
		for _, l := range m.Down {
			if l.Downsample != nil {
				c := l.Downsample.Conv
				ch := c.W.Value.Shape()[0]
				c.W.Value = rt.New(dev, ch, ch, 4, 4)
			}
		}
	}
	if a.NormEps != 0 {
		for _, g := range m.groupNorms() {
			g.Eps = a.NormEps
		}
	}
	return m
}

// NewHead builds the checkpoint's head named prefix (nil when it has none): the
// simple or complex head of ocm-math §3.3 with the family's block and epsilon.
func (a *Arch) NewHead(dev rt.Device, prefix string, key philox.Key) *ConvHead {
	if a.Head.Mode == "" {
		return nil
	}
	cfg := a.Config
	ch, tembCh := cfg.Ch*cfg.Mult[0], 0
	if a.Head.Mode == "complex" {
		tembCh = 4 * cfg.Ch
	}
	h := NewConvHead(dev, prefix, ch, cfg.InCh, tembCh, key)
	h.Norm.Eps = a.Head.NormEps
	if h.Block != nil && !a.Head.ScaleShift {
		h.Block = NewResBlock(dev, prefix+".block", ch, ch, tembCh, 0, key.Split(1<<20))
	}
	if h.Block != nil {
		h.Block.Norm1.Eps, h.Block.Norm2.Eps = a.Head.NormEps, a.Head.NormEps
	}
	return h
}

// newShiftedEmbeddingCache returns an embedding cache with frequencies
// exp(−ln(10⁴)·i/(dim/2 − shift)).
func newShiftedEmbeddingCache(dim, shift int, cosFirst bool) *EmbeddingCache {
	half := dim / 2
	f := make([]float64, half)
	for i := range f {
		f[i] = math.Exp(-math.Log(10000) * float64(i) / float64(half-shift))
	}
	return &EmbeddingCache{dim: dim, cosFirst: cosFirst, freqs: f, rows: map[float64][]float32{}}
}

// eachAttn calls fn on every attention slot of the UNet that holds a layer, with
// its channel count.
func (m *UNet) eachAttn(fn func(at *AttnLayer, ch int)) {
	levels := append(slices.Clone(m.Down), m.Up...)
	for _, l := range levels {
		for j := range l.Attns {
			if l.Attns[j] != nil {
				fn(&l.Attns[j], l.Blocks[j].Conv2.W.Value.Shape()[0])
			}
		}
	}
	fn(&m.MidAttn, m.MidBlock1.Conv2.W.Value.Shape()[0])
}

// attnPrefix recovers an attention layer's name prefix from its norm's name.
func attnPrefix(a AttnLayer) string {
	return strings.TrimSuffix(a.Params()[0].Name, ".norm.weight")
}

// groupNorms lists every GroupNorm of the backbone.
func (m *UNet) groupNorms() []*GroupNorm {
	var gs []*GroupNorm
	blocks := []*ResBlock{m.MidBlock1, m.MidBlock2}
	for _, l := range append(slices.Clone(m.Down), m.Up...) {
		blocks = append(blocks, l.Blocks...)
	}
	for _, b := range blocks {
		gs = append(gs, b.Norm1, b.Norm2)
	}
	m.eachAttn(func(at *AttnLayer, _ int) {
		switch a := (*at).(type) {
		case *AttnBlock:
			gs = append(gs, a.Norm)
		case *MultiHeadAttnBlock:
			gs = append(gs, a.Norm)
		}
	})
	return append(gs, m.NormOut)
}

// Published is a released model: its architecture, the schedule it was trained
// with, and how it reads time.
type Published struct {
	Name     string // e.g. "ocm-cifar10-ls"
	Arch     Arch   // for diffusers models, Config comes from config.json
	Schedule string // "linear" (DDPM's β from 1e-4 to 0.02·1000/N) or "cosine"
	N        int    // diffusion steps
	// TimeShift is s in the network's time input (n − s)·1000/N for step n
	// (ocm-math §1.5): 0 for CIFAR-10, 1 for CelebA64, LSUN and ImageNet64.
	TimeShift int
	About     string // what the checkpoint is, in a few words
	// Prefix, when set, names the wrapper under which the file holds the state
	// dict to load ("ema." of {"model": …, "ema": …}; "4." of a [model,
	// optimizer, epoch, step, ema] list) instead of the one Convert finds.
	Prefix string
}

// TimeInput returns the network's time input for diffusion step n (1 ≤ n ≤ N).
func (p *Published) TimeInput(n int) float64 {
	return float64(n-p.TimeShift) * 1000 / float64(p.N)
}

// PublishedModels lists the models LookupPublished knows, by name.
func PublishedModels() []string {
	var names []string
	for n := range publishedTable() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupPublished returns the published model called name.
func LookupPublished(name string) (*Published, error) {
	p, ok := publishedTable()[name]
	if !ok {
		return nil, fmt.Errorf("unknown model %q (want one of %s)", name, strings.Join(PublishedModels(), ", "))
	}
	return &p, nil
}

// publishedTable is the table of published models (J-zin/OCM_DPM's README and
// configs; ocm-math §1.5 and §3.3).
func publishedTable() map[string]Published {
	iddpmHead := func(mode string) HeadArch { return HeadArch{Mode: mode, ScaleShift: true, NormEps: 1e-5} }
	ddpmHead := func(mode string) HeadArch { return HeadArch{Mode: mode, NormEps: UNetEps} }
	cifar := Arch{Family: FamilyIDDPM, Config: UNetCIFAR(), EmbedCosFirst: true, Head: iddpmHead("simple")}
	imagenet := Arch{Family: FamilyIDDPM, EmbedCosFirst: true, OutCh: 6, Head: iddpmHead("complex"),
		Config: UNetConfig{InCh: 3, Ch: 128, Mult: []int{1, 2, 3, 4}, NumRes: 3, AttnRes: []int{16, 8},
			Resolution: 64, TembIn: 128, Variant: VariantIDDPM, Heads: 4}}
	celeba := Arch{Family: FamilyDDPM, EmbedShift: 1, PadDownRightBottom: true, Head: ddpmHead("simple"),
		Config: UNetConfig{InCh: 3, Ch: 128, Mult: []int{1, 2, 2, 2, 4}, NumRes: 2, AttnRes: []int{16},
			Resolution: 64, Dropout: 0.1, TembIn: 128, Variant: VariantDDPM}}
	lsun := Arch{Family: FamilyDDPM, EmbedShift: 1, PadDownRightBottom: true, Head: ddpmHead("complex"),
		Config: UNetConfig{InCh: 3, Ch: 128, Mult: []int{1, 1, 2, 2, 4, 4}, NumRes: 2, AttnRes: []int{16},
			Resolution: 256, TembIn: 128, Variant: VariantDDPM}}
	ddpmCIFAR := Arch{Family: FamilyDDPM, EmbedShift: 1, PadDownRightBottom: true,
		Config: UNetConfig{InCh: 3, Ch: 128, Mult: []int{1, 2, 2, 2}, NumRes: 2, AttnRes: []int{16},
			Resolution: 32, Dropout: 0.1, TembIn: 128, Variant: VariantDDPM}}
	return map[string]Published{
		"ddpm-cifar10": {Name: "ddpm-cifar10", Arch: ddpmCIFAR, Schedule: "linear", N: 1000, TimeShift: 1,
			About: "Ho et al.'s CIFAR-10 DDPM in pytorch_diffusion's names (diffusion_cifar10_model), no head"},
		"ocm-cifar10-ls": {Name: "ocm-cifar10-ls", Arch: cifar, Schedule: "linear", N: 1000,
			About: "OCM CIFAR-10, linear schedule: improved-DDPM UNet, simple head out2"},
		"ocm-cifar10-cs": {Name: "ocm-cifar10-cs", Arch: cifar, Schedule: "cosine", N: 1000,
			About: "OCM CIFAR-10, cosine schedule: improved-DDPM UNet, simple head out2"},
		"ocm-imagenet64": {Name: "ocm-imagenet64", Arch: imagenet, Schedule: "cosine", N: 4000, TimeShift: 1,
			About: "OCM ImageNet 64×64: improved-DDPM UNet with learned variance (ε kept), complex head out2"},
		"ocm-celeba64": {Name: "ocm-celeba64", Arch: celeba, Schedule: "linear", N: 1000, TimeShift: 1,
			About: "OCM CelebA 64×64: pytorch_diffusion DDPM, simple head norm_out2/conv_out2"},
		"ocm-lsun-bedroom": {Name: "ocm-lsun-bedroom", Arch: lsun, Schedule: "linear", N: 1000, TimeShift: 1,
			About: "OCM LSUN-Bedroom 256×256: pytorch_diffusion DDPM, complex head before_out/norm_out2/conv_out2"},
		"diffusers": {Name: "diffusers", Arch: Arch{Family: FamilyDiffusers}, Schedule: "linear", N: 1000, TimeShift: 1,
			About: "a diffusers UNet2DModel (config.json beside its weights); DDPMScheduler's defaults unless scheduler_config.json says otherwise"},
	}
}
