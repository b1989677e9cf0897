package toy

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"ocm/ocm"
	rt "ocm/runtime"
)

// Progress is told how far a long task has come: done of total units of the named
// task, and the latest loss (NaN when none).
type Progress func(task string, done, total int, loss float64)

// Settings are the training and fitting budget of the study.
type Settings struct {
	TrainSteps, FitSteps int
	Batch                int
	LR                   float32
	EMADecay             float32
	MsEpsPerStep         int // examples per diffusion step for the Analytic-DPM table
	Seed                 uint64
}

// DefaultSettings is the budget of the embedded models and the report: each of
// training and fitting takes well under two minutes on a 2-core machine.
func DefaultSettings() Settings {
	return Settings{TrainSteps: 12000, FitSteps: 4000, Batch: 512, LR: 1e-3, EMADecay: 0.999,
		MsEpsPerStep: 256, Seed: 1234}
}

// Train fits the backbone with the denoising loss and swaps in its EMA weights.
func Train(dev rt.Device, m *Model, st Settings, prog Progress) error {
	cfg := ocm.TrainConfig{Steps: st.TrainSteps, Batch: st.Batch, LR: st.LR, EMADecay: st.EMADecay, Seed: st.Seed}
	data := ocm.MixtureData{Mix: m.Mix, Seed: st.Seed}
	tr := ocm.NewTrainer(dev, m.Net, m.Sched, data, cfg)
	start := time.Now()
	for tr.Step < cfg.Steps {
		loss, err := tr.TrainStep()
		if err != nil {
			return err
		}
		if prog != nil {
			prog("train", tr.Step, cfg.Steps, loss)
		}
	}
	tr.EMA.Swap(m.Net.Params())
	el := time.Since(start).Seconds()
	m.Meta["backbone_steps"] = strconv.Itoa(cfg.Steps)
	m.Meta["backbone_seconds"] = fmt.Sprintf("%.1f", el)
	m.Meta["backbone_steps_per_second"] = fmt.Sprintf("%.1f", float64(cfg.Steps)/el)
	m.Meta["batch"] = strconv.Itoa(st.Batch)
	m.Meta["lr"] = fmt.Sprint(st.LR)
	m.Meta["ema"] = fmt.Sprint(st.EMADecay)
	m.Meta["seed"] = strconv.FormatUint(st.Seed, 10)
	return nil
}

// Fit fits every head kind on the learned backbone and on the exact score, and
// computes both Analytic-DPM tables. The eight jobs are independent and run two at a
// time (the toy models are too small to keep both cores busy one job at a time); each
// job's randomness comes from its own seed, so the result does not depend on the order.
func Fit(dev rt.Device, m *Model, st Settings, prog Progress) error {
	start := time.Now()
	data := ocm.MixtureData{Mix: m.Mix, Seed: st.Seed + 1}
	teachers := []struct {
		name    string
		teacher ocm.Teacher
		heads   map[ocm.HeadKind]*ocm.Head
		table   *[]float64
	}{{"learned", m.NetTeacher(), m.Heads, &m.MsEps}, {"exact", m.ExactTeacher(), m.ExactHeads, &m.ExactMsEps}}
	var jobs []func() error
	var done atomic.Int64
	total := int64(st.FitSteps * len(HeadKinds) * len(teachers))
	report := func(loss float64) {
		if prog != nil {
			prog("fit heads", int(done.Add(1)), int(total), loss)
		}
	}
	for ti, t := range teachers {
		for hi, kind := range HeadKinds {
			cfg := ocm.TrainConfig{Steps: st.FitSteps, Batch: st.Batch, LR: st.LR, EMADecay: st.EMADecay,
				Seed: st.Seed + uint64(100+10*ti+hi)}
			head := t.heads[kind]
			jobs = append(jobs, func() error { return fitHead(dev, t.teacher, head, m.Sched, data, cfg, report) })
		}
		jobs = append(jobs, func() error {
			*t.table = ocm.MsEps(dev, t.teacher, m.Sched, data, st.MsEpsPerStep, st.Seed+uint64(200+ti))
			return nil
		})
	}
	if err := runParallel(2, jobs); err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	m.Meta["head_steps"] = strconv.Itoa(st.FitSteps)
	m.Meta["fit_seconds"] = fmt.Sprintf("%.1f", el)
	m.Meta["fit_steps_per_second"] = fmt.Sprintf("%.1f", float64(total)/el)
	return nil
}

// fitHead runs one head's fitting to the end and swaps in its averaged weights.
func fitHead(dev rt.Device, t ocm.Teacher, head *ocm.Head, s *ocm.Schedule, data ocm.DataSource, cfg ocm.TrainConfig, report func(float64)) error {
	f := ocm.NewHeadFitter(dev, t, head, s, data, cfg)
	for f.Step < cfg.Steps {
		loss, err := f.FitStep()
		if err != nil {
			return err
		}
		report(loss)
	}
	f.EMA.Swap(head.Params())
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
