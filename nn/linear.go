package nn

import (
	"math"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Linear is y = x·Wᵀ + b with W (out, in) and b (out), PyTorch's layout and default
// initialisation (uniform in ±1/√in for both).
type Linear struct {
	W, B *Param
}

// NewLinear returns a Linear layer named prefix (parameters prefix.weight and
// prefix.bias) initialised from key.
func NewLinear(dev rt.Device, prefix string, in, out int, key philox.Key) *Linear {
	bound := float32(1 / math.Sqrt(float64(in)))
	return &Linear{
		W: &Param{Name: prefix + ".weight", Value: uniformInit(dev, key.Split(0), bound, out, in)},
		B: &Param{Name: prefix + ".bias", Value: uniformInit(dev, key.Split(1), bound, out)},
	}
}

// uniformInit draws values uniform in [−bound, bound).
func uniformInit(dev rt.Device, key philox.Key, bound float32, shape ...int) *rt.Tensor {
	u := rt.Random(dev, rt.Uniform, key, 0, shape...)
	return rt.Affine(u, 2*bound, -bound)
}

// Forward maps x (N, in) to (N, out).
func (l *Linear) Forward(c *Ctx, x *ad.Var) *ad.Var {
	return ad.Add(ad.MatMul(x, c.P(l.W), false, true), c.P(l.B))
}

// Params lists W then b.
func (l *Linear) Params() []*Param { return []*Param{l.W, l.B} }

// ZeroInit sets the layer's weights and bias to zero (so its output starts at 0).
func (l *Linear) ZeroInit() {
	l.W.Value = rt.New(l.W.Value.Device(), l.W.Value.Shape()...)
	l.B.Value = rt.New(l.B.Value.Device(), l.B.Value.Shape()...)
}
