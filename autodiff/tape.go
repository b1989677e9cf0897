package autodiff

import (
	"fmt"

	rt "ocm/runtime"
)

// Grad runs reverse mode from y with output cotangent seed (y's shape; nil means ones,
// for a scalar loss) and returns the gradient of Σ seed·y with respect to each of wrt:
// nil for a Var that y does not depend on or that does not need a gradient.
func Grad(y *Var, seed *rt.Tensor, wrt ...*Var) []*rt.Tensor {
	if seed == nil {
		seed = rt.Full(y.Value.Device(), 1, y.Shape()...)
	}
	if !rt.SameShape(seed.Shape(), y.Shape()) {
		panic(fmt.Sprintf("autodiff: grad: seed shape %v for output %v", seed.Shape(), y.Shape()))
	}
	grads := map[*Var]*rt.Tensor{y: seed}
	want := make(map[*Var]bool, len(wrt))
	for _, w := range wrt {
		want[w] = true
	}
	order := topoOrder(y)
	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		g := grads[v]
		if g == nil {
			continue
		}
		if !want[v] {
			delete(grads, v) // free intermediate cotangents as soon as they are used
		}
		n := v.node
		n.c.need = make([]bool, len(n.inputs))
		for j, x := range n.inputs {
			n.c.need[j] = x.needGrad
		}
		gs := n.p.vjp(n.c, g)
		for j, x := range n.inputs {
			if !x.needGrad || gs[j] == nil {
				continue
			}
			grads[x] = addTan(grads[x], gs[j])
		}
	}
	out := make([]*rt.Tensor, len(wrt))
	for i, w := range wrt {
		out[i] = grads[w]
	}
	return out
}

// topoOrder returns the recorded Vars that y depends on, inputs before outputs.
func topoOrder(y *Var) []*Var {
	var order []*Var
	seen := map[*Var]bool{}
	type frame struct {
		v    *Var
		next int
	}
	stack := []frame{{v: y}}
	seen[y] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.v.node == nil || f.next == len(f.v.node.inputs) {
			if f.v.node != nil {
				order = append(order, f.v)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		x := f.v.node.inputs[f.next]
		f.next++
		if x.needGrad && !seen[x] {
			seen[x] = true
			stack = append(stack, frame{v: x})
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
