package ocm

import (
	"fmt"

	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// JointFitter fits several heads on one frozen teacher together (ocm-math §3.2): per
// step one batch x_n and ONE teacher pass, a forward-mode JVP with M Rademacher
// probes per example whose primal outputs are ε̂ and the features, from which come
// every head's target (OCM −√B·mean v⊙(J v), SN ε², NPR (ε − ε̂)²); then one Adam step
// and one EMA update per head. Each head keeps its own optimiser, average and skip
// counters (its HeadFitter's), so its checkpoint state is a HeadFitter's; only the
// teacher pass is shared. Without an OCM head the pass is a plain forward.
type JointFitter struct {
	Teacher Teacher
	Fitters []*HeadFitter // one per head, in the order of the heads given
	Sched   *sampler.Schedule
	Data    DataSource
	Cfg     TrainConfig
	Probes  int // Rademacher probes per example of the OCM target (M, default 1)
	dev     rt.Device
}

// NewJointFitter prepares fitting heads together on teacher; every head gets cfg
// (its own Adam and EMA), and the batches and probes are keyed by cfg.Seed.
func NewJointFitter(dev rt.Device, teacher Teacher, heads []*Head, s *sampler.Schedule, data DataSource, cfg TrainConfig) *JointFitter {
	fs := make([]*HeadFitter, len(heads))
	for i, h := range heads {
		fs[i] = NewHeadFitter(dev, teacher, h, s, data, cfg)
	}
	return &JointFitter{Teacher: teacher, Fitters: fs, Sched: s, Data: data, Cfg: cfg, Probes: 1, dev: dev}
}

// Step is the number of steps taken (by every head).
func (j *JointFitter) Step() int { return j.Fitters[0].Step }

// FitStep runs one step of every head and returns their losses, in the heads'
// order. A head whose loss or gradient is not finite skips its update (and counts
// it) while the others take theirs; MaxSkipsInARow skips in a row of one head end
// the fit with its *SkipLimitError.
func (j *JointFitter) FitStep() ([]float64, error) {
	step := j.Step()
	for _, f := range j.Fitters {
		if f.Step != step {
			return nil, fmt.Errorf("ocm: joint fit: the %v head is at step %d, the %v head at %d", j.Fitters[0].Head.Kind, step, f.Head.Kind, f.Step)
		}
	}
	key := philox.Key{Seed: j.Cfg.Seed}
	b := drawBatch(j.dev, j.Data, j.Sched, key, step, j.Cfg.Batch)
	sk := key.Split(uint64(step))
	t, err := fitTeacher(j.Teacher, j.Cfg.Dropout, sk.Split(streamDropout))
	if err != nil {
		return nil, err
	}
	targets, features := j.targets(t, b, sk)
	losses := make([]float64, len(j.Fitters))
	for i, f := range j.Fitters {
		if losses[i], err = f.update(targets[i], features, b.times); err != nil {
			return losses, err
		}
	}
	return losses, nil
}

// targets runs the step's one teacher pass and returns every head's target and the
// features they read.
func (j *JointFitter) targets(t Teacher, b *noisyBatch, key philox.Key) ([]*rt.Tensor, *rt.Tensor) {
	var epsHat, features, ocm *rt.Tensor
	needOCM := false
	for _, f := range j.Fitters {
		needOCM = needOCM || f.Head.Kind == HeadOCM
	}
	if needOCM {
		epsHat, features, ocm = ocmTarget(t, b, key, j.Probes)
	} else {
		epsHat, features, _ = t.Predict(b.xt, b.n, nil)
	}
	out := make([]*rt.Tensor, len(j.Fitters))
	for i, f := range j.Fitters {
		out[i] = regressionTarget(f.Head.Kind, b, epsHat, ocm)
	}
	return out, features
}
