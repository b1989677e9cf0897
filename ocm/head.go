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
		Opt: nn.NewAdam(cfg.LR), EMA: nn.NewEMA(cfg.EMADecay, head.Params()), dev: dev}
}

// FitStep runs one step and returns the loss. Like Trainer.TrainStep it skips, and
// counts, a step with a non-finite loss or gradient, and fails after MaxSkipsInARow
// in a row.
func (f *HeadFitter) FitStep() (float64, error) {
	key := philox.Key{Seed: f.Cfg.Seed}
	b := drawBatch(f.dev, f.Data, f.Sched, key, f.Step, f.Cfg.Batch)
	target, features := f.target(b, key.Split(uint64(f.Step)))
	ctx := nn.NewCtx(true, false, philox.Key{})
	h := f.Head.Forward(ctx, ad.Const(features), b.times)
	loss := sumSquares(ad.Sub(h, ad.Const(target)), f.Cfg.Batch)
	params := f.Head.Params()
	l, grads := float64(loss.Value.Item()), ctx.Grads(loss, params)
	if err := f.Counters.next(l, grads, "fit "+f.Head.Kind.String()+" head"); err != nil || f.Streak > 0 {
		return l, err
	}
	f.Opt.LR = f.Cfg.lrAt(f.Step - 1)
	f.Opt.Update(params, grads)
	f.EMA.Update(params)
	return l, nil
}

// target returns the regression target of the head's kind and the head's features.
func (f *HeadFitter) target(b *noisyBatch, key philox.Key) (target, features *rt.Tensor) {
	switch f.Head.Kind {
	case HeadSN:
		_, features, _ = f.Teacher.Predict(b.xt, b.n, nil)
		return rt.Square(b.eps), features
	case HeadNPR:
		var epsHat *rt.Tensor
		epsHat, features, _ = f.Teacher.Predict(b.xt, b.n, nil)
		return rt.Square(rt.Sub(b.eps, epsHat)), features
	}
	m := max(1, f.Probes)
	for p := range m {
		v := rt.Random(f.dev, rt.Rademacher, key.Split(streamProbe+uint64(p)), 0, b.xt.Shape()...)
		var jv *rt.Tensor
		_, features, jv = f.Teacher.Predict(b.xt, b.n, v)
		t := rt.Mul(rt.Mul(v, jv), b.sqrtB) // v⊙(J v)·√B; negated and averaged below
		target = addOrSet(target, t)
	}
	return rt.Scale(target, -1/float32(m)), features
}

func addOrSet(acc, t *rt.Tensor) *rt.Tensor {
	if acc == nil {
		return t
	}
	return rt.Add(acc, t)
}
