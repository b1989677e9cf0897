package images

import (
	"cmp"
	"fmt"
	"strconv"

	"ocm/ocm"
	"ocm/ocm/data"
)

// FitPreset names a set of head-fitting settings.
type FitPreset string

// Fit presets.
const (
	// FitPresetOCM is ocm's own: the budget's batch, learning rate and EMA rate, a
	// cosine decay of the rate to a tenth, the EMA with warm-up, the backbone in
	// evaluation mode.
	FitPresetOCM FitPreset = "ocm"
	// FitPresetOfficial is the reference code's (J-zin/OCM_DPM): batch 128, Adam at a
	// constant 1e-4, EMA 0.9999 from a copy of the weights without warm-up, the
	// backbone in training mode (dropout at its configuration's rate).
	FitPresetOfficial FitPreset = "official"
)

// String is the preset's name; the zero value is ocm's.
func (p FitPreset) String() string { return string(cmp.Or(p, FitPresetOCM)) }

// Set implements flag.Value.
func (p *FitPreset) Set(s string) error {
	switch v := FitPreset(s); v {
	case FitPresetOCM, FitPresetOfficial:
		*p = v
		return nil
	}
	return fmt.Errorf("unknown fit preset %q (want ocm or official)", s)
}

// BackboneMode is the mode the frozen backbone runs in while heads are fitted.
type BackboneMode string

// Backbone modes.
const (
	BackboneEval  BackboneMode = "eval"  // no dropout: a clean target
	BackboneTrain BackboneMode = "train" // dropout on at the UNet configuration's rate
)

// String is the mode's name; the zero value is "" (the preset's mode).
func (b BackboneMode) String() string { return string(b) }

// Set implements flag.Value.
func (b *BackboneMode) Set(s string) error {
	switch v := BackboneMode(s); v {
	case BackboneEval, BackboneTrain:
		*b = v
		return nil
	}
	return fmt.Errorf("unknown backbone mode %q (want eval or train)", s)
}

// FitSettings are how the heads are fitted, beyond the step budget. Zero values take
// the budget's (Batch, LR, EMADecay) or the defaults.
type FitSettings struct {
	Preset      FitPreset // the preset the values come from, for the record
	Batch       int       // examples per step (0: Budget.Batch)
	LR          float32   // Adam's rate (0: Budget.LR)
	EMADecay    float32   // rate of the heads' average (0: Budget.EMADecay)
	ConstantLR  bool      // no decay of the rate
	NoEMAWarmup bool      // the average at EMADecay from the first update
	// Backbone is the frozen backbone's mode ("": eval). In train mode the targets
	// see dropout at the UNet configuration's rate; a backbone without dropout (the
	// embedded Fashion-MNIST model's) gives the same targets in both modes.
	Backbone BackboneMode
	Probes   int  // Rademacher probes per example of the OCM target (0: 1)
	Separate bool // fit the heads one after another, a backbone pass per head and step (the joint fit's comparison)
	Curve    CurveSettings
}

// CurveSettings say where a fit measures its learning curve (see Curve).
type CurveSettings struct {
	Images int          // test images whose NLL is measured (0: no curve)
	Every  int          // steps between points (0: at every checkpoint, ocm.Control.Every)
	Data   *data.Images // the evaluation split; its first Images are used
	Split  string       // where Data comes from (data.Split.Describe), for the record
}

// PresetFit returns the fit settings of preset p (ocm's for the zero value).
func PresetFit(p FitPreset) FitSettings {
	if p == FitPresetOfficial {
		return FitSettings{Preset: p, Batch: 128, LR: 1e-4, EMADecay: 0.9999, ConstantLR: true, NoEMAWarmup: true,
			Backbone: BackboneTrain}
	}
	return FitSettings{Preset: FitPresetOCM, Backbone: BackboneEval}
}

// FitChoice is what a user chooses of a fit: a preset, the backbone's mode ("": the
// preset's) and the learning curve's size and cadence.
type FitChoice struct {
	Preset      FitPreset
	Backbone    BackboneMode
	CurveImages int
	CurveEvery  int
}

// MaxCurveImages is the most test images a learning curve may measure.
const MaxCurveImages = 100000

// Check returns a one-line error for a value out of range, naming its flag.
func (c FitChoice) Check() error {
	switch {
	case c.CurveImages != 0 && (c.CurveImages < 2 || c.CurveImages > MaxCurveImages):
		return fmt.Errorf("invalid value %d for flag --curve-images: want 0 (no learning curve) or 2 to %d", c.CurveImages, MaxCurveImages)
	case c.CurveEvery < 0:
		return fmt.Errorf("invalid value %d for flag --curve-every: want 0 (at every checkpoint) or more", c.CurveEvery)
	}
	return nil
}

// Settings returns the fit settings of the choice: the preset's, with the batch and
// learning rate of explicit where it sets them (the flags a user gave win over the
// preset), the backbone mode when chosen, probes Rademacher probes (0: 1) and the
// learning curve on the evaluation images of split (nil: none to measure on).
func (c FitChoice) Settings(explicit ocm.Budget, probes int, split *data.Split) FitSettings {
	fs := PresetFit(c.Preset)
	if explicit.Batch > 0 {
		fs.Batch = explicit.Batch
	}
	if explicit.LR > 0 {
		fs.LR = explicit.LR
	}
	if c.Backbone != "" {
		fs.Backbone = c.Backbone
	}
	fs.Probes = max(1, probes)
	fs.Curve = CurveSettings{Images: c.CurveImages, Every: c.CurveEvery}
	if split != nil {
		fs.Curve.Data, fs.Curve.Split = split.Eval, split.Describe()
	}
	return fs
}

// fitConfig is the optimisation of the heads under st, keyed by seed.
func (st Settings) fitConfig(seed uint64) ocm.TrainConfig {
	f := st.Fit
	return ocm.TrainConfig{Steps: st.FitSteps, Batch: cmp.Or(f.Batch, st.Batch), LR: cmp.Or(f.LR, st.LR),
		EMADecay: cmp.Or(f.EMADecay, st.EMADecay), Seed: seed, Dropout: f.Backbone == BackboneTrain,
		ConstantLR: f.ConstantLR, EMANoWarmup: f.NoEMAWarmup}
}

// fitRecord is what the bundle records of the fit's settings (keys fit_*), and,
// without fit_preset, what a resumed fit must share with the checkpoint.
func (st Settings) fitRecord() map[string]string {
	cfg, f := st.fitConfig(0), st.Fit
	schedule, heads := "cosine", "joint"
	if cfg.ConstantLR {
		schedule = "constant"
	}
	if f.Separate {
		heads = "separate"
	}
	return map[string]string{"fit_preset": f.Preset.String(), "fit_batch": strconv.Itoa(cfg.Batch),
		"fit_lr": fmt.Sprint(cfg.LR), "fit_ema": fmt.Sprint(cfg.EMADecay), "fit_lr_schedule": schedule,
		"fit_ema_warmup": strconv.FormatBool(!cfg.EMANoWarmup), "fit_backbone": string(cmp.Or(f.Backbone, BackboneEval)),
		"fit_probes": strconv.Itoa(max(1, f.Probes)), "fit_heads": heads, "curve_images": strconv.Itoa(f.Curve.Images)}
}
