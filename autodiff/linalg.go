package autodiff

import rt "ocm/runtime"

// matmulAttr holds MatMul's transposition flags.
type matmulAttr struct{ transA, transB bool }

// opMatMul is bilinear. With C = op(A)·op(B) and cotangent G:
// d op(A) = G·op(B)ᵀ and d op(B) = op(A)ᵀ·G, transposed back when the operand was.
var opMatMul = &prim{name: "matmul",
	jvp: func(c *call) *rt.Tensor {
		f := c.aux.(matmulAttr)
		var a, b *rt.Tensor
		if c.tan[0] != nil {
			a = rt.MatMul(c.tan[0], c.in[1], f.transA, f.transB)
		}
		if c.tan[1] != nil {
			b = rt.MatMul(c.in[0], c.tan[1], f.transA, f.transB)
		}
		return addTan(expandTo(a, c.out.Shape()), expandTo(b, c.out.Shape()))
	},
	vjp: func(c *call, g *rt.Tensor) []*rt.Tensor {
		f := c.aux.(matmulAttr)
		a, b := c.in[0], c.in[1] // each read only for the other's gradient
		var ga, gb *rt.Tensor
		if c.need[0] {
			if f.transA {
				ga = rt.MatMul(b, g, f.transB, true)
			} else {
				ga = rt.MatMul(g, b, false, !f.transB)
			}
			ga = rt.SumTo(ga, c.shape(0))
		}
		if c.need[1] {
			if f.transB {
				gb = rt.MatMul(g, a, true, f.transA)
			} else {
				gb = rt.MatMul(a, g, !f.transA, false)
			}
			gb = rt.SumTo(gb, c.shape(1))
		}
		return []*rt.Tensor{ga, gb}
	},
	saves: savesOther,
}

// MatMul returns the batched product op(a)·op(b) (see runtime.MatMul).
func MatMul(a, b *Var, transA, transB bool) *Var {
	return apply(opMatMul, rt.MatMul(a.Value, b.Value, transA, transB), matmulAttr{transA, transB}, a, b)
}
