package ocm

import (
	"fmt"
	"math"
	"slices"
	"sync"

	ad "ocm/autodiff"
	"ocm/nn"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// Backbone is a noise-prediction network ε̂(x_t, t): it returns ε̂ (same shape as x)
// and the features (N, F) that covariance heads read (its last hidden layer).
type Backbone interface {
	nn.Module
	Forward(c *nn.Ctx, x *ad.Var, t []float64) (eps, features *ad.Var)
}

// Teacher gives what covariance heads are fitted to and evaluated on: for a batch x_t
// (N, D…) at steps n (one per example) the noise prediction ε̂, the head's input
// features, and, when probe is not nil, the Jacobian-vector product J_ε·probe of ε̂
// with respect to x_t.
type Teacher interface {
	Predict(x *rt.Tensor, n []int, probe *rt.Tensor) (eps, features, jv *rt.Tensor)
}

// TrainModeTeacher is a teacher whose network can run in training mode: the frozen
// backbone with its dropout on, as the reference code fits heads.
type TrainModeTeacher interface {
	Teacher
	// TrainMode returns the teacher with dropout on, its masks drawn from key.
	TrainMode(key philox.Key) Teacher
}

// NetTeacher is a trained, frozen backbone. Its JVP is one forward-mode pass
// (autodiff.JVP): no tape, about twice the cost of a forward pass.
type NetTeacher struct {
	Net   Backbone
	Sched *sampler.Schedule
	// Train runs the network in training mode (dropout on, masks from Key); the
	// zero value is evaluation mode.
	Train bool
	Key   philox.Key
}

// Predict runs the backbone, in evaluation mode unless Train.
func (t *NetTeacher) Predict(x *rt.Tensor, n []int, probe *rt.Tensor) (eps, features, jv *rt.Tensor) {
	ctx := nn.Eval()
	if t.Train {
		ctx = nn.NewCtx(false, true, t.Key)
	}
	e, f := t.Net.Forward(ctx, ad.Dual(x, probe), t.Sched.TimeInputs(n))
	return e.Value, f.Value, e.Tangent
}

// TrainMode returns the backbone in training mode, dropout masks from key.
func (t *NetTeacher) TrainMode(key philox.Key) Teacher {
	return &NetTeacher{Net: t.Net, Sched: t.Sched, Train: true, Key: key}
}

// MixtureTeacher is the exact noise prediction of a Gaussian mixture,
// ε*(x_t) = −√B[n]·∇log p_n(x_t), with J_ε = −√B[n]·H_n exactly. Its features are
// [x_t, timestep embedding], so a head fitted on it learns from the exact score.
type MixtureTeacher struct {
	Mix   *Mixture
	Sched *sampler.Schedule
	mu    sync.Mutex
	cache map[int]*Diffused
}

// NewMixtureTeacher returns the exact teacher of mixture m under schedule s.
func NewMixtureTeacher(m *Mixture, s *sampler.Schedule) *MixtureTeacher {
	return &MixtureTeacher{Mix: m, Sched: s, cache: map[int]*Diffused{}}
}

// At returns the mixture diffused to step n (cached). It is safe for concurrent use.
func (t *MixtureTeacher) At(n int) *Diffused {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.cache[n]
	if !ok {
		d = t.Mix.DiffuseAt(t.Sched, n)
		t.cache[n] = d
	}
	return d
}

// Predict computes ε*, the features and J_ε·probe in float64 on the host.
func (t *MixtureTeacher) Predict(x *rt.Tensor, n []int, probe *rt.Tensor) (eps, features, jv *rt.Tensor) {
	dev, d := x.Device(), t.Mix.Dim
	if x.Rank() != 2 || x.Dim(1) != d || x.Dim(0) != len(n) {
		panic(fmt.Sprintf("ocm: mixture teacher: x %v for %d steps of %d-D data", x.Shape(), len(n), d))
	}
	xs := x.Data()
	var vs []float64
	if probe != nil {
		vs = probe.Float64s()
	}
	e, j := make([]float32, len(xs)), make([]float32, len(xs))
	score, hess := make([]float64, d), make([]float64, d*d)
	for i, ni := range n {
		xi := rt.Widen(xs[i*d : (i+1)*d])
		t.At(ni).Marginal.ScoreHessianInto(score, hess, xi)
		sb := math.Sqrt(t.Sched.B[ni])
		for a := range d {
			e[i*d+a] = float32(-sb * score[a])
			if vs != nil {
				hv := 0.0
				for b := range d {
					hv += hess[a*d+b] * vs[i*d+b]
				}
				j[i*d+a] = float32(-sb * hv)
			}
		}
	}
	features = rt.Concat(1, x, nn.TimestepEmbedding(dev, t.Sched.TimeInputs(n), nn.ToyTembDim))
	eps = rt.FromSlice(dev, e, x.Shape()...)
	if probe != nil {
		jv = rt.FromSlice(dev, j, x.Shape()...)
	}
	return eps, features, jv
}

// perExample returns the values (one per example) as a tensor of shape (N, 1, …, 1)
// with the given rank, to broadcast over a batch.
func perExample(dev rt.Device, vals []float64, rank int) *rt.Tensor {
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = 1
	}
	shape[0] = len(vals)
	f := make([]float32, len(vals))
	for i, v := range vals {
		f[i] = float32(v)
	}
	return rt.FromSlice(dev, f, shape...)
}

func sqrt(x float64) float64 { return math.Sqrt(x) }

// keyFor returns the Philox key of stream `stream` under seed.
func keyFor(seed uint64, stream int) philox.Key {
	return philox.Key{Seed: seed, Stream: uint64(stream)}
}

// CachedTeacher remembers its teacher's last answer without a probe, so that several
// Predictors sharing it (one per covariance estimator) run the network once for the
// same x_t: a call with the same tensor and the same steps returns the stored result.
// Tensors are never changed in place, so the tensor's identity is its value. It is
// safe for concurrent use.
type CachedTeacher struct {
	Teacher Teacher

	mu            sync.Mutex
	x             *rt.Tensor
	n             []int
	eps, features *rt.Tensor
}

// TrainMode returns the cached teacher's teacher in training mode (uncached: every
// call draws new masks), or nil when it has none.
func (c *CachedTeacher) TrainMode(key philox.Key) Teacher {
	if t, ok := c.Teacher.(TrainModeTeacher); ok {
		return t.TrainMode(key)
	}
	return nil
}

// Predict answers from the cache when it can; calls with a probe always run.
func (c *CachedTeacher) Predict(x *rt.Tensor, n []int, probe *rt.Tensor) (eps, features, jv *rt.Tensor) {
	if probe != nil {
		return c.Teacher.Predict(x, n, probe)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.x == x && slices.Equal(c.n, n) {
		return c.eps, c.features, nil
	}
	c.eps, c.features, _ = c.Teacher.Predict(x, n, nil)
	c.x, c.n = x, slices.Clone(n)
	return c.eps, c.features, nil
}
