package ocm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"ocm/nn"
	"ocm/nn/safetensors"
	rt "ocm/runtime"
)

// Progress is told how far a long task has come: done of total units of the named
// task, and the latest loss (NaN when none).
type Progress func(task string, done, total int, loss float64)

// Budget is the training and fitting budget of a run.
type Budget struct {
	TrainSteps, FitSteps int
	Batch                int
	LR                   float32
	EMADecay             float32
	MsEpsPerStep         int // examples per diffusion step for the Analytic-DPM table
	Seed                 uint64
}

// Override returns b with the steps, batch and learning rate of o where o sets them
// (non-zero): the flags a user gives over a data kind's defaults.
func (b Budget) Override(o Budget) Budget {
	if o.TrainSteps > 0 {
		b.TrainSteps = o.TrainSteps
	}
	if o.FitSteps > 0 {
		b.FitSteps = o.FitSteps
	}
	if o.Batch > 0 {
		b.Batch = o.Batch
	}
	if o.LR > 0 {
		b.LR = o.LR
	}
	return b
}

// HeadKinds lists the fitted head kinds in the fixed order of bundles and reports.
func HeadKinds() []HeadKind { return []HeadKind{HeadOCM, HeadSN, HeadNPR} }

// TrainRecord is what a finished backbone run reports.
type TrainRecord struct {
	Steps   int     // the budget
	Done    int     // steps taken by this process (fewer than Steps when resumed)
	Skipped int     // steps skipped for a non-finite loss or gradient
	Seconds float64 // wall time of this process
}

// TrainBackbone runs tr to its last step under c and swaps the EMA averages into
// params. Resumed from a training checkpoint, restore loads the model and tr's
// optimiser state is restored; from a fit checkpoint (training was complete) only
// restore runs, and the record is nil. newFile(step) starts a checkpoint.
func (c *Control) TrainBackbone(dev rt.Device, tr *Trainer, opt Optimisation, params []*nn.Param,
	restore func() error, newFile func(step int) *safetensors.File, prog Progress) (*TrainRecord, error) {
	switch c.Phase() {
	case PhaseFit:
		return nil, restore()
	case PhaseTrain:
		if err := restore(); err != nil {
			return nil, err
		}
		if err := c.RestoreOpt(dev, opt, PhaseTrain, tr.Cfg.Steps); err != nil {
			return nil, err
		}
		c.Resume = nil
	}
	el, done, err := c.RunTrainer(tr, opt, newFile, func(step, total int, loss float64) {
		if prog != nil {
			prog("train", step, total, loss)
		}
	})
	if err != nil {
		return nil, err
	}
	tr.EMA.Swap(params)
	return &TrainRecord{Steps: tr.Cfg.Steps, Done: done, Skipped: tr.Skipped, Seconds: el}, nil
}

// StampCheckpoint marks f as a checkpoint of phase at step with the budget's steps;
// settings (stored keys and values) are what a resumed run must share.
func StampCheckpoint(f *safetensors.File, phase string, step int, b Budget, settings map[string]string) {
	maps.Copy(f.Metadata, settings)
	f.Metadata["format"] = CheckpointFormat
	f.Metadata["phase"] = phase
	f.Metadata["step"] = strconv.Itoa(step)
	f.Metadata["setting.train_steps"] = strconv.Itoa(b.TrainSteps)
	f.Metadata["setting.fit_steps"] = strconv.Itoa(b.FitSteps)
}

// MatchCheckpoint checks that the metadata md of checkpoint name has this run's
// values: want[k] for every k of keys (the model) and every entry of settings (the
// budget, stored under the same keys). The first that differs is a *ResumeError.
func MatchCheckpoint(name string, md, want map[string]string, keys []string, settings map[string]string) error {
	for _, k := range keys {
		if md[k] != want[k] {
			return &ResumeError{fmt.Errorf("ocm: %s was written for a different model: %s is %q, this run has %q",
				name, k, short(md[k]), short(want[k]))}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if md[k] != settings[k] {
			return &ResumeError{fmt.Errorf("ocm: %s was written with %s %s, this run has %s",
				name, strings.TrimPrefix(k, "setting."), md[k], settings[k])}
		}
	}
	return nil
}

// TrainRecordOf copies the training record of checkpoint metadata md (its train.*
// keys, without the prefix) into meta.
func TrainRecordOf(md, meta map[string]string) {
	for k, v := range md {
		if rest, ok := strings.CutPrefix(k, "train."); ok {
			meta[rest] = v
		}
	}
}

// short cuts a long metadata value for a one-line message.
func short(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// CheckFinite returns an error naming the first of ps with a NaN or ±Inf value:
// called before saving, so that broken weights are never written.
func CheckFinite(ps []*nn.Param) error {
	for _, p := range ps {
		if !nn.Finite(p.Value) {
			return fmt.Errorf("tensor %s has non-finite values; not saved", p.Name)
		}
	}
	return nil
}
