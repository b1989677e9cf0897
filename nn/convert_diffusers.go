package nn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"ocm/nn/torchfile"
)

// diffusersConfig is a UNet2DModel's config.json, with diffusers' defaults for
// the keys a file omits (UNet2DModel.__init__).
type diffusersConfig struct {
	ClassName            string          `json:"_class_name"`
	SampleSize           json.RawMessage `json:"sample_size"`
	InChannels           int             `json:"in_channels"`
	OutChannels          int             `json:"out_channels"`
	CenterInputSample    bool            `json:"center_input_sample"`
	TimeEmbeddingType    string          `json:"time_embedding_type"`
	TimeEmbeddingDim     *int            `json:"time_embedding_dim"`
	FreqShift            int             `json:"freq_shift"`
	FlipSinToCos         bool            `json:"flip_sin_to_cos"`
	DownBlockTypes       []string        `json:"down_block_types"`
	UpBlockTypes         []string        `json:"up_block_types"`
	BlockOutChannels     []int           `json:"block_out_channels"`
	LayersPerBlock       int             `json:"layers_per_block"`
	MidBlockScaleFactor  float64         `json:"mid_block_scale_factor"`
	DownsamplePadding    int             `json:"downsample_padding"`
	DownsampleType       string          `json:"downsample_type"`
	UpsampleType         string          `json:"upsample_type"`
	Dropout              float64         `json:"dropout"`
	ActFn                string          `json:"act_fn"`
	AttentionHeadDim     *int            `json:"attention_head_dim"`
	NormNumGroups        int             `json:"norm_num_groups"`
	AttnNormNumGroups    *int            `json:"attn_norm_num_groups"`
	NormEps              float64         `json:"norm_eps"`
	ResnetTimeScaleShift string          `json:"resnet_time_scale_shift"`
	AddAttention         bool            `json:"add_attention"`
	ClassEmbedType       *string         `json:"class_embed_type"`
	NumClassEmbeds       *int            `json:"num_class_embeds"`
}

func defaultDiffusersConfig() diffusersConfig {
	eight := 8
	return diffusersConfig{InChannels: 3, OutChannels: 3, TimeEmbeddingType: "positional", FlipSinToCos: true,
		DownBlockTypes:   []string{"DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"},
		UpBlockTypes:     []string{"AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"},
		BlockOutChannels: []int{224, 448, 672, 896}, LayersPerBlock: 2, MidBlockScaleFactor: 1,
		DownsamplePadding: 1, DownsampleType: "conv", UpsampleType: "conv", ActFn: "silu",
		AttentionHeadDim: &eight, NormNumGroups: 32, NormEps: 1e-5, ResnetTimeScaleShift: "default", AddAttention: true}
}

// DiffusersArch returns the Arch of a diffusers UNet2DModel from its config.json,
// or an error naming the first key whose value ocm's UNet cannot express.
func DiffusersArch(raw []byte) (Arch, error) {
	c := defaultDiffusersConfig()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return Arch{}, fmt.Errorf("is not a JSON object: %v", err)
	}
	if err := c.check(); err != nil {
		return Arch{}, fmt.Errorf("does not fit ocm's UNet: %v", err)
	}
	res, err := c.resolution()
	if err != nil {
		return Arch{}, fmt.Errorf("does not fit ocm's UNet: %v", err)
	}
	cfg, err := c.unetConfig(res)
	if err != nil {
		return Arch{}, fmt.Errorf("does not fit ocm's UNet: %v", err)
	}
	a := Arch{Family: FamilyDiffusers, Config: cfg, EmbedShift: c.FreqShift, EmbedCosFirst: c.FlipSinToCos,
		PadDownRightBottom: c.DownsamplePadding == 0, NormEps: float32(c.NormEps), OutCh: c.OutChannels}
	if c.AttentionHeadDim != nil {
		a.AttnHeadDim = *c.AttentionHeadDim
	}
	if err := a.Config.CheckVariant(); err != nil {
		return Arch{}, fmt.Errorf("does not fit ocm's UNet: %v", err)
	}
	return a, nil
}

