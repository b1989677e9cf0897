package autodiff

import (
	"fmt"

	rt "ocm/runtime"
)

// Grad runs reverse mode from y with output cotangent seed (y's shape; nil means ones,
// for a scalar loss) and returns the gradient of Σ seed·y with respect to each of wrt:
// nil for a Var that y does not depend on or that does not need a gradient.
//
// Grad consumes the tape behind y: each op's saved values (the inputs, output and
// statistics its reverse rule reads) are let go as soon as its rule has run, so that
// the rest of the backward pass can reuse their memory (a pooled CPU device gets the
// buffers back at the next collection) instead of holding every activation until
// Grad returns. A second Grad through any op of a consumed tape panics saying so; to
// differentiate several losses of one forward pass, take one Grad of their sum (or
// run the forward pass again). The Vars themselves, y included, keep their values.
func Grad(y *Var, seed *rt.Tensor, wrt ...*Var) []*rt.Tensor {
	if seed == nil {
		seed = rt.Full(y.Value.Device(), 1, y.Shape()...)
	}
	if !rt.SameShape(seed.Shape(), y.Shape()) {
		panic(fmt.Sprintf("autodiff: grad: seed shape %v for output %v", seed.Shape(), y.Shape()))
	}
	out := make([]*rt.Tensor, len(wrt))
	if y.rec == nil { // nothing is tracked: only y itself has a gradient
		for i, w := range wrt {
			if w == y {
				out[i] = seed
			}
		}
		return out
	}
	grads := map[*record]*rt.Tensor{y.rec: seed}
	rc := rt.NewRecycler(y.Value.Device()) // cotangents made from here on
	rc.Hold(seed)
	want := make(map[*record]bool, len(wrt))
	for _, w := range wrt {
		if w.rec != nil {
			want[w.rec] = true
		}
	}
	order := topoOrder(y.rec)
	for _, v := range order {
		if v.node.c == nil {
			panic("autodiff: grad: the tape was consumed by an earlier Grad (the values " + v.node.p.name +
				" saved were released when its gradient ran): run the forward pass again, or take one Grad of the sum of the losses")
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		n := v.node
		g := grads[v]
		if g == nil {
			n.release()
			continue
		}
		if !want[v] {
			delete(grads, v) // free intermediate cotangents as soon as they are used
		}
		n.c.need = make([]bool, len(n.inputs))
		for j, x := range n.inputs {
			n.c.need[j] = x != nil
		}
		gs := n.p.vjp(n.c, g)
		n.release()
		for j, x := range n.inputs {
			if x == nil || gs[j] == nil {
				continue
			}
			rc.Hold(gs[j])
			grads[x] = accumulate(rc, grads[x], gs[j])
		}
		if !want[v] {
			rc.Drop(g) // after the holds: an input's cotangent may be g or a view of it
		}
	}
	for i, w := range wrt {
		if w.rec != nil {
			out[i] = grads[w.rec]
		}
	}
	return out
}

// accumulate returns the cotangent old + g (g alone when old is nil), with rc's
// references moved from the addends to a new sum.
func accumulate(rc *rt.Recycler, old, g *rt.Tensor) *rt.Tensor {
	sum := addTan(old, g)
	if sum != old && sum != g {
		rc.Hold(sum)
		rc.Drop(old)
		rc.Drop(g)
	}
	return sum
}

// retainTape keeps every node's saved values after Grad (tests: the tape as it was
// before Grad consumed it).
var retainTape bool

// release lets go of the values n's rule saved: the tape is consumed.
func (n *node) release() {
	if !retainTape {
		n.c = nil
	}
}

// topoOrder returns the records of ops that y depends on, inputs before outputs.
func topoOrder(y *record) []*record {
	var order []*record
	seen := map[*record]bool{y: true}
	type frame struct {
		r    *record
		next int
	}
	stack := []frame{{r: y}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.r.node == nil || f.next == len(f.r.node.inputs) {
			if f.r.node != nil {
				order = append(order, f.r)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		x := f.r.node.inputs[f.next]
		f.next++
		if x != nil && !seen[x] {
			seen[x] = true
			stack = append(stack, frame{r: x})
		}
	}
	return order
}

// JVP evaluates f at x with input tangent v in forward mode and returns f(x) and the
// Jacobian-vector product J·v. No tape is recorded unless f uses trainable Vars.
func JVP(f func(*Var) *Var, x, v *rt.Tensor) (y, jv *rt.Tensor) {
	out := f(Dual(x, v))
	if out.Tangent == nil {
		return out.Value, rt.New(x.Device(), out.Shape()...)
	}
	return out.Value, out.Tangent
}

// VJP evaluates f at x in reverse mode and returns f(x) and the vector-Jacobian product
// Jᵀ·u.
func VJP(f func(*Var) *Var, x, u *rt.Tensor) (y, ju *rt.Tensor) {
	in := Leaf(x)
	out := f(in)
	g := Grad(out, u, in)[0]
	if g == nil {
		g = rt.New(x.Device(), x.Shape()...)
	}
	return out.Value, g
}
