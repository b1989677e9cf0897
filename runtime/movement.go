package runtime

import (
	"fmt"
	"slices"
)

// Permute returns x with its axes reordered: axis i of the result is axis perm[i] of x.
func Permute(x *Tensor, perm ...int) *Tensor {
	if len(perm) != len(x.shape) {
		panic(fmt.Sprintf("runtime: permute: %v for shape %v", perm, x.shape))
	}
	seen := make([]bool, len(perm))
	shape := make([]int, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			panic(fmt.Sprintf("runtime: permute: %v is not a permutation", perm))
		}
		seen[p] = true
		shape[i] = x.shape[p]
	}
	out := empty(x.dev, shape...)
	if out.Len() > 0 {
		x.dev.Permute(out.buf, x.buf, x.shape, perm)
	}
	return out
}

// InversePerm returns the permutation that undoes perm.
func InversePerm(perm []int) []int {
	inv := make([]int, len(perm))
	for i, p := range perm {
		inv[p] = i
	}
	return inv
}

// Transpose swaps the last two axes of x.
func Transpose(x *Tensor) *Tensor {
	n := len(x.shape)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[n-1], perm[n-2] = perm[n-2], perm[n-1]
	return Permute(x, perm...)
}

// Concat joins tensors along axis; all other axes must agree.
func Concat(axis int, xs ...*Tensor) *Tensor {
	if len(xs) == 0 {
		panic("runtime: concat: no tensors")
	}
	sameDevice("concat", xs...)
	axis = normAxis("concat", axis, len(xs[0].shape))
	shape := slices.Clone(xs[0].shape)
	shape[axis] = 0
	for _, x := range xs {
		if len(x.shape) != len(shape) {
			panic(fmt.Sprintf("runtime: concat: ranks differ: %v and %v", xs[0].shape, x.shape))
		}
		for i := range shape {
			if i != axis && x.shape[i] != shape[i] {
				panic(fmt.Sprintf("runtime: concat: shapes %v and %v differ off axis %d", xs[0].shape, x.shape, axis))
			}
		}
		shape[axis] += x.shape[axis]
	}
	out := empty(xs[0].dev, shape...)
	outer, inner := outerInner(shape, axis)
	off := 0
	for _, x := range xs {
		block := x.shape[axis] * inner
		if block > 0 && outer > 0 {
			x.dev.CopyBlocks(out.buf, off, shape[axis]*inner, x.buf, 0, block, block, outer)
		}
		off += block
	}
	return out
}

// Slice returns the values of x with lo <= index < hi along axis.
func Slice(x *Tensor, axis, lo, hi int) *Tensor {
	axis = normAxis("slice", axis, len(x.shape))
	if lo < 0 || hi > x.shape[axis] || lo > hi {
		panic(fmt.Sprintf("runtime: slice: [%d, %d) of axis %d of %v", lo, hi, axis, x.shape))
	}
	shape := slices.Clone(x.shape)
	shape[axis] = hi - lo
	out := empty(x.dev, shape...)
	outer, inner := outerInner(x.shape, axis)
	block := (hi - lo) * inner
	if block > 0 && outer > 0 {
		x.dev.CopyBlocks(out.buf, 0, block, x.buf, lo*inner, x.shape[axis]*inner, block, outer)
	}
	return out
}

// SliceAdjoint places g (the shape of a slice [lo, hi) of axis) into zeros of shape:
// the VJP of Slice.
func SliceAdjoint(g *Tensor, shape []int, axis, lo int) *Tensor {
	axis = normAxis("slice", axis, len(shape))
	out := New(g.dev, shape...)
	outer, inner := outerInner(shape, axis)
	block := g.shape[axis] * inner
	if block > 0 && outer > 0 {
		g.dev.CopyBlocks(out.buf, lo*inner, shape[axis]*inner, g.buf, 0, block, block, outer)
	}
	return out
}

func outerInner(shape []int, axis int) (outer, inner int) {
	outer, inner = 1, 1
	for i, d := range shape {
		if i < axis {
			outer *= d
		} else if i > axis {
			inner *= d
		}
	}
	return outer, inner
}

func normAxis(op string, axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("runtime: %s: axis out of range for rank %d", op, rank))
	}
	return axis
}

// PermuteLayout describes Permute as a gather: the output (contiguous, Shape) reads the
// source with XStrides, so output axis i walks source axis perm[i]. Devices use it to
// implement Permute with their strided-copy kernels.
func PermuteLayout(shape, perm []int) *Broadcast {
	r := len(shape)
	srcStride := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		srcStride[i] = s
		s *= shape[i]
	}
	l := &Broadcast{Shape: make([]int, r), XStrides: make([]int, r)}
	for i, p := range perm {
		l.Shape[i], l.XStrides[i] = shape[p], srcStride[p]
	}
	return l
}
