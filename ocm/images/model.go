package images

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// BundleFormat names the layout of an image bundle in its safetensors metadata.
const BundleFormat = "ocm-image-bundle/1"

// HeadMode is the form of the covariance heads (ocm-math §3.3).
type HeadMode string

// Head modes: the paper uses simple heads for CIFAR-10 and CelebA, complex ones for
// ImageNet and LSUN.
const (
	HeadSimple  HeadMode = "simple"  // GroupNorm → SiLU → zero-initialised 3×3 conv
	HeadComplex HeadMode = "complex" // one residual block on the time embedding, then as simple
)

// ParseHeadMode returns the head mode named s.
func ParseHeadMode(s string) (HeadMode, error) {
	switch m := HeadMode(s); m {
	case HeadSimple, HeadComplex:
		return m, nil
	}
	return "", fmt.Errorf("unknown head %q (want simple or complex)", s)
}

// IsHeadMode reports whether s names a head mode.
func IsHeadMode(s string) bool {
	_, err := ParseHeadMode(s)
	return err == nil
}

// Model is everything the image pipeline trains: the UNet backbone, the covariance
// heads on its last feature map, and the Analytic-DPM table.
type Model struct {
	Dataset  string // e.g. "fashion-mnist"
	Config   nn.UNetConfig
	Sched    *sampler.Schedule
	Net      *nn.UNet
	Heads    map[ocm.HeadKind]*ocm.Head
	HeadMode HeadMode          // the form of every head
	MsEps    []float64         // (N+1), nil until fitted
	Meta     map[string]string // training settings and results, for the record
	// Arch is the family a published checkpoint was converted from (nil for ocm's
	// own models): its network differs from NewUNet's in conventions a bundle records.
	Arch *nn.Arch

	teacher  *ocm.CachedTeacher
	dataHash string // content hash of the data of the run in progress, for its checkpoints
}

// NewModel returns an untrained model with heads of the given mode; every weight is
// drawn from seed.
func NewModel(dev rt.Device, dataset string, cfg nn.UNetConfig, sched *sampler.Schedule, head HeadMode, seed uint64) *Model {
	key := modelKey(seed)
	m := &Model{Dataset: dataset, Config: cfg, Sched: sched, Net: nn.NewUNet(dev, cfg, key.Split(0)),
		Meta: map[string]string{}}
	m.NewHeads(dev, head, seed)
	m.teacher = &ocm.CachedTeacher{Teacher: &ocm.NetTeacher{Net: m.Net, Sched: sched}}
	return m
}

func modelKey(seed uint64) philox.Key { return philox.Key{Seed: seed, Stream: 1 << 32} }

// NewHeads replaces every head with an unfitted one of the given mode drawn from
// seed (the heads NewModel makes with that seed).
func (m *Model) NewHeads(dev rt.Device, mode HeadMode, seed uint64) {
	key := modelKey(seed)
	var emb ocm.TimeEmbedder
	if mode == HeadComplex {
		emb = func(t []float64) *rt.Tensor { return m.Net.TimeEmbedding(nn.Eval(), t).Value }
	}
	m.HeadMode, m.Heads = mode, map[ocm.HeadKind]*ocm.Head{}
	for i, k := range ocm.HeadKinds() {
		m.Heads[k] = ocm.NewConvHead(dev, k, m.Config.Ch*m.Config.Mult[0], m.Config.InCh, emb, m.Net.TembCh(), key.Split(uint64(10+i)))
	}
}

// Teacher returns the frozen backbone as a teacher; its last evaluation is cached, so
// predictors of several covariances share one network pass per x_t.
func (m *Model) Teacher() ocm.Teacher { return m.teacher }

// Predictor returns the denoiser of covariance cov: c_t clamped to [0, 1], the bound
// for data in [−1, 1] (ocm-math §4.5).
func (m *Model) Predictor(cov ocm.Covariance) *ocm.Predictor {
	p := &ocm.Predictor{Teacher: m.teacher, Sched: m.Sched, Cov: cov, MsEps: m.MsEps, CovMax: 1}
	switch cov {
	case ocm.CovOCM:
		p.Head = m.Heads[ocm.HeadOCM]
	case ocm.CovSN:
		p.Head = m.Heads[ocm.HeadSN]
	case ocm.CovNPR:
		p.Head = m.Heads[ocm.HeadNPR]
	}
	return p
}

// Covariances returns the estimators an image model offers, in table order.
func Covariances() []ocm.Covariance {
	return []ocm.Covariance{ocm.CovSmall, ocm.CovLarge, ocm.CovAnalytic, ocm.CovSN, ocm.CovNPR, ocm.CovOCM}
}

// params lists every tensor of the bundle with its file name.
func (m *Model) params() []*nn.Param {
	ps := m.backboneParams()
	for _, k := range ocm.HeadKinds() {
		ps = append(ps, m.Heads[k].Params()...)
	}
	return ps
}

