package nn

import (
	rt "ocm/runtime"
)

// Adam is torch.optim.Adam: per-parameter first and second moments with bias
// correction, optional L2 weight decay.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int
	m, v                               map[*Param]*rt.Tensor
}

// NewAdam returns Adam with PyTorch's defaults (β = 0.9, 0.999, ε = 1e-8) and rate lr.
func NewAdam(lr float32) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		m: map[*Param]*rt.Tensor{}, v: map[*Param]*rt.Tensor{}}
}

// Update applies one step to every trainable parameter with a gradient.
func (a *Adam) Update(params []*Param, grads []*rt.Tensor) {
	a.Step++
	args := &rt.AdamArgs{LR: a.LR, Beta1: a.Beta1, Beta2: a.Beta2, Eps: a.Eps,
		WeightDecay: a.WeightDecay, Step: a.Step}
	for i, p := range params {
		if p.Frozen || grads[i] == nil {
			continue
		}
		m, ok := a.m[p]
		if !ok {
			m = rt.New(p.Value.Device(), p.Value.Shape()...)
			a.m[p] = m
			a.v[p] = rt.New(p.Value.Device(), p.Value.Shape()...)
		}
		rt.AdamStep(p.Value, grads[i], m, a.v[p], args)
	}
}

// Moments returns the moment tensors of p (nil before its first update), for
// checkpoints.
func (a *Adam) Moments(p *Param) (m, v *rt.Tensor) { return a.m[p], a.v[p] }

// SetMoments restores the moments of p from a checkpoint.
func (a *Adam) SetMoments(p *Param, m, v *rt.Tensor) { a.m[p], a.v[p] = m, v }

// EMA keeps an exponential moving average of parameters: avg ← d·avg + (1−d)·p, with
// the warm-up d = min(Decay, (1+n)/(10+n)) at update n so that a short run's average
// is not dominated by the initial weights (with a constant 0.999, 13% of the average
// after 2,000 steps would still be the initialisation). NoWarmup makes d = Decay from
// the first update: the reference code's average, started from a copy of the weights.
type EMA struct {
	Decay    float32
	Shadow   map[*Param]*rt.Tensor
	Updates  int
	NoWarmup bool
}

// NewEMA starts an average at the current values of params.
func NewEMA(decay float32, params []*Param) *EMA {
	e := &EMA{Decay: decay, Shadow: map[*Param]*rt.Tensor{}}
	for _, p := range params {
		e.Shadow[p] = p.Value.Clone()
	}
	return e
}

// Update moves the average toward the current values.
func (e *EMA) Update(params []*Param) {
	d := e.Decay
	if !e.NoWarmup {
		d = min(d, float32(1+e.Updates)/float32(10+e.Updates))
	}
	e.Updates++
	for _, p := range params {
		if p.Frozen {
			continue
		}
		s := e.Shadow[p]
		e.Shadow[p] = rt.Add(rt.Scale(s, d), rt.Scale(p.Value, 1-d))
	}
}

// Swap exchanges the parameters' values with their averages (call twice to undo).
func (e *EMA) Swap(params []*Param) {
	for _, p := range params {
		p.Value, e.Shadow[p] = e.Shadow[p], p.Value
	}
}

// Finite reports whether every value of every tensor is finite (nil tensors are
// skipped). It stays on the tensors' device and reads back one number: Σ 0·x is 0
// when all x are finite and NaN as soon as one is NaN or ±Inf (0·Inf = NaN), so
// unlike Σ|x| it cannot overflow on large finite values.
func Finite(ts ...*rt.Tensor) bool {
	var acc *rt.Tensor
	for _, t := range ts {
		if t == nil || t.Len() == 0 {
			continue
		}
		s := rt.Sum(rt.Scale(t, 0), false)
		if acc == nil {
			acc = s
		} else {
			acc = rt.Add(acc, s)
		}
	}
	if acc == nil {
		return true
	}
	v := acc.Item()
	return v == 0 // NaN ≠ 0
}

// FiniteParams reports whether every parameter value is finite.
func FiniteParams(params []*Param) bool {
	ts := make([]*rt.Tensor, len(params))
	for i, p := range params {
		ts[i] = p.Value
	}
	return Finite(ts...)
}
