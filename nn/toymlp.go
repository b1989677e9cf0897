package nn

import (
	"fmt"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// ToyTembDim is the width of the toy model's sinusoidal timestep embedding.
const ToyTembDim = 64

// ToyMLP is the reference toy score network (shared/bench/torch_ref.py "toy-mlp"):
// [x (D), temb (64)] → F → SiLU → F → SiLU → F → SiLU → D, predicting the noise ε.
type ToyMLP struct {
	Dim, Hidden int
	L           [4]*Linear // net.0, net.2, net.4, net.6 as in the PyTorch Sequential
	temb        *EmbeddingCache
}

// NewToyMLP returns a toy MLP for D-dimensional data with F hidden features.
func NewToyMLP(dev rt.Device, dim, hidden int, key philox.Key) *ToyMLP {
	m := &ToyMLP{Dim: dim, Hidden: hidden, temb: NewEmbeddingCache(ToyTembDim, false)}
	ins := [4]int{dim + ToyTembDim, hidden, hidden, hidden}
	outs := [4]int{hidden, hidden, hidden, dim}
	for i := range m.L {
		m.L[i] = NewLinear(dev, fmt.Sprintf("net.%d", 2*i), ins[i], outs[i], key.Split(uint64(i)))
	}
	return m
}

// Forward returns ε̂ (N, D) and the last hidden features (N, F) for x (N, D) at the
// time inputs t (N of them).
func (m *ToyMLP) Forward(c *Ctx, x *ad.Var, t []float64) (eps, hidden *ad.Var) {
	temb := ad.Const(m.temb.Embed(x.Value.Device(), t))
	h := ad.Concat(1, x, temb)
	for i := range 3 {
		h = ad.SiLU(m.L[i].Forward(c, h))
	}
	return m.L[3].Forward(c, h), h
}

// Params lists the parameters in PyTorch's state_dict order.
func (m *ToyMLP) Params() []*Param {
	var ps []*Param
	for _, l := range m.L {
		ps = append(ps, l.Params()...)
	}
	checkUnique(ps)
	return ps
}

// ToyMLPParamCount is the parameter count of the reference toy-mlp (D = 2, F = 256).
const ToyMLPParamCount = 149250
