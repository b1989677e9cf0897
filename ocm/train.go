package ocm

import (
	"fmt"
	"math"
	"math/rand/v2"

	ad "ocm/autodiff"
	"ocm/nn"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// DataSource yields training batches reproducibly: batch i of size n depends only on
// the source's seed, i and n.
type DataSource interface {
	Batch(dev rt.Device, i, n int) *rt.Tensor
	// ExampleShape is the shape of one example (D for vectors, C, H, W for images).
	ExampleShape() []int
}

// MixtureData draws fresh samples of a Gaussian mixture for every batch.
type MixtureData struct {
	Mix  *Mixture
	Seed uint64
}

// Batch returns n samples (n, D) from the generator seeded with (Seed, i).
func (m MixtureData) Batch(dev rt.Device, i, n int) *rt.Tensor {
	rng := rand.New(rand.NewPCG(m.Seed, uint64(i)))
	s := m.Mix.Sample(rng, n)
	out := make([]float32, 0, n*m.Mix.Dim)
	for _, x := range s {
		for _, v := range x {
			out = append(out, float32(v))
		}
	}
	return rt.FromSlice(dev, out, n, m.Mix.Dim)
}

// ExampleShape is (D).
func (m MixtureData) ExampleShape() []int { return []int{m.Mix.Dim} }

// Streams of a step's key (philox.Key.Split of the run key by step, then by purpose).
const (
	streamTimesteps = iota
	streamNoise
	streamDropout
	streamProbe // probe m uses streamProbe + m
)

// noisyBatch is one batch of the forward process: x_n = √A[n]·x0 + √B[n]·ε.
type noisyBatch struct {
	x0, eps, xt *rt.Tensor
	n           []int
	sqrtB       *rt.Tensor // (N, 1, …) for broadcasting
	times       []float64  // network time inputs
}

// drawBatch draws batch `step` of size b: data, steps n ~ U{1..N} and noise, all from
// the step's key.
func drawBatch(dev rt.Device, data DataSource, s *sampler.Schedule, key philox.Key, step, b int) *noisyBatch {
	k := key.Split(uint64(step))
	x0 := data.Batch(dev, step, b)
	u := make([]uint32, b)
	k.Split(streamTimesteps).Uint32s(u, 0)
	nb := &noisyBatch{x0: x0, n: make([]int, b)}
	sa, sb := make([]float64, b), make([]float64, b)
	for i, w := range u {
		nb.n[i] = 1 + int(uint64(w)*uint64(s.N)>>32)
		sa[i], sb[i] = math.Sqrt(s.A[nb.n[i]]), math.Sqrt(s.B[nb.n[i]])
	}
	nb.times = s.TimeInputs(nb.n)
	nb.eps = rt.Random(dev, rt.Normal, k.Split(streamNoise), 0, x0.Shape()...)
	nb.sqrtB = perExample(dev, sb, x0.Rank())
	nb.xt = rt.Add(rt.Mul(x0, perExample(dev, sa, x0.Rank())), rt.Mul(nb.eps, nb.sqrtB))
	return nb
}

// TrainConfig holds the settings of denoising-score training and head fitting.
type TrainConfig struct {
	Steps    int     // optimiser steps
	Batch    int     // examples per step
	LR       float32 // Adam learning rate
	EMADecay float32 // rate of the exponential moving average of the weights
	Seed     uint64  // key of all randomness of the run
	// Dropout runs the network in training mode (dropout on): the backbone being
	// trained, or the frozen teacher of a head fit.
	Dropout bool
	// ConstantLR keeps the learning rate at LR (the reference code's head fit);
	// otherwise it decays (see lrAt).
	ConstantLR bool
	// EMANoWarmup averages with the constant rate EMADecay from the first update
	// (nn.EMA.NoWarmup).
	EMANoWarmup bool
}

// newEMA starts the weights' average of params under the config.
func (c *TrainConfig) newEMA(params []*nn.Param) *nn.EMA {
	e := nn.NewEMA(c.EMADecay, params)
	e.NoWarmup = c.EMANoWarmup
	return e
}

// Trainer trains a backbone with the denoising score-matching loss
// L = mean_batch Σ (ε − ε̂(x_n, n))², n ~ U{1..N} (ocm-math §2).
type Trainer struct {
	Net   Backbone
	Sched *sampler.Schedule
	Data  DataSource
	Cfg   TrainConfig
	Opt   *nn.Adam
	EMA   *nn.EMA
	Counters
	dev rt.Device
}

// NewTrainer prepares training of net on dev.
func NewTrainer(dev rt.Device, net Backbone, s *sampler.Schedule, data DataSource, cfg TrainConfig) *Trainer {
	return &Trainer{Net: net, Sched: s, Data: data, Cfg: cfg, Opt: nn.NewAdam(cfg.LR),
		EMA: cfg.newEMA(net.Params()), dev: dev}
}

// TrainStep runs one optimiser step and returns its loss. A step whose loss or
// gradient is not finite leaves the weights, the optimiser and the average unchanged
// and is counted in Skipped; after MaxSkipsInARow such steps in a row TrainStep
// returns an error.
func (t *Trainer) TrainStep() (float64, error) {
	key := philox.Key{Seed: t.Cfg.Seed}
	b := drawBatch(t.dev, t.Data, t.Sched, key, t.Step, t.Cfg.Batch)
	ctx := nn.NewCtx(true, t.Cfg.Dropout, key.Split(uint64(t.Step)).Split(streamDropout))
	epsHat, _ := t.Net.Forward(ctx, ad.Const(b.xt), b.times)
	loss := sumSquares(ad.Sub(epsHat, ad.Const(b.eps)), t.Cfg.Batch)
	params := t.Net.Params()
	l, grads := float64(loss.Value.Item()), ctx.Grads(loss, params)
	if err := t.Counters.next(l, params, grads, "train"); err != nil || t.Streak > 0 {
		return l, err
	}
	t.Opt.LR = t.Cfg.lrAt(t.Step - 1)
	t.Opt.Update(params, grads)
	t.EMA.Update(params)
	return l, nil
}

// lrAt is the learning rate of step (0-based): a cosine decay from LR to LR/10 over
// Steps, which lets the last steps settle on a precise minimum (the covariance
// estimators multiply head errors by B/A, so precision matters); LR throughout with
// ConstantLR.
func (c *TrainConfig) lrAt(step int) float32 {
	if c.Steps <= 1 || c.ConstantLR {
		return c.LR
	}
	frac := math.Min(1, float64(step)/float64(c.Steps-1))
	return c.LR * float32(0.1+0.9*0.5*(1+math.Cos(math.Pi*frac)))
}

// MaxSkipsInARow is how many consecutive skipped steps (a non-finite loss or
// gradient, or a gradient Adam's state cannot hold) end a run.
const MaxSkipsInARow = 10

// Counters count the steps of an optimisation: done (skipped ones included), skipped,
// and skipped in a row up to now; LastSkip says why the latest skipped step was
// (not saved in checkpoints).
type Counters struct {
	Step, Skipped, Streak int
	LastSkip              string
}

// next counts one step with loss l and gradients grads of params: one that cannot
// be taken (see skipReason) is skipped (Streak > 0 afterwards), and the last of
// MaxSkipsInARow skips in a row is an error naming what was not finite.
func (c *Counters) next(l float64, params []*nn.Param, grads []*rt.Tensor, what string) error {
	c.Step++
	reason := skipReason(l, params, grads)
	if reason == "" {
		c.Streak = 0
		return nil
	}
	c.Skipped++
	c.Streak++
	c.LastSkip = reason
	if c.Streak >= MaxSkipsInARow {
		return &SkipLimitError{What: what, Streak: c.Streak, Step: c.Step, Reason: reason}
	}
	return nil
}

// SkipLimitError ends an optimisation whose last MaxSkipsInARow steps were all
// skipped: with finite weights, the data or the settings (a learning rate, a
// mixture far from the origin) make every step non-finite.
type SkipLimitError struct {
	What         string // "train", "fit ocm head", …
	Streak, Step int
	Reason       string // the last skip's (see Counters.LastSkip)
}

// Error names the optimisation, the streak and the last skip's reason, on one line.
func (e *SkipLimitError) Error() string {
	return fmt.Sprintf("ocm: %s: %d steps in a row up to step %d were skipped, the last for a %s; stopping", e.What, e.Streak, e.Step, e.Reason)
}

// skipReason says why the step of loss l and gradients grads (of params) cannot be
// taken, "" when it can: a non-finite loss, a non-finite gradient, or a finite
// gradient whose square overflows float32, which would make Adam's second moment
// v ← β₂v + (1−β₂)g² +Inf (the weights would then stop moving and every checkpoint
// be refused). Adam's state is so checked before it changes, like the gradients: one
// elementwise square per gradient, and the per-tensor search only on failure.
func skipReason(l float64, params []*nn.Param, grads []*rt.Tensor) string {
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return fmt.Sprintf("non-finite loss (%v)", l)
	}
	squares := make([]*rt.Tensor, 0, len(grads))
	for _, g := range grads {
		if g != nil {
			squares = append(squares, rt.Square(g))
		}
	}
	if nn.Finite(squares...) {
		return ""
	}
	for i, g := range grads {
		switch {
		case g == nil:
		case !nn.Finite(g):
			return "non-finite gradient of " + params[i].Name
		case !nn.Finite(rt.Square(g)):
			return "gradient of " + params[i].Name + " whose square overflows float32 (Adam's second moment would be +Inf)"
		}
	}
	return "non-finite gradient"
}

// sumSquares returns Σ d² / batch: a per-example sum of squares averaged over the batch.
func sumSquares(d *ad.Var, batch int) *ad.Var {
	return ad.Scale(ad.Sum(ad.Square(d), false), 1/float32(batch))
}
