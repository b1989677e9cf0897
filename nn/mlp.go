package nn

import (
	"fmt"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// MLP is a stack of Linear layers with SiLU between them: in → hidden… → out.
type MLP struct {
	Layers []*Linear
}

// NewMLP returns an MLP with the given widths (at least input and output) and layer
// names prefix.0, prefix.1, …. With zeroLast the last layer starts at zero, so the
// MLP's output is 0 until it is trained (the OCM head's initialisation).
func NewMLP(dev rt.Device, prefix string, widths []int, zeroLast bool, key philox.Key) *MLP {
	if len(widths) < 2 {
		panic("nn: mlp: need at least two widths")
	}
	m := &MLP{}
	for i := range len(widths) - 1 {
		m.Layers = append(m.Layers, NewLinear(dev, fmt.Sprintf("%s.%d", prefix, i), widths[i], widths[i+1], key.Split(uint64(i))))
	}
	if zeroLast {
		m.Layers[len(m.Layers)-1].ZeroInit()
	}
	return m
}

// Forward maps x (N, in) to (N, out).
func (m *MLP) Forward(c *Ctx, x *ad.Var) *ad.Var {
	for i, l := range m.Layers {
		x = l.Forward(c, x)
		if i < len(m.Layers)-1 {
			x = ad.SiLU(x)
		}
	}
	return x
}

// Params lists the layers' parameters in order.
func (m *MLP) Params() []*Param {
	var ps []*Param
	for _, l := range m.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}
