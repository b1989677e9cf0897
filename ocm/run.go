package ocm

import (
	"cmp"
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
	Steps   int // the budget
	Done    int // steps taken by this process (fewer than Steps when resumed)
	Skipped int // steps skipped for a non-finite loss or gradient, or an overflowing Adam state
	// LastSkip says why the last skipped step of this process was ("" when none).
	LastSkip string
	Seconds  float64 // wall time over every process of the run (resumes included)
	// ThisProcess is the wall time of this process alone.
	ThisProcess float64
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
	wall := c.PriorSeconds + el // every process's time, not only this one's
	c.PriorSeconds = 0          // the fit phase that may follow starts its own clock
	return &TrainRecord{Steps: tr.Cfg.Steps, Done: done, Skipped: tr.Skipped, LastSkip: tr.LastSkip, Seconds: wall, ThisProcess: el}, nil
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
// budget, stored under the same keys; see ResumeSettings). Every field that differs
// is named, with both values, in one *ResumeError: a resumed run is the same run or
// is refused.
func MatchCheckpoint(name string, md, want map[string]string, keys []string, settings map[string]string) error {
	var diffs []string
	for _, k := range keys {
		if md[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s is %q there, %q here", k, short(md[k]), short(want[k])))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if md[k] != settings[k] {
			diffs = append(diffs, fmt.Sprintf("%s %s there, %s here", strings.TrimPrefix(k, "setting."), orNone(short(md[k])), short(settings[k])))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	return &ResumeError{fmt.Errorf("ocm: %s was written by another run, which this one cannot continue: %s",
		name, strings.Join(diffs, "; "))}
}

// orNone is s, or "(none)" when empty.
func orNone(s string) string { return cmp.Or(s, "(none)") }

// Setting keys of a checkpoint beyond the per-kind settings: the data's content hash
// (see DataHash) and the step budgets StampCheckpoint records.
const (
	SettingDataHash   = "setting.data_sha256"
	SettingTrainSteps = "setting.train_steps"
	SettingFitSteps   = "setting.fit_steps"
)

// ResumeSettings returns settings with the step budget that a checkpoint of phase
// shapes: train_steps for training (its cosine learning rate decays over the
// total, so a resumed run with another total matches no run), fit_steps for fitting.
// The other phase's budget is not compared: a training checkpoint resumed with
// another fit budget fits as a fresh run with that budget would.
func ResumeSettings(settings map[string]string, phase string, b Budget) map[string]string {
	out := maps.Clone(settings)
	switch phase {
	case PhaseTrain:
		out[SettingTrainSteps] = strconv.Itoa(b.TrainSteps)
	case PhaseFit:
		out[SettingFitSteps] = strconv.Itoa(b.FitSteps)
	}
	return out
}

// ContentHasher is a DataSource that names its content: a hash that differs
// whenever the examples it serves would (data.Images's pixels and labels, say).
type ContentHasher interface {
	ContentHash() string
}

// DataHash is d's content hash when d is a ContentHasher, else "" (a source drawn
// from a distribution that the checkpoint records otherwise, like a mixture).
func DataHash(d DataSource) string {
	if h, ok := d.(ContentHasher); ok {
		return h.ContentHash()
	}
	return ""
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

// MaxDiffusionSteps is the most diffusion steps a schedule may have, from a flag, a
// configuration or a bundle's metadata (a schedule of N steps allocates O(N) tables).
const MaxDiffusionSteps = 100000

// ParseDiffusionSteps parses the diffusion_steps metadata of bundle name: an integer
// from 2 to MaxDiffusionSteps, refused before any schedule is made.
func ParseDiffusionSteps(name, s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 2 || n > MaxDiffusionSteps {
		return 0, fmt.Errorf("%s: metadata diffusion_steps %q is not an integer from 2 to %d", name, short(s), MaxDiffusionSteps)
	}
	return n, nil
}

// MaxModelParams is the most parameters a model built from a file's description
// may have (4 GiB of float32), whatever the file holds.
const MaxModelParams = 1 << 30

// FileValues is the number of values in f's tensors.
func FileValues(f *safetensors.File) int64 {
	var n int64
	for _, t := range f.Tensors {
		n += int64(len(t.Data))
	}
	return n
}

// CheckParamBudget refuses, before anything is allocated, a model described in the
// metadata of file name (what: the fields that size it) that needs more than need
// parameters than the file's tensors hold, or than MaxModelParams: every parameter
// must be in the file, so a small file with large sizes in its metadata is refused.
func CheckParamBudget(name, what string, need int64, f *safetensors.File) error {
	if have := FileValues(f); need > have || need > MaxModelParams {
		return fmt.Errorf("%s: metadata %s describes a model of %d parameters, but the file holds %d values (and a model may have at most %d)",
			name, what, need, have, MaxModelParams)
	}
	return nil
}

// CheckTensorsFinite refuses a file (named name) whose tensors hold a NaN or ±Inf,
// naming the first such tensor and its first bad index: weights or tables that would
// sample NaN are refused at load, not discovered in the output.
func CheckTensorsFinite(name string, f *safetensors.File) error {
	for _, t := range f.Tensors {
		for i, v := range t.Data {
			if v-v != 0 {
				return fmt.Errorf("%s: tensor %q has a non-finite value (%v at index %d); the file is refused", name, t.Name, v, i)
			}
		}
	}
	return nil
}

// FillParams copies the tensors of bundle f (named name) into ps, each found by its
// name and checked for shape.
func FillParams(dev rt.Device, name string, f *safetensors.File, ps []*nn.Param) error {
	for _, p := range ps {
		t, ok := f.Get(p.Name)
		if !ok {
			return fmt.Errorf("%s: tensor %q is missing", name, p.Name)
		}
		if !rt.SameShape(t.Shape, p.Value.Shape()) {
			return fmt.Errorf("%s: tensor %q has shape %v, the model needs %v", name, p.Name, t.Shape, p.Value.Shape())
		}
		rt.CopyInto(p.Value, rt.FromSlice(dev, t.Data, t.Shape...))
	}
	return nil
}

// ResumingFit says whether c resumes a fit checkpoint; a training checkpoint is a
// *ResumeError (what names the application in the message).
func (c *Control) ResumingFit(what string) (bool, error) {
	switch c.Phase() {
	case "":
		return false, nil
	case PhaseTrain:
		return false, &ResumeError{fmt.Errorf("%s: %s is a checkpoint of training, not of fitting; resume with --train", what, c.ResumePath)}
	}
	return true, nil
}
