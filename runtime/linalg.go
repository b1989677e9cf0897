package runtime

import (
	"fmt"
	"slices"
)

// MatMul returns the batched matrix product op(a)·op(b), where op transposes the last
// two axes when the matching flag is set. a is (…, M, K) (or (…, K, M) with transA) and
// b is (…, K, N) (or (…, N, K) with transB). The batch axes must be equal, or one
// operand may be a plain matrix shared by every batch item. The result is (…, M, N).
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	sameDevice("matmul", a, b)
	if len(a.shape) < 2 || len(b.shape) < 2 {
		panic(fmt.Sprintf("runtime: matmul: operands %v and %v need two axes", a.shape, b.shape))
	}
	m, ka := a.Dim(-2), a.Dim(-1)
	if transA {
		m, ka = ka, m
	}
	kb, n := b.Dim(-2), b.Dim(-1)
	if transB {
		kb, n = n, kb
	}
	if ka != kb {
		panic(fmt.Sprintf("runtime: matmul: inner dimensions differ: %v and %v (trans %v %v)", a.shape, b.shape, transA, transB))
	}
	batchA, batchB := a.shape[:len(a.shape)-2], b.shape[:len(b.shape)-2]
	batchShape := batchA
	switch {
	case slices.Equal(batchA, batchB):
	case len(batchB) == 0:
	case len(batchA) == 0:
		batchShape = batchB
	default:
		panic(fmt.Sprintf("runtime: matmul: batch axes %v and %v differ", batchA, batchB))
	}
	batch := numel(batchShape)
	out := empty(a.dev, append(slices.Clone(batchShape), m, n)...)
	if out.Len() == 0 {
		return out
	}
	g := &GemmArgs{TransA: transA, TransB: transB, Batch: batch, M: m, N: n, K: ka,
		Alpha: 1, StrideC: m * n}
	if len(batchA) > 0 {
		g.StrideA = m * ka
	}
	if len(batchB) > 0 {
		g.StrideB = ka * n
	}
	a.dev.Gemm(out.buf, a.buf, b.buf, g)
	return out
}
