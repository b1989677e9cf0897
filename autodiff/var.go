package autodiff

import (
	"fmt"

	rt "ocm/runtime"
)

// Var is a tensor seen by autodiff: its value, its forward-mode tangent (nil means
// zero), and, when a gradient may be asked for, the record of the op that made it.
type Var struct {
	Value    *rt.Tensor
	Tangent  *rt.Tensor
	node     *node
	needGrad bool
}

// Const wraps t as a value that takes no gradient and has no tangent (a frozen weight,
// data, a mask).
func Const(t *rt.Tensor) *Var { return &Var{Value: t} }

// Leaf wraps t as a trainable value: reverse mode can return its gradient.
func Leaf(t *rt.Tensor) *Var { return &Var{Value: t, needGrad: true} }

// Dual wraps t with the tangent tan for forward mode (tan nil means zero).
func Dual(t, tan *rt.Tensor) *Var {
	if tan != nil && !rt.SameShape(t.Shape(), tan.Shape()) {
		panic(fmt.Sprintf("autodiff: dual: tangent shape %v for value %v", tan.Shape(), t.Shape()))
	}
	return &Var{Value: t, Tangent: tan}
}

// NeedsGrad reports whether reverse mode tracks v.
func (v *Var) NeedsGrad() bool { return v.needGrad }

// Shape returns the value's shape.
func (v *Var) Shape() []int { return v.Value.Shape() }

// Detach returns v's value as a constant: no gradient flows back through it and it has
// no tangent.
func (v *Var) Detach() *Var { return Const(v.Value) }

// prim is one primitive op: its forward-mode rule and its reverse-mode rule. The
// forward kernel is called by the op's function, which then calls apply.
type prim struct {
	name string
	// jvp returns the output tangent from c.tan (nil entries are zero tangents; at least
	// one is non-nil).
	jvp func(c *call) *rt.Tensor
	// vjp returns the input cotangents for output cotangent g; entries whose c.need is
	// false may be nil and are ignored.
	vjp func(c *call, g *rt.Tensor) []*rt.Tensor
}

// call is one application of a primitive: what its rules may read.
type call struct {
	in   []*rt.Tensor // input values
	tan  []*rt.Tensor // input tangents during the JVP
	need []bool       // which inputs want a cotangent during the VJP
	out  *rt.Tensor   // output value
	aux  any          // op-specific saved data (statistics, attributes)
}

// node records a call on the tape for reverse mode.
type node struct {
	p      *prim
	c      *call
	inputs []*Var
}

// apply wraps the output of a primitive, computing its tangent when any input has one
// and recording it for reverse mode when any input needs a gradient.
func apply(p *prim, out *rt.Tensor, aux any, in ...*Var) *Var {
	v := &Var{Value: out}
	hasTan, needGrad := false, false
	for _, x := range in {
		hasTan = hasTan || x.Tangent != nil
		needGrad = needGrad || x.needGrad
	}
	if !hasTan && !needGrad {
		return v
	}
	c := &call{in: make([]*rt.Tensor, len(in)), out: out, aux: aux}
	for i, x := range in {
		c.in[i] = x.Value
	}
	if hasTan {
		if p.jvp == nil {
			panic("autodiff: no JVP rule for " + p.name)
		}
		c.tan = make([]*rt.Tensor, len(in))
		for i, x := range in {
			c.tan[i] = x.Tangent
		}
		v.Tangent = p.jvp(c)
		c.tan = nil
	}
	if needGrad {
		if p.vjp == nil {
			panic("autodiff: no VJP rule for " + p.name)
		}
		v.node = &node{p: p, c: c, inputs: in}
		v.needGrad = true
	}
	return v
}

// addTan adds two tangents, treating nil as zero.
func addTan(a, b *rt.Tensor) *rt.Tensor {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return rt.Add(a, b)
}
