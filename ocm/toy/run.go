package toy

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
)

// Progress is told how far a long task has come (see ocm.Progress).
type Progress = ocm.Progress

// Settings are the training and fitting budget of the study.
type Settings = ocm.Budget

// DefaultSettings is the budget of the embedded models and the report: each of
// training and fitting takes well under two minutes on a 2-core machine.
func DefaultSettings() Settings {
	return Settings{TrainSteps: 12000, FitSteps: 4000, Batch: 512, LR: 1e-3, EMADecay: 0.999,
		MsEpsPerStep: 256, Seed: 1234}
}

// Train fits the backbone with the denoising loss and swaps in its EMA weights.
func Train(dev rt.Device, m *Model, st Settings, prog Progress) error {
	return TrainWith(dev, m, st, prog, nil)
}

// TrainWith is Train under ctl: it resumes from ctl.Resume, writes checkpoints, and
// stops early with a *ocm.Stopped error when ctl.Stop says so. Resumed from a fit
// checkpoint (training was complete) it only restores the model.
func TrainWith(dev rt.Device, m *Model, st Settings, prog Progress, ctl *ocm.Control) error {
	ctl = ctl.OrNone()
	cfg := ocm.TrainConfig{Steps: st.TrainSteps, Batch: st.Batch, LR: st.LR, EMADecay: st.EMADecay, Seed: st.Seed}
	data := ocm.MixtureData{Mix: m.Mix, Seed: st.Seed}
	tr := ocm.NewTrainer(dev, m.Net, m.Sched, data, cfg)
	restore := func() error { return m.restore(dev, ctl, st) }
	newFile := func(step int) *safetensors.File { return m.checkpointFile(ocm.PhaseTrain, step, st) }
	rec, err := ctl.TrainBackbone(dev, tr, tr.Optimisation(m.backboneNames()), m.Net.Params(), restore, newFile, prog)
	if rec == nil || err != nil {
		return err
	}
	m.Meta["backbone_steps"] = strconv.Itoa(rec.Steps)
	m.Meta["backbone_skipped_steps"] = strconv.Itoa(rec.Skipped)
	if rec.LastSkip != "" {
		m.Meta["backbone_last_skip"] = rec.LastSkip
	}
	m.Meta["backbone_seconds"] = fmt.Sprintf("%.1f", rec.Seconds)
	m.Meta["backbone_steps_per_second"] = fmt.Sprintf("%.1f", float64(rec.Done)/rec.Seconds)
	m.Meta["batch"] = strconv.Itoa(st.Batch)
	m.Meta["lr"] = fmt.Sprint(st.LR)
	m.Meta["ema"] = fmt.Sprint(st.EMADecay)
	m.Meta["seed"] = strconv.FormatUint(st.Seed, 10)
	return nil
}

// Fit fits every head kind on the learned backbone and on the exact score, and
// computes both Analytic-DPM tables. The jobs are independent and run two at a time
// (the toy models are too small to keep both cores busy one job at a time); each
// job's randomness comes from its own seed, so the result does not depend on the order.
func Fit(dev rt.Device, m *Model, st Settings, prog Progress) error {
	return FitWith(dev, m, st, prog, nil)
}

// FitWith is Fit under ctl. The heads advance in rounds of ctl.Every steps (all of
// FitSteps when checkpoints are off), two at a time; a checkpoint after each round
// holds the model and every head's optimiser state. ctl.Stop ends the round early.
func FitWith(dev rt.Device, m *Model, st Settings, prog Progress, ctl *ocm.Control) error {
	ctl = ctl.OrNone()
	jobs := m.headJobs(dev, st)
	if err := m.resumeFit(dev, ctl, st, jobs); err != nil {
		return err
	}
	ctl.BeginPhase()
	var done atomic.Int64
	done.Store(int64(fitSteps(jobs)))
	total := int64(st.FitSteps * len(jobs))
	report := func(loss float64) {
		if prog != nil {
			prog("fit heads", int(done.Add(1)), int(total), loss)
		}
	}
	for fitSteps(jobs) < int(total) {
		stopped, err := fitRound(jobs, st.FitSteps, ctl, report)
		if err != nil {
			return err
		}
		save := func() (string, error) { return m.saveFit(ctl, st, jobs) }
		if err := ctl.Checkpoint(ocm.PhaseFit, fitSteps(jobs), stopped, ctl.Every > 0, save); err != nil {
			return err
		}
	}
	if err := m.fitTables(dev, st); err != nil {
		return err
	}
	for _, j := range jobs {
		j.f.EMA.Swap(j.f.Head.Params())
	}
	el := ctl.WallSeconds()
	m.Meta["head_steps"] = strconv.Itoa(st.FitSteps)
	m.Meta["fit_seconds"] = fmt.Sprintf("%.1f", el)
	m.Meta["fit_steps_per_second"] = fmt.Sprintf("%.1f", float64(total)/el)
	return nil
}

// fitRound advances every unfinished head to its next checkpoint step, two heads at
// a time, and says whether ctl.Stop ended it early.
func fitRound(jobs []*headJob, steps int, ctl *ocm.Control, report func(float64)) (bool, error) {
	var stopped atomic.Bool
	var work []func() error
	for _, j := range jobs {
		target := steps
		if ctl.Every > 0 {
			target = min(steps, (j.f.Step/ctl.Every+1)*ctl.Every)
		}
		work = append(work, func() error {
			for j.f.Step < target && !stopped.Load() {
				loss, err := j.f.FitStep()
				if err != nil {
					return err
				}
				report(loss)
				if ctl.ShouldStop() {
					stopped.Store(true)
				}
			}
			return nil
		})
	}
	err := runParallel(2, work)
	return stopped.Load(), err
}