// check refuses the settings ocm's UNet does not have.
func (c *diffusersConfig) check() error {
	str := func(key, got, want string) error {
		if got != want {
			return fmt.Errorf("%s is %q, want %q", key, got, want)
		}
		return nil
	}
	for _, e := range []error{
		str("_class_name", c.ClassName, "UNet2DModel"),
		str("time_embedding_type", c.TimeEmbeddingType, "positional"),
		str("act_fn", c.ActFn, "silu"),
		str("downsample_type", c.DownsampleType, "conv"),
		str("upsample_type", c.UpsampleType, "conv"),
	} {
		if e != nil {
			return e
		}
	}
	switch {
	case c.CenterInputSample:
		return fmt.Errorf("center_input_sample is true (ocm's data are already in [−1, 1])")
	case c.ClassEmbedType != nil || c.NumClassEmbeds != nil:
		return fmt.Errorf("the model is class-conditional (class_embed_type or num_class_embeds set)")
	case c.MidBlockScaleFactor != 1:
		return fmt.Errorf("mid_block_scale_factor is %g, want 1", c.MidBlockScaleFactor)
	case c.NormNumGroups != UNetGroups || (c.AttnNormNumGroups != nil && *c.AttnNormNumGroups != UNetGroups):
		return fmt.Errorf("norm_num_groups (or attn_norm_num_groups) is not %d", UNetGroups)
	case !c.AddAttention:
		return fmt.Errorf("add_attention is false (ocm's middle block always attends)")
	case c.ResnetTimeScaleShift != "default" && c.ResnetTimeScaleShift != "scale_shift":
		return fmt.Errorf("resnet_time_scale_shift is %q, want default or scale_shift", c.ResnetTimeScaleShift)
	case c.ResnetTimeScaleShift == "scale_shift" && c.AttnNormNumGroups == nil:
		return fmt.Errorf("resnet_time_scale_shift scale_shift without attn_norm_num_groups leaves the middle attention without a GroupNorm")
	case c.DownsamplePadding != 0 && c.DownsamplePadding != 1:
		return fmt.Errorf("downsample_padding is %d, want 0 or 1", c.DownsamplePadding)
	case c.InChannels < 1 || (c.OutChannels != c.InChannels && c.OutChannels != 2*c.InChannels):
		return fmt.Errorf("out_channels %d is neither in_channels %d nor twice it", c.OutChannels, c.InChannels)
	case c.LayersPerBlock < 1 || c.LayersPerBlock > 64:
		return fmt.Errorf("layers_per_block is %d (want 1 to 64)", c.LayersPerBlock)
	case c.InChannels > 1<<10 || len(c.BlockOutChannels) > 16:
		return fmt.Errorf("in_channels %d or %d blocks is beyond any UNet ocm loads", c.InChannels, len(c.BlockOutChannels))
	case c.FreqShift != 0 && c.FreqShift != 1:
		return fmt.Errorf("freq_shift is %d, want 0 or 1", c.FreqShift)
	case c.AttentionHeadDim != nil && *c.AttentionHeadDim < 1:
		return fmt.Errorf("attention_head_dim is %d", *c.AttentionHeadDim)
	}
	return nil
}

// resolution reads sample_size: an int, or [h, w] with h = w.
func (c *diffusersConfig) resolution() (int, error) {
	var n int
	if err := json.Unmarshal(c.SampleSize, &n); err == nil && n > 0 && n <= 1<<14 {
		return n, nil
	}
	var hw []int
	if err := json.Unmarshal(c.SampleSize, &hw); err == nil && len(hw) == 2 && hw[0] == hw[1] && hw[0] > 0 && hw[0] <= 1<<14 {
		return hw[0], nil
	}
	return 0, fmt.Errorf("sample_size is %s, want a positive int up to 16384 (square images)", string(c.SampleSize))
}

