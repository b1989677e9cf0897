package ocm

import (
	"fmt"

	ad "ocm/autodiff"
	"ocm/nn"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// HeadKind names what a covariance head regresses.
type HeadKind int

// Head kinds (ocm-math §3.2, §4.2). Each is fitted with Σ (target − h)² on a frozen
// backbone; only the target differs.
const (
	HeadOCM HeadKind = iota // target −√B·v⊙(J_ε v), v Rademacher: E = B·diag H
	HeadSN                  // target ε²:            h ≈ E[ε²|x_t]
	HeadNPR                 // target (ε − ε̂)²:      h ≈ E[(ε−ε̂)²|x_t]
)

// String is the head kind's name (ocm, sn, npr).
func (k HeadKind) String() string {
	switch k {
	case HeadOCM:
		return "ocm"
	case HeadSN:
		return "sn"
	case HeadNPR:
		return "npr"
	}
	return fmt.Sprintf("HeadKind(%d)", int(k))
}

// HeadNet is the network of a covariance head: it maps the backbone's features at
// time inputs t (one per example) to one value per data value.
type HeadNet interface {
	nn.Module
	Forward(c *nn.Ctx, features *ad.Var, t []float64) *ad.Var
}

// Head is a covariance head: a small network on the backbone's features whose last
// layer starts at zero.
type Head struct {
	Kind HeadKind
	Net  HeadNet
}

// NewMLPHead returns a head of the given kind reading features of width f and
// predicting d values, with hidden widths hidden.
func NewMLPHead(dev rt.Device, kind HeadKind, f, d int, hidden []int, key philox.Key) *Head {
	widths := append(append([]int{f}, hidden...), d)
	return &Head{Kind: kind, Net: mlpHead{nn.NewMLP(dev, "head."+kind.String(), widths, true, key)}}
}

// mlpHead is an MLP on the features; the features already carry the time.
type mlpHead struct{ *nn.MLP }

// Forward applies the MLP to the features; the time is not used.
func (m mlpHead) Forward(c *nn.Ctx, features *ad.Var, _ []float64) *ad.Var {
	return m.MLP.Forward(c, features)
}

// TimeEmbedder is a frozen backbone's time embedding: the vector (N, E) its blocks
// read for time inputs t.
type TimeEmbedder func(t []float64) *rt.Tensor

// NewConvHead returns an image head of ocm-math §3.3 reading feature maps of ch
// channels and predicting outCh channels: the simple head (GroupNorm → SiLU →
// zero-initialised 3×3 conv) when emb is nil, else the complex head, which puts one
// residual block conditioned on emb (of tembCh values) in front.
func NewConvHead(dev rt.Device, kind HeadKind, ch, outCh int, emb TimeEmbedder, tembCh int, key philox.Key) *Head {
	if emb == nil {
		tembCh = 0
	}
	return &Head{Kind: kind, Net: convHead{nn.NewConvHead(dev, "head."+kind.String(), ch, outCh, tembCh, key), emb}}
}

// WrapConvHead returns the head of kind made of an nn.ConvHead (of a published
// checkpoint's family, say); emb is the backbone's time embedding its complex form
// reads.
func WrapConvHead(kind HeadKind, h *nn.ConvHead, emb TimeEmbedder) *Head {
	return &Head{Kind: kind, Net: convHead{h, emb}}
}

// convHead is an nn.ConvHead with the time embedding its complex form reads.
type convHead struct {
	*nn.ConvHead
	emb TimeEmbedder
}

// Forward applies the conv head to the feature map, reading the time t when complex.
func (h convHead) Forward(c *nn.Ctx, features *ad.Var, t []float64) *ad.Var {
	var temb *ad.Var
	if h.ConvHead.Block != nil {
		temb = ad.Const(h.emb(t)) // the backbone is frozen: no gradient flows into it
	}
	return h.ConvHead.Forward(c, features, temb)
}

// Complex reports whether the head has the complex form (a residual block in front).
func (h *Head) Complex() bool {
	c, ok := h.Net.(convHead)
	return ok && c.Block != nil
}

// Forward maps features (N, F) or (N, ch, H, W) at time inputs t to the head output
// h, shaped like x.
func (h *Head) Forward(c *nn.Ctx, features *ad.Var, t []float64) *ad.Var {
	return h.Net.Forward(c, features, t)
}

// Params lists the head's parameters.
func (h *Head) Params() []*nn.Param { return h.Net.Params() }

// HeadFitter fits a head on a frozen teacher (ocm-math §3.2): per step a batch x_n,
// the teacher's outputs, the kind's target, and one Adam step on Σ (target − h)².
// JointFitter fits several heads from one teacher pass per step; a HeadFitter alone
// is the path it is compared with (a pass per head).
type HeadFitter struct {
	Teacher Teacher
	Head    *Head
	Sched   *sampler.Schedule
	Data    DataSource
	Cfg     TrainConfig
	Probes  int // Rademacher probes per example for OCM (M, default 1)
	Opt     *nn.Adam
	EMA     *nn.EMA
	Counters
	dev rt.Device
}

// NewHeadFitter prepares fitting of head on teacher.
func NewHeadFitter(dev rt.Device, teacher Teacher, head *Head, s *sampler.Schedule, data DataSource, cfg TrainConfig) *HeadFitter {
	return &HeadFitter{Teacher: teacher, Head: head, Sched: s, Data: data, Cfg: cfg, Probes: 1,
		Opt: nn.NewAdam(cfg.LR), EMA: cfg.newEMA(head.Params()), dev: dev}
}

// FitStep runs one step and returns the loss. Like Trainer.TrainStep it skips, and
// counts, a step with a non-finite loss or gradient, and fails after MaxSkipsInARow
// in a row.
func (f *HeadFitter) FitStep() (float64, error) {
	key := philox.Key{Seed: f.Cfg.Seed}
	b := drawBatch(f.dev, f.Data, f.Sched, key, f.Step, f.Cfg.Batch)
	sk := key.Split(uint64(f.Step))
	t, err := fitTeacher(f.Teacher, f.Cfg.Dropout, sk.Split(streamDropout))
	if err != nil {
		return 0, err
	}
	target, features := f.target(t, b, sk)
	return f.update(target, features, b.times)
}

// target is the head's regression target on batch b from teacher t (the step's key
// is key) and the features it reads: a forward pass for SN and NPR, a forward-mode
// JVP with f.Probes probes for OCM.
func (f *HeadFitter) target(t Teacher, b *noisyBatch, key philox.Key) (target, features *rt.Tensor) {
	if f.Head.Kind == HeadOCM {
		_, features, target = ocmTarget(t, b, key, f.Probes)
		return target, features
	}
	epsHat, features, _ := t.Predict(b.xt, b.n, nil)
	return regressionTarget(f.Head.Kind, b, epsHat, nil), features
}

// update takes the head's step on a batch at time inputs times whose targets and
// features the teacher gave: the loss Σ (target − h)² averaged over the batch, its
// gradient, the skip check, one Adam step and the average's update.
func (f *HeadFitter) update(target, features *rt.Tensor, times []float64) (float64, error) {
	ctx := nn.NewCtx(true, false, philox.Key{})
	h := f.Head.Forward(ctx, ad.Const(features), times)
	loss := sumSquares(ad.Sub(h, ad.Const(target)), f.Cfg.Batch)
	params := f.Head.Params()
	l, grads := float64(loss.Value.Item()), ctx.Grads(loss, params)
	if err := f.Counters.next(l, params, grads, "fit "+f.Head.Kind.String()+" head"); err != nil || f.Streak > 0 {
		return l, err
	}
	f.Opt.LR = f.Cfg.lrAt(f.Step - 1)
	f.Opt.Update(params, grads)
	f.EMA.Update(params)
	return l, nil
}

// fitTeacher is the teacher of a fit step: t, or t in training mode (dropout masks
// from key) when train.
func fitTeacher(t Teacher, train bool, key philox.Key) (Teacher, error) {
	if !train {
		return t, nil
	}
	if tm, ok := t.(TrainModeTeacher); ok {
		if tt := tm.TrainMode(key); tt != nil {
			return tt, nil
		}
	}
	return nil, fmt.Errorf("ocm: fit: the teacher has no training mode (dropout): fit with the backbone in evaluation mode")
}

// regressionTarget is the target of a head of kind on batch b given the teacher's
// ε̂ (ocm-math §3.2): ε² for SN, (ε − ε̂)² for NPR, and ocm, the OCM target computed
// by ocmTarget, for OCM.
func regressionTarget(kind HeadKind, b *noisyBatch, epsHat, ocm *rt.Tensor) *rt.Tensor {
	switch kind {
	case HeadSN:
		return rt.Square(b.eps)
	case HeadNPR:
		return rt.Square(rt.Sub(b.eps, epsHat))
	}
	return ocm
}

// ocmTarget runs the teacher's forward-mode JVP on batch b with m Rademacher probes
// per example (probe p keyed by key.Split(streamProbe+p)) and returns the primal
// outputs (ε̂ and the features at x_t) and the OCM target −√B·(1/m) Σ_p v_p⊙(J v_p).
func ocmTarget(t Teacher, b *noisyBatch, key philox.Key, m int) (epsHat, features, target *rt.Tensor) {
	m = max(1, m)
	epsHat, features, sum := probeSum(t, b.xt, b.n, m, func(p int) philox.Key { return key.Split(streamProbe + uint64(p)) })
	return epsHat, features, rt.Scale(rt.Mul(sum, b.sqrtB), -1/float32(m))
}

func addOrSet(acc, t *rt.Tensor) *rt.Tensor {
	if acc == nil {
		return t
	}
	return rt.Add(acc, t)
}