// fitTables computes the Analytic-DPM tables of both teachers, in parallel.
func (m *Model) fitTables(dev rt.Device, st Settings) error {
	data := ocm.MixtureData{Mix: m.Mix, Seed: st.Seed + 1}
	return runParallel(2, []func() error{
		func() error {
			m.MsEps = ocm.MsEps(dev, m.NetTeacher(), m.Sched, data, st.MsEpsPerStep, st.Seed+200, nil)
			return nil
		},
		func() error {
			m.ExactMsEps = ocm.MsEps(dev, m.ExactTeacher(), m.Sched, data, st.MsEpsPerStep, st.Seed+201, nil)
			return nil
		},
	})
}

// headJob is the fitting of one head: its phase name fit:<teacher>:<head>, its
// fitter, and its parameters' names in the bundle.
type headJob struct {
	phase string
	f     *ocm.HeadFitter
	names []string
}

// headJobs prepares the fitting of every head, learned teacher first.
func (m *Model) headJobs(dev rt.Device, st Settings) []*headJob {
	data := ocm.MixtureData{Mix: m.Mix, Seed: st.Seed + 1}
	teachers := []struct {
		name, prefix string
		teacher      ocm.Teacher
		heads        map[ocm.HeadKind]*ocm.Head
	}{{"learned", "", m.NetTeacher(), m.Heads}, {"exact", "exact.", m.ExactTeacher(), m.ExactHeads}}
	var jobs []*headJob
	for ti, t := range teachers {
		for hi, kind := range ocm.HeadKinds() {
			cfg := ocm.TrainConfig{Steps: st.FitSteps, Batch: st.Batch, LR: st.LR, EMADecay: st.EMADecay,
				Seed: st.Seed + uint64(100+10*ti+hi)}
			head := t.heads[kind]
			j := &headJob{phase: ocm.PhaseFit + ":" + t.name + ":" + kind.String(),
				f: ocm.NewHeadFitter(dev, t.teacher, head, m.Sched, data, cfg)}
			for _, p := range head.Params() {
				j.names = append(j.names, t.prefix+p.Name)
			}
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// fitSteps is the steps done by all heads together: the fit phase's step.
func fitSteps(jobs []*headJob) int {
	n := 0
	for _, j := range jobs {
		n += j.f.Step
	}
	return n
}

// saveFit writes a checkpoint of the fit phase.
func (m *Model) saveFit(ctl *ocm.Control, st Settings, jobs []*headJob) (string, error) {
	step := fitSteps(jobs)
	f := m.checkpointFile(ocm.PhaseFit, step, st)
	for _, j := range jobs {
		j.f.Optimisation(j.names).AddTo(f, ocm.StatePrefix(j.phase))
	}
	ctl.StampWall(f)
	return ocm.WriteCheckpoint(ctl.Dir, ocm.CheckpointName(ocm.PhaseFit, step), f)
}

// resumeFit restores the model and every head's state from a fit checkpoint.
func (m *Model) resumeFit(dev rt.Device, ctl *ocm.Control, st Settings, jobs []*headJob) error {
	if ok, err := ctl.ResumingFit("toy"); !ok || err != nil {
		return err
	}
	if err := m.restore(dev, ctl, st); err != nil {
		return err
	}
	for _, j := range jobs {
		if err := ctl.RestoreOpt(dev, j.f.Optimisation(j.names), j.phase, st.FitSteps); err != nil {
			return err
		}
	}
	ctl.Resume = nil
	return nil
}

// runParallel runs jobs with at most n at a time and returns the first error.
func runParallel(n int, jobs []func() error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, n)
	for i, job := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = job()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// backboneNames are the bundle names of the backbone's parameters, in Net.Params order.
func (m *Model) backboneNames() []string {
	var names []string
	for _, p := range m.Net.Params() {
		names = append(names, "backbone."+p.Name)
	}
	return names
}

// checkpointSettings are the settings a checkpoint records and a resumed run must share.
func checkpointSettings(st Settings) map[string]string {
	return map[string]string{"setting.seed": strconv.FormatUint(st.Seed, 10), "setting.batch": strconv.Itoa(st.Batch),
		"setting.lr": fmt.Sprint(st.LR), "setting.ema": fmt.Sprint(st.EMADecay),
		"setting.ms_eps_per_step": strconv.Itoa(st.MsEpsPerStep)}
}

// checkpointFile starts a checkpoint of phase at step: the model's tensors, its
// metadata, the settings; the optimisations are added by the caller.
func (m *Model) checkpointFile(phase string, step int, st Settings) *safetensors.File {
	f := m.file()
	ocm.StampCheckpoint(f, phase, step, st, checkpointSettings(st))
	return f
}

// restore checks that ctl.Resume was written by the same model and settings, then
// copies its tensors and training record into m.
func (m *Model) restore(dev rt.Device, ctl *ocm.Control, st Settings) error {
	md, name := ctl.Resume.Metadata, ctl.ResumePath
	keys := []string{"dataset", "dim", "hidden", "head_hidden", "schedule", "diffusion_steps", "mixture"}
	settings := ocm.ResumeSettings(checkpointSettings(st), ctl.Phase(), st)
	if err := ocm.MatchCheckpoint(name, md, m.metadata(), keys, settings); err != nil {
		return err
	}
	if err := m.fill(dev, name, ctl.Resume); err != nil {
		return &ocm.ResumeError{Err: err}
	}
	ocm.TrainRecordOf(md, m.Meta)
	return nil
}

// CheckFinite returns an error naming the first tensor of m with a NaN or ±Inf
// value: check before saving, so that broken weights are never written.
func (m *Model) CheckFinite() error {
	if err := ocm.CheckFinite(m.params()); err != nil {
		return fmt.Errorf("toy: %w", err)
	}
	return nil
}
