package images

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
)

// Settings are the training and fitting budget of an image model.
type Settings struct {
	ocm.Budget
	Dropout bool // dropout during training (the config's rate)
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

// Fit fits the OCM, SN and NPR heads on the frozen backbone (in evaluation mode: no
// dropout in the targets, a deliberate choice, ocm-math §3.3) one after the other, each
// using every core, then computes the Analytic-DPM table. A checkpoint after every
// ctl.Every steps of a head holds every head's state.
func Fit(dev rt.Device, m *Model, data ocm.DataSource, st Settings, prog Progress, ctl *ocm.Control) error {
	ctl = ctl.OrNone()
	m.dataHash = ocm.DataHash(data)
	fitters := make([]*ocm.HeadFitter, len(ocm.HeadKinds()))
	for i, k := range ocm.HeadKinds() {
		cfg := ocm.TrainConfig{Steps: st.FitSteps, Batch: st.Batch, LR: st.LR, EMADecay: st.EMADecay,
			Seed: st.Seed + uint64(100+i)}
		fitters[i] = ocm.NewHeadFitter(dev, m.Teacher(), m.Heads[k], m.Sched, data, cfg)
	}
	if err := m.resumeFit(dev, ctl, st, fitters); err != nil {
		return err
	}
	save := func() (string, error) {
		step := fitStep(fitters)
		f := m.checkpointFile(ocm.PhaseFit, step, st)
		for i, fi := range fitters {
			fi.Optimisation(names(fi.Head.Params())).AddTo(f, ocm.StatePrefix(fitPhase(ocm.HeadKinds()[i])))
		}
		ctl.StampWall(f)
		return ocm.WriteCheckpoint(ctl.Dir, ocm.CheckpointName(ocm.PhaseFit, step), f)
	}
	ctl.BeginPhase()
	total := st.FitSteps * len(fitters)
	var seconds [3]float64
	for i, fi := range fitters {
		t0 := time.Now()
		for fi.Step < st.FitSteps {
			loss, err := fi.FitStep()
			if err != nil {
				return err
			}
			if prog != nil {
				prog("fit "+ocm.HeadKinds()[i].String()+" head", fitStep(fitters), total, loss)
			}
			if err := ctl.Checkpoint(ocm.PhaseFit, fitStep(fitters), ctl.ShouldStop(), ctl.Due(fi.Step, st.FitSteps), save); err != nil {
				return err
			}
		}
		seconds[i] = time.Since(t0).Seconds()
	}
	watch := &ocm.Watch{Task: "analytic-dpm table (steps)", Progress: prog, Stop: ctl.ShouldStop}
	if m.MsEps = ocm.MsEps(dev, m.Teacher(), m.Sched, data, st.MsEpsPerStep, st.Seed+200, watch); m.MsEps == nil {
		return ctl.Checkpoint(ocm.PhaseFit, fitStep(fitters), true, false, save)
	}
	for _, fi := range fitters {
		fi.EMA.Swap(fi.Head.Params())
	}
	m.Meta["head_steps"] = strconv.Itoa(st.FitSteps)
	m.Meta["fit_seconds"] = fmt.Sprintf("%.1f", ctl.WallSeconds())
	for i, k := range ocm.HeadKinds() {
		if seconds[i] > 0 {
			m.Meta["fit_seconds_per_step."+k.String()] = fmt.Sprintf("%.3f", seconds[i]/float64(st.FitSteps))
		}
	}
	return nil
}

func fitPhase(k ocm.HeadKind) string { return ocm.PhaseFit + ":" + k.String() }

// fitStep is the steps done by all heads together: the fit phase's step.
func fitStep(fs []*ocm.HeadFitter) int {
	n := 0
	for _, f := range fs {
		n += f.Step
	}
	return n
}

// resumeFit restores the model and every head's state from a fit checkpoint.
func (m *Model) resumeFit(dev rt.Device, ctl *ocm.Control, st Settings, fitters []*ocm.HeadFitter) error {
	if ok, err := ctl.ResumingFit("images"); !ok || err != nil {
		return err
	}
	if err := m.restore(dev, ctl, st); err != nil {
		return err
	}
	for i, f := range fitters {
		if err := ctl.RestoreOpt(dev, f.Optimisation(names(f.Head.Params())), fitPhase(ocm.HeadKinds()[i]), st.FitSteps); err != nil {
			return err
		}
	}
	ctl.Resume = nil
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

// checkpointSettings are the settings under their checkpoint keys (setting.*), with
// the content hash of the data the run reads (see ocm.DataHash).
func (m *Model) checkpointSettings(st Settings) map[string]string {
	out := map[string]string{}
	for k, v := range settingsRecord(st) {
		out["setting."+k] = v
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
	ocm.StampCheckpoint(f, phase, step, st.Budget, m.checkpointSettings(st))
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
	settings := ocm.ResumeSettings(m.checkpointSettings(st), ctl.Phase(), st.Budget)
	if err := ocm.MatchCheckpoint(name, md, m.metadata(), keys, settings); err != nil {
		return err
	}
	if err := m.fill(dev, name, ctl.Resume); err != nil {
		return &ocm.ResumeError{Err: err}
	}
	ocm.TrainRecordOf(md, m.Meta)
	return nil
}
