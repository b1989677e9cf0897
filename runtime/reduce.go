package runtime

import (
	"fmt"
	"slices"
)

// Sum returns the sum of x over the given axes (all axes when none are given). With
// keepDims the reduced axes stay as size 1.
func Sum(x *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce(ReduceSum, x, keepDims, axes)
}

// MaxOver returns the maximum of x over the given axes (all when none are given).
func MaxOver(x *Tensor, keepDims bool, axes ...int) *Tensor {
	return reduce(ReduceMax, x, keepDims, axes)
}

// Mean returns the mean of x over the given axes (all when none are given).
func Mean(x *Tensor, keepDims bool, axes ...int) *Tensor {
	s := Sum(x, keepDims, axes...)
	if s.Len() == 0 {
		return s
	}
	return Scale(s, float32(s.Len())/float32(x.Len()))
}

// SumTo sums x over broadcast axes so that the result has shape (the adjoint of
// broadcasting shape to x's shape).
func SumTo(x *Tensor, shape []int) *Tensor {
	if slices.Equal(x.shape, shape) {
		return x
	}
	lead := len(x.shape) - len(shape)
	if lead < 0 {
		panic(fmt.Sprintf("runtime: sumto: %v to %v", x.shape, shape))
	}
	var axes []int
	for i := range x.shape {
		if i < lead || (shape[i-lead] == 1 && x.shape[i] != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return x.Reshape(shape...)
	}
	return Sum(x, false, axes...).Reshape(shape...)
}

// ReducedShape returns the shape of a reduction of shape over axes (all when empty).
func ReducedShape(shape []int, keepDims bool, axes []int) ([]int, []bool) {
	red := make([]bool, len(shape))
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	}
	for _, a := range axes {
		if a < 0 {
			a += len(shape)
		}
		if a < 0 || a >= len(shape) {
			panic(fmt.Sprintf("runtime: reduce: axis out of range for shape %v", shape))
		}
		red[a] = true
	}
	var out []int
	for i, d := range shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case keepDims:
			out = append(out, 1)
		}
	}
	return out, red
}

func reduce(op ReduceOp, x *Tensor, keepDims bool, axes []int) *Tensor {
	shape, red := ReducedShape(x.shape, keepDims, axes)
	out := empty(x.dev, shape...)
	if out.Len() > 0 {
		x.dev.Reduce(op, out.buf, x.buf, x.shape, red)
	}
	return out
}