// backboneParams are the backbone's parameters under their bundle names.
func (m *Model) backboneParams() []*nn.Param {
	var ps []*nn.Param
	for _, p := range m.Net.Params() {
		ps = append(ps, &nn.Param{Name: "backbone." + p.Name, Value: p.Value})
	}
	return ps
}

// file returns the bundle as a safetensors file (tensors not copied).
func (m *Model) file() *safetensors.File {
	f := &safetensors.File{Metadata: m.metadata()}
	for _, p := range m.params() {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: p.Name, Shape: p.Value.Shape(), Data: p.Value.Data()})
	}
	if m.MsEps != nil {
		tab := make([]float32, len(m.MsEps))
		for i, v := range m.MsEps {
			tab[i] = float32(v)
		}
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "analytic.ms_eps", Shape: []int{len(tab)}, Data: tab})
	}
	return f
}

// Save writes the bundle to path atomically (zstd-compressed when path ends in .zst).
func (m *Model) Save(path string) error {
	if err := m.CheckFinite(); err != nil {
		return err
	}
	return safetensors.WriteFile(path, m.file(), safetensors.F32)
}

func (m *Model) metadata() map[string]string {
	cfg, _ := json.Marshal(m.Config)
	md := map[string]string{"format": BundleFormat, "model": "unet", "dataset": m.Dataset,
		"unet_config": string(cfg), "head": string(m.HeadMode), "schedule": m.Sched.Kind.String(),
		"diffusion_steps": strconv.Itoa(m.Sched.N),
		"image_shape":     fmt.Sprintf("%d,%d,%d", m.Config.InCh, m.Config.Resolution, m.Config.Resolution)}
	for k, v := range m.Meta {
		md["train."+k] = v
	}
	m.archMetadata(md)
	return md
}

// IsBundle reports whether f is an image bundle (and not, say, a toy bundle).
func IsBundle(f *safetensors.File) bool { return f.Metadata["format"] == BundleFormat }