// unetConfig turns the block lists into an ocm UNetConfig.
func (c *diffusersConfig) unetConfig(res int) (UNetConfig, error) {
	L := len(c.BlockOutChannels)
	if L == 0 || len(c.DownBlockTypes) != L || len(c.UpBlockTypes) != L {
		return UNetConfig{}, fmt.Errorf("block_out_channels, down_block_types and up_block_types have %d, %d and %d entries",
			L, len(c.DownBlockTypes), len(c.UpBlockTypes))
	}
	ch := c.BlockOutChannels[0]
	cfg := UNetConfig{InCh: c.InChannels, Ch: ch, NumRes: c.LayersPerBlock, Resolution: res,
		Dropout: float32(c.Dropout), TembIn: ch, Variant: VariantDDPM}
	if c.ResnetTimeScaleShift == "scale_shift" {
		cfg.Variant, cfg.Heads = VariantIDDPM, 1
	}
	if c.TimeEmbeddingDim != nil && *c.TimeEmbeddingDim != 4*ch {
		return UNetConfig{}, fmt.Errorf("time_embedding_dim is %d, ocm's is 4·%d", *c.TimeEmbeddingDim, ch)
	}
	for i, out := range c.BlockOutChannels {
		if out > 1<<16 {
			return UNetConfig{}, fmt.Errorf("block_out_channels %d is beyond any UNet ocm loads (at most 65536)", out)
		}
		if ch < UNetGroups || out%ch != 0 || out%UNetGroups != 0 {
			return UNetConfig{}, fmt.Errorf("block_out_channels %v: %d is not a multiple of %d and of %d groups", c.BlockOutChannels, out, ch, UNetGroups)
		}
		cfg.Mult = append(cfg.Mult, out/ch)
		down, err1 := blockAttends(c.DownBlockTypes[i], "DownBlock2D", "AttnDownBlock2D")
		up, err2 := blockAttends(c.UpBlockTypes[L-1-i], "UpBlock2D", "AttnUpBlock2D")
		if err1 != nil || err2 != nil {
			return UNetConfig{}, fmt.Errorf("block types: %v", firstErr(err1, err2))
		}
		if down != up {
			return UNetConfig{}, fmt.Errorf("down block %d (%s) and up block %d (%s) differ in attention; ocm attends at the same resolutions on both paths",
				i, c.DownBlockTypes[i], L-1-i, c.UpBlockTypes[L-1-i])
		}
		if down {
			cfg.AttnRes = append(cfg.AttnRes, res>>i)
		}
		if i < L-1 && (res>>i)%2 != 0 {
			return UNetConfig{}, fmt.Errorf("sample_size %d does not halve %d times", res, L-1)
		}
	}
	if h := c.AttentionHeadDim; h != nil {
		for _, out := range c.BlockOutChannels {
			if out%*h != 0 {
				return UNetConfig{}, fmt.Errorf("attention_head_dim %d does not divide %d channels", *h, out)
			}
		}
	}
	return cfg, nil
}

func blockAttends(typ, plain, attn string) (bool, error) {
	switch typ {
	case plain:
		return false, nil
	case attn:
		return true, nil
	}
	return false, fmt.Errorf("%q is neither %s nor %s", typ, plain, attn)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// diffusersSchedule reads the pipeline's scheduler_config.json, when there is one
// (DIR/../scheduler/ or beside the model), into p's schedule.
func diffusersSchedule(p *Published, dir string) error {
	var path string
	for _, c := range []string{filepath.Join(dir, "..", "scheduler", "scheduler_config.json"), filepath.Join(dir, "scheduler_config.json")} {
		if _, err := os.Stat(c); err == nil {
			path = c
			break
		}
	}
	if path == "" {
		return nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return &torchfile.Error{File: path, Reason: err.Error()}
	}
	s := struct {
		N         int     `json:"num_train_timesteps"`
		Schedule  string  `json:"beta_schedule"`
		BetaStart float64 `json:"beta_start"`
		BetaEnd   float64 `json:"beta_end"`
	}{N: 1000, Schedule: "linear", BetaStart: 1e-4, BetaEnd: 0.02}
	if err := json.Unmarshal(raw, &s); err != nil {
		return &torchfile.Error{File: path, Reason: err.Error()}
	}
	switch {
	case s.N < 2:
		return &torchfile.Error{File: path, Reason: fmt.Sprintf("num_train_timesteps is %d", s.N)}
	case s.Schedule == "squaredcos_cap_v2":
		p.Schedule = "cosine"
	case s.Schedule == "linear" && near(s.BetaStart, 1e-4*1000/float64(s.N)) && near(s.BetaEnd, 0.02*1000/float64(s.N)):
		p.Schedule = "linear"
	default:
		return &torchfile.Error{File: path, Reason: fmt.Sprintf("beta_schedule %q from %g to %g is not ocm's linear (1e-4 to 0.02, scaled by 1000/N) or cosine schedule",
			s.Schedule, s.BetaStart, s.BetaEnd)}
	}
	p.N = s.N
	return nil
}

// near reports whether a and b agree to 1e-9 relative.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }
