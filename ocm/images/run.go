package images

import (
	"fmt"
	"maps"
	"strconv"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
)

// Settings are the training and fitting budget of an image model.
type Settings struct {
	ocm.Budget
	Dropout bool        // dropout during training (the config's rate)
	Fit     FitSettings // how the heads are fitted (the zero value: ocm's preset, no learning curve)
}

// DefaultSettings is the budget of the embedded Fashion-MNIST model: about an hour of
// training on a 2-core CPU.
func DefaultSettings() Settings {
	return Settings{Budget: ocm.Budget{TrainSteps: 3000, FitSteps: 500, Batch: 64, LR: 5e-4, EMADecay: 0.999,
		MsEpsPerStep: 16, Seed: 1234}}
}

// Progress is told how far a long task has come (see ocm.Progress).
type Progress = ocm.Progress

// Train fits the backbone with the denoising loss on data and swaps in its EMA
// weights, under ctl (checkpoints, resumption, early stop; nil: none).
func Train(dev rt.Device, m *Model, data ocm.DataSource, st Settings, prog Progress, ctl *ocm.Control) error {
	ctl = ctl.OrNone()
	cfg := ocm.TrainConfig{Steps: st.TrainSteps, Batch: st.Batch, LR: st.LR, EMADecay: st.EMADecay,
		Seed: st.Seed, Dropout: st.Dropout}
	tr := ocm.NewTrainer(dev, m.Net, m.Sched, data, cfg)
	m.dataHash = ocm.DataHash(data)
	restore := func() error { return m.restore(dev, ctl, st) }
	newFile := func(step int) *safetensors.File { return m.checkpointFile(ocm.PhaseTrain, step, st) }
	rec, err := ctl.TrainBackbone(dev, tr, tr.Optimisation(names(m.backboneParams())), m.Net.Params(), restore, newFile, prog)
	if rec == nil || err != nil {
		return err
	}
	m.Meta["backbone_steps"] = strconv.Itoa(rec.Steps)
	m.Meta["backbone_skipped_steps"] = strconv.Itoa(rec.Skipped)
	if rec.LastSkip != "" {
		m.Meta["backbone_last_skip"] = rec.LastSkip
	}
	m.Meta["backbone_seconds"] = fmt.Sprintf("%.1f", rec.Seconds)
	m.Meta["backbone_seconds_per_step"] = fmt.Sprintf("%.3f", rec.Seconds/float64(max(1, rec.Done)))
	for k, v := range settingsRecord(st) {
		m.Meta[k] = v
	}
	return nil
}

func names(ps []*nn.Param) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

// settingsRecord are the settings a checkpoint records and a resumed run must share.
func settingsRecord(st Settings) map[string]string {
	return map[string]string{"seed": strconv.FormatUint(st.Seed, 10), "batch": strconv.Itoa(st.Batch),
		"lr": fmt.Sprint(st.LR), "ema": fmt.Sprint(st.EMADecay), "dropout": strconv.FormatBool(st.Dropout),
		"ms_eps_per_step": strconv.Itoa(st.MsEpsPerStep)}
}

// checkpointSettings are the settings of a checkpoint of phase under their
// checkpoint keys (setting.*), with the content hash of the data the run reads (see
// ocm.DataHash); a fit checkpoint adds the fit's settings (fitRecord).
func (m *Model) checkpointSettings(phase string, st Settings) map[string]string {
	out := map[string]string{}
	for k, v := range settingsRecord(st) {
		out["setting."+k] = v
	}
	if phase == ocm.PhaseFit {
		for k, v := range st.fitRecord() {
			if k != "fit_preset" { // the values count, not the preset's name
				out["setting."+k] = v
			}
		}
	}
	if m.dataHash != "" {
		out[ocm.SettingDataHash] = m.dataHash
	}
	return out
}

// checkpointFile starts a checkpoint of phase at step: the model's tensors, its
// metadata and the settings; the optimisations are added by the caller.
func (m *Model) checkpointFile(phase string, step int, st Settings) *safetensors.File {
	f := m.file()
	ocm.StampCheckpoint(f, phase, step, st.Budget, m.checkpointSettings(phase, st))
	return f
}

// restore checks that ctl.Resume was written for the same model and settings, then
// copies its tensors and training record into m.
func (m *Model) restore(dev rt.Device, ctl *ocm.Control, st Settings) error {
	md, name := maps.Clone(ctl.Resume.Metadata), ctl.ResumePath
	if md["head"] == "" {
		md["head"] = string(HeadSimple) // written before the complex head
	}
	keys := []string{"dataset", "unet_config", "head", "schedule", "diffusion_steps"}
	settings := ocm.ResumeSettings(m.checkpointSettings(ctl.Phase(), st), ctl.Phase(), st.Budget)
	if err := ocm.MatchCheckpoint(name, md, m.metadata(), keys, settings); err != nil {
		return err
	}
	if err := m.fill(dev, name, ctl.Resume); err != nil {
		return &ocm.ResumeError{Err: err}
	}
	ocm.TrainRecordOf(md, m.Meta)
	return nil
}
