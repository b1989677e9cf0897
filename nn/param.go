package nn

import (
	"fmt"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Param is a named tensor of a model. Frozen parameters take no gradient.
type Param struct {
	Name   string
	Value  *rt.Tensor
	Frozen bool
}

// Module is anything with parameters, listed in a fixed order.
type Module interface {
	Params() []*Param
}

// Ctx carries what one forward pass needs besides its inputs: whether parameter
// gradients are recorded, whether dropout is active, and the key of its masks.
type Ctx struct {
	// Grad records trainable parameters as leaves so Grads can return their gradients.
	Grad bool
	// Train turns dropout on.
	Train bool
	// Key draws dropout masks; each Dropout call takes the next split.
	Key    philox.Key
	nDrop  uint64
	leaves map[*Param]*ad.Var
}

// NewCtx returns a context for one forward pass.
func NewCtx(grad, train bool, key philox.Key) *Ctx {
	return &Ctx{Grad: grad, Train: train, Key: key, leaves: map[*Param]*ad.Var{}}
}

// Eval returns a context for evaluation: no gradients, no dropout.
func Eval() *Ctx { return NewCtx(false, false, philox.Key{}) }

// P returns the autodiff value of p in this pass: a leaf when gradients are recorded
// and p is trainable, else a constant. The same Var is returned for every use of p.
func (c *Ctx) P(p *Param) *ad.Var {
	if !c.Grad || p.Frozen {
		return ad.Const(p.Value)
	}
	if v, ok := c.leaves[p]; ok {
		return v
	}
	v := ad.Leaf(p.Value)
	c.leaves[p] = v
	return v
}

// Dropout applies dropout with probability p when the context trains.
func (c *Ctx) Dropout(x *ad.Var, p float32) *ad.Var {
	if !c.Train || p == 0 {
		return x
	}
	c.nDrop++
	return ad.Dropout(x, p, c.Key.Split(c.nDrop))
}

// Grads runs reverse mode from the scalar loss and returns the gradient of each
// parameter (nil for frozen ones and ones the loss does not use).
func (c *Ctx) Grads(loss *ad.Var, params []*Param) []*rt.Tensor {
	if !c.Grad {
		panic("nn: grads: the context does not record gradients")
	}
	vars := make([]*ad.Var, len(params))
	for i, p := range params {
		vars[i] = c.leaves[p]
		if vars[i] == nil {
			vars[i] = ad.Const(p.Value) // unused or frozen: no gradient
		}
	}
	return ad.Grad(loss, nil, vars...)
}

// Freeze marks every parameter of m as frozen.
func Freeze(m Module) {
	for _, p := range m.Params() {
		p.Frozen = true
	}
}

// CountParams returns the number of values in params.
func CountParams(params []*Param) int {
	n := 0
	for _, p := range params {
		n += p.Value.Len()
	}
	return n
}

// checkUnique panics if two parameters share a name (a programming error in a model).
func checkUnique(params []*Param) {
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.Name] {
			panic(fmt.Sprintf("nn: duplicate parameter name %q", p.Name))
		}
		seen[p.Name] = true
	}
}