// Load reads a bundle written by Save. name is used in errors (the file or "embedded").
// Every size in the metadata is checked before the model is built: the UNet against
// CheckConfig and, through ParamLowerBound, against the values the file holds (see
// ocm.CheckParamBudget), the schedule against ocm.MaxDiffusionSteps. A bundle with a
// NaN or ±Inf in a tensor, or with a tensor the model lacks, is refused by its name.
func Load(dev rt.Device, name string, f *safetensors.File) (*Model, error) {
	md := f.Metadata
	if md["format"] != BundleFormat {
		return nil, fmt.Errorf("%s: not an image bundle (metadata format %q, want %q)", name, md["format"], BundleFormat)
	}
	var cfg nn.UNetConfig
	if err := json.Unmarshal([]byte(md["unet_config"]), &cfg); err != nil {
		return nil, fmt.Errorf("%s: metadata unet_config: %v", name, err)
	}
	if err := CheckConfig(cfg); err != nil {
		return nil, fmt.Errorf("%s: metadata unet_config: %w", name, err)
	}
	kind, err := sampler.ParseBetaSchedule(md["schedule"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n, err := ocm.ParseDiffusionSteps(name, md["diffusion_steps"])
	if err != nil {
		return nil, err
	}
	cfgDesc := fmt.Sprintf("unet_config (ch %d, ch_mult %v, num_res_blocks %d)", cfg.Ch, cfg.Mult, cfg.NumRes)
	if err := ocm.CheckParamBudget(name, cfgDesc, ParamLowerBound(cfg), f); err != nil {
		return nil, err
	}
	if err := ocm.CheckTensorsFinite(name, f); err != nil {
		return nil, err
	}
	sched, err := sampler.NewSchedule(kind, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	head := HeadSimple // bundles before the complex head have no "head" key
	if v, ok := md["head"]; ok {
		if head, err = ParseHeadMode(v); err != nil {
			return nil, fmt.Errorf("%s: metadata head: %w", name, err)
		}
	}
	var m *Model
	if _, ok := md["arch"]; ok { // a published family's network: built once, from its arch
		if m, err = newModelFromArch(dev, md, sched); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	} else {
		m = NewModel(dev, md["dataset"], cfg, sched, head, 0)
	}
	known := map[string]bool{"analytic.ms_eps": true}
	for _, p := range m.params() {
		known[p.Name] = true
	}
	for _, t := range f.Tensors {
		if !known[t.Name] {
			return nil, fmt.Errorf("%s: tensor %q is not part of a %s-head model of this UNet", name, t.Name, head)
		}
	}
	for k, v := range md {
		if rest, ok := strings.CutPrefix(k, "train."); ok {
			m.Meta[rest] = v
		}
	}
	return m, m.fill(dev, name, f)
}

// Preset returns the UNet configuration named name for c×res×res images: "small"
// (the embedded Fashion-MNIST model's, sized for an hour of CPU training: 1,062,497
// parameters at 1×28×28), "unet-s" (the reference's, shared/bench/torch_ref.py) or
// "unet-cifar" (the paper's CIFAR-10 backbone, ocm-math Appendix B: 52,542,979
// parameters at 3×32×32; its four levels need a resolution divisible by 8).
func Preset(name string, c, res int) (nn.UNetConfig, error) {
	switch name {
	case "small":
		return nn.UNetConfig{InCh: c, Ch: 32, Mult: []int{1, 2, 2}, NumRes: 1, Resolution: res, TembIn: 32}, nil
	case "unet-s", "unet-cifar":
		cfg := nn.UNetS()
		if name == "unet-cifar" {
			cfg = nn.UNetCIFAR()
		}
		cfg.InCh, cfg.Resolution = c, res
		return cfg, nil
	}
	return nn.UNetConfig{}, fmt.Errorf("unknown UNet %q (want small, unet-s or unet-cifar)", name)
}

// CheckConfig returns an error for a UNet configuration that cannot be built or is
// implausibly large (the bounds keep a hostile file from allocating without limit).
func CheckConfig(c nn.UNetConfig) error {
	ok := c.InCh >= 1 && c.InCh <= 4 && c.Ch >= 1 && c.Ch <= 1024 && c.Ch%nn.UNetGroups == 0 &&
		len(c.Mult) >= 1 && len(c.Mult) <= 6 && c.NumRes >= 1 && c.NumRes <= 8 &&
		c.Resolution >= 4 && c.Resolution <= 512 && c.Resolution%(1<<(len(c.Mult)-1)) == 0 &&
		c.TembIn >= 2 && c.TembIn <= 4096 && c.TembIn%2 == 0 && c.Dropout >= 0 && c.Dropout < 1
	for _, v := range c.Mult {
		ok = ok && v >= 1 && v <= 16
	}
	if !ok {
		return fmt.Errorf("not a valid UNet configuration: %+v", c)
	}
	if err := c.CheckVariant(); err != nil {
		return err
	}
	if n := ParamLowerBound(c); n > MaxUNetParams {
		return fmt.Errorf("a UNet of ch %d, ch_mult %v, num_res_blocks %d has at least %d parameters, more than the %d allowed", c.Ch, c.Mult, c.NumRes, n, MaxUNetParams)
	}
	return nil
}

// MaxUNetParams is the most parameters a UNet may have (1 GiB of float32; the
// paper's CIFAR-10 backbone has 52.5M): a configuration asking for more is refused
// before anything is allocated.
const MaxUNetParams = 1 << 28

// ParamLowerBound is a lower bound on the parameter count of a UNet of
// configuration c (at least 75% of it for the presets), computed without building
// it: the 3×3 convolution weights of its residual blocks and resampling layers. It
// assumes c has passed CheckConfig's bounds on its fields.
func ParamLowerBound(c nn.UNetConfig) int64 {
	conv := func(in, out int) int64 { return 9 * int64(in) * int64(out) }
	block := func(in, out int) int64 { return conv(in, out) + conv(out, out) }
	var n int64
	hs, cur := []int{c.Ch}, c.Ch
	for i, mult := range c.Mult {
		for range c.NumRes {
			n += block(cur, c.Ch*mult)
			cur = c.Ch * mult
			hs = append(hs, cur)
		}
		if i != len(c.Mult)-1 {
			n += conv(cur, cur)
			hs = append(hs, cur)
		}
	}
	n += 2 * block(cur, cur) // the middle blocks
	for k := range c.Mult {
		i := len(c.Mult) - 1 - k
		for range c.NumRes + 1 {
			skip := hs[len(hs)-1]
			hs = hs[:len(hs)-1]
			n += block(cur+skip, c.Ch*c.Mult[i])
			cur = c.Ch * c.Mult[i]
		}
		if i != 0 {
			n += conv(cur, cur)
		}
	}
	return n
}

// fill copies the bundle's tensors into the model, checking names and shapes.
func (m *Model) fill(dev rt.Device, name string, f *safetensors.File) error {
	if err := ocm.FillParams(dev, name, f, m.params()); err != nil {
		return err
	}
	if t, ok := f.Get("analytic.ms_eps"); ok {
		if len(t.Data) != m.Sched.N+1 {
			return fmt.Errorf("%s: tensor %q has %d values, want %d", name, "analytic.ms_eps", len(t.Data), m.Sched.N+1)
		}
		m.MsEps = rt.Widen(t.Data)
	}
	return nil
}

// CheckFinite returns an error naming the first tensor with a NaN or ±Inf value:
// broken weights are never written.
func (m *Model) CheckFinite() error {
	if err := ocm.CheckFinite(m.params()); err != nil {
		return fmt.Errorf("images: %w", err)
	}
	return nil
}

// Describe is a one-line summary of the model for listings and records.
func (m *Model) Describe() string {
	var parts []string
	for _, k := range []string{"backbone_steps", "batch", "head_steps"} {
		if v, ok := m.Meta[k]; ok {
			parts = append(parts, k+" "+v)
		}
	}
	return fmt.Sprintf("%s, unet ch %d mult %v res-blocks %d, %d parameters, %s heads, %s", m.Dataset, m.Config.Ch,
		m.Config.Mult, m.Config.NumRes, nn.CountParams(m.Net.Params()), m.HeadMode, strings.Join(parts, ", "))
}
