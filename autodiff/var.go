package autodiff

import (
	"fmt"

	rt "ocm/runtime"
)

// Var is a tensor seen by autodiff: its value, its forward-mode tangent (nil means
// zero), and, when a gradient may be asked for, its record on the tape.
type Var struct {
	Value   *rt.Tensor
	Tangent *rt.Tensor
	rec     *record // nil: reverse mode does not track the Var
}

// record is a tracked Var's place on the tape: the node of the op that made it (nil
// for a leaf). The tape refers to records, not to Vars, so that a value no rule
// needs (see prim.saves) is freed as soon as the program drops its Var.
type record struct{ node *node }

// Const wraps t as a value that takes no gradient and has no tangent (a frozen weight,
// data, a mask).
func Const(t *rt.Tensor) *Var { return &Var{Value: t} }

// Leaf wraps t as a trainable value: reverse mode can return its gradient.
func Leaf(t *rt.Tensor) *Var { return &Var{Value: t, rec: &record{}} }

// Dual wraps t with the tangent tan for forward mode (tan nil means zero).
func Dual(t, tan *rt.Tensor) *Var {
	if tan != nil && !rt.SameShape(t.Shape(), tan.Shape()) {
		panic(fmt.Sprintf("autodiff: dual: tangent shape %v for value %v", tan.Shape(), t.Shape()))
	}
	return &Var{Value: t, Tangent: tan}
}

// Release hands the memory of v's value and tangent back to their device for reuse
// (runtime.Recycle), unless reverse mode tracks v (a Grad may still read it) or one
// of keep shares it (an op may pass its input on as its output or tangent). It is
// for a layer's intermediate values once the next op has read them; v must not be
// used afterwards.
func Release(v *Var, keep ...*Var) {
	if v == nil || v.rec != nil {
		return
	}
	for _, t := range []*rt.Tensor{v.Value, v.Tangent} {
		if t != nil && !sharedWith(t, keep) {
			rt.Recycle(t)
		}
	}
}

// sharedWith reports whether t shares memory with a value or tangent of vs.
func sharedWith(t *rt.Tensor, vs []*Var) bool {
	for _, k := range vs {
		if k != nil && (rt.SameMemory(t, k.Value) || rt.SameMemory(t, k.Tangent)) {
			return true
		}
	}
	return false
}

// NeedsGrad reports whether reverse mode tracks v.
func (v *Var) NeedsGrad() bool { return v.rec != nil }

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
	// saves says which values vjp reads, given which inputs need a gradient: input i
	// when in[i], the output when out. The others are dropped from the call when it
	// is recorded (their shapes stay). nil keeps every value.
	saves func(need []bool) (in []bool, out bool)
}

// call is one application of a primitive: what its rules may read. The JVP sees
// every value; the VJP only those its prim saves (the others are nil), and the
// shapes of all.
type call struct {
	in     []*rt.Tensor // input values
	tan    []*rt.Tensor // input tangents during the JVP
	need   []bool       // which inputs want a cotangent during the VJP
	out    *rt.Tensor   // output value
	aux    any          // op-specific saved data (statistics, attributes)
	shapes [][]int      // input shapes
}

// shape returns the shape of input i.
func (c *call) shape(i int) []int { return c.shapes[i] }

// node records a call on the tape for reverse mode: inputs[i] is input i's record,
// nil when the input is not tracked; c is nil once Grad has consumed the node.
type node struct {
	p      *prim
	c      *call
	inputs []*record
}

// apply wraps the output of a primitive, computing its tangent when any input has one
// and recording it for reverse mode when any input needs a gradient.
func apply(p *prim, out *rt.Tensor, aux any, in ...*Var) *Var {
	v := &Var{Value: out}
	hasTan, needGrad := false, false
	for _, x := range in {
		hasTan = hasTan || x.Tangent != nil
		needGrad = needGrad || x.rec != nil
	}
	if !hasTan && !needGrad {
		return v
	}
	c := &call{in: make([]*rt.Tensor, len(in)), out: out, aux: aux, shapes: make([][]int, len(in))}
	for i, x := range in {
		c.in[i], c.shapes[i] = x.Value, x.Value.Shape()
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
		n := &node{p: p, c: c, inputs: make([]*record, len(in))}
		need := make([]bool, len(in))
		for i, x := range in {
			n.inputs[i], need[i] = x.rec, x.rec != nil
		}
		c.drop(p, need)
		v.rec = &record{node: n}
	}
	return v
}

// drop lets go of the values that p's VJP does not read, given which inputs need a
// gradient.
func (c *call) drop(p *prim, need []bool) {
	if p.saves == nil {
		return
	}
	in, out := p.saves(need)
	for i := range c.in {
		if !in[i] {
			c.in[i] = nil
		}
	}
	if !out {
		c.out = nil
	}
}

// Rules for prim.saves.

// savesNone: the VJP reads shapes only (linear ops).
func savesNone(need []bool) ([]bool, bool) { return make([]bool, len(need)), false }

// savesInput0: the VJP reads its first input.
func savesInput0(need []bool) ([]bool, bool) {
	in := make([]bool, len(need))
	in[0] = true
	return in, false
}

// savesOutput: the VJP reads the output.
func savesOutput(need []bool) ([]bool, bool) { return make([]bool, len(need)), true }

// savesOther: a product of the first two inputs: the gradient of each reads the
// other (further inputs, a bias, are not read).
func savesOther(need []bool) ([]bool, bool) {
	in := make([]bool, len(need))
	in[0], in[1] = need[1], need[0]
	return in, false
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
