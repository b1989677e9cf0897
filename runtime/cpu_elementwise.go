package runtime

import (
	"math"

	"ocm/runtime/cpu"
)

// elementwise work is split across cores in chunks of at least this many values.
const minChunk = 1 << 14

// Unary computes dst = op(src).
func (d *CPU) Unary(op UnaryOp, dst, src Buffer, p0, p1 float32) {
	o, x := data(dst), data(src)
	cpu.ParallelFor(len(o), minChunk, func(lo, hi int) { unaryLoop(op, o[lo:hi], x[lo:hi], p0, p1) })
}

func unaryLoop(op UnaryOp, o, x []float32, p0, p1 float32) {
	x = x[:len(o)]
	switch op {
	case OpNeg:
		for i, v := range x {
			o[i] = -v
		}
	case OpExp:
		cpu.Exp(o, x)
	case OpLog:
		for i, v := range x {
			o[i] = float32(math.Log(float64(v)))
		}
	case OpSqrt:
		for i, v := range x {
			o[i] = float32(math.Sqrt(float64(v)))
		}
	case OpRsqrt:
		for i, v := range x {
			o[i] = float32(1 / math.Sqrt(float64(v)))
		}
	case OpRecip:
		for i, v := range x {
			o[i] = 1 / v
		}
	case OpTanh:
		for i, v := range x {
			o[i] = float32(math.Tanh(float64(v)))
		}
	case OpSigmoid:
		cpu.Sigmoid(o, x)
	case OpSiLU:
		cpu.SiLU(o, x)
	case OpSin:
		for i, v := range x {
			o[i] = float32(math.Sin(float64(v)))
		}
	case OpCos:
		for i, v := range x {
			o[i] = float32(math.Cos(float64(v)))
		}
	case OpSquare:
		for i, v := range x {
			o[i] = v * v
		}
	case OpAbs:
		for i, v := range x {
			o[i] = float32(math.Abs(float64(v)))
		}
	case OpSign:
		for i, v := range x {
			o[i] = sign(v)
		}
	case OpAffine:
		for i, v := range x {
			o[i] = p0*v + p1
		}
	case OpClamp:
		for i, v := range x {
			o[i] = min(max(v, p0), p1)
		}
	case OpInRange:
		for i, v := range x {
			o[i] = boolf(v > p0 && v < p1)
		}
	case OpDropMask:
		for i, v := range x {
			o[i] = 0
			if v >= p0 {
				o[i] = p1
			}
		}
	default:
		panic("runtime: cpu: unknown unary op " + op.String())
	}
}

func sign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func boolf(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

// rowFunc computes one row of a broadcast op: o[i] = f(x[i*sx], y[i*sy]).
type rowFunc func(o, x []float32, sx int, y []float32, sy int)

// Binary computes dst = op(x, y) with broadcasting.
func (d *CPU) Binary(op BinaryOp, dst, x, y Buffer, l *Broadcast) {
	f := binaryRow(op)
	broadcastRows(data(dst), data(x), data(y), l.Shape, l.XStrides, l.YStrides, f)
}

// Expand broadcasts src into dst.
func (d *CPU) Expand(dst, src Buffer, l *Broadcast) {
	zero := []float32{0}
	broadcastRows(data(dst), data(src), zero, l.Shape, l.XStrides, make([]int, len(l.Shape)), copyRow)
}

func copyRow(o, x []float32, sx int, _ []float32, _ int) {
	if sx == 1 {
		copy(o, x[:len(o)])
		return
	}
	v := x[0]
	for i := range o {
		o[i] = v
	}
}

// broadcastRows walks the output row by row (the last collapsed axis) and calls f on
// each, splitting rows across cores.
func broadcastRows(o, x, y []float32, shape, xs, ys []int, f rowFunc) {
	shape, xs, ys = CollapseAxes(shape, xs, ys)
	r := len(shape)
	n := shape[r-1]
	sx, sy := xs[r-1], ys[r-1]
	rows := len(o) / n
	cpu.ParallelFor(rows, max(1, minChunk/n), func(lo, hi int) {
		idx := make([]int, r-1)
		rem := lo
		xo, yo := 0, 0
		for a := r - 2; a >= 0; a-- {
			idx[a] = rem % shape[a]
			rem /= shape[a]
			xo += idx[a] * xs[a]
			yo += idx[a] * ys[a]
		}
		for row := lo; row < hi; row++ {
			f(o[row*n:(row+1)*n], x[xo:], sx, y[yo:], sy)
			for a := r - 2; a >= 0; a-- {
				idx[a]++
				xo += xs[a]
				yo += ys[a]
				if idx[a] < shape[a] {
					break
				}
				xo -= idx[a] * xs[a]
				yo -= idx[a] * ys[a]
				idx[a] = 0
			}
		}
	})
}

func binaryRow(op BinaryOp) rowFunc {
	switch op {
	case OpAdd:
		return addRow
	case OpSub:
		return subRow
	case OpMul:
		return mulRow
	case OpDiv:
		return divRow
	case OpMax:
		return rowOf(func(a, b float32) float32 { return max(a, b) })
	case OpMin:
		return rowOf(func(a, b float32) float32 { return min(a, b) })
	case OpSiLUGrad:
		slow := rowOf(func(a, b float32) float32 {
			s := sigmoidf(a)
			return b * s * (1 + a*(1-s))
		})
		return func(o, x []float32, sx int, y []float32, sy int) {
			if sx == 1 && sy == 1 {
				cpu.SiLUGrad(o, x[:len(o)], y[:len(o)])
				return
			}
			slow(o, x, sx, y, sy)
		}
	}
	panic("runtime: cpu: unknown binary op " + op.String())
}

// rowOf makes a row function from a scalar one, with the stride cases split so the
// common loops stay simple for the compiler.
func rowOf(f func(a, b float32) float32) rowFunc {
	return func(o, x []float32, sx int, y []float32, sy int) {
		switch {
		case sx == 1 && sy == 1:
			x, y := x[:len(o)], y[:len(o)]
			for i := range o {
				o[i] = f(x[i], y[i])
			}
		case sx == 1 && sy == 0:
			x, b := x[:len(o)], y[0]
			for i := range o {
				o[i] = f(x[i], b)
			}
		case sx == 0 && sy == 1:
			a, y := x[0], y[:len(o)]
			for i := range o {
				o[i] = f(a, y[i])
			}
		default:
			for i := range o {
				o[i] = f(x[i*sx], y[i*sy])
			}
		}
	}
}

// Reduce sums (or maximises) over the marked axes, accumulating sums in float64.
func (d *CPU) Reduce(op ReduceOp, dst, src Buffer, shape []int, reduced []bool) {
	o, x := data(dst), data(src)
	// Collapse to alternating kept/reduced groups.
	var dims []int
	var red []bool
	for i, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(dims) - 1; k >= 0 && red[k] == reduced[i] {
			dims[k] *= n
			continue
		}
		dims, red = append(dims, n), append(red, reduced[i])
	}
	acc := make([]float64, len(o))
	init := 0.0
	if op == ReduceMax {
		init = math.Inf(-1)
	}
	for i := range acc {
		acc[i] = init
	}
	switch {
	case op == ReduceSum && len(dims) == 2 && red[0] && !red[1]:
		colSums(acc, x, dims[0], dims[1])
	case len(dims) == 2 && !red[0] && red[1]:
		reduceKept(op, acc, x, 1, dims[0], dims[1])
	case len(dims) == 3 && red[0] && !red[1] && red[2]:
		reduceKept(op, acc, x, dims[0], dims[1], dims[2])
	default:
		reduceRec(op, acc, x, dims, red)
	}
	for i, v := range acc {
		o[i] = float32(v)
	}
}

// reduceRec accumulates x (shape dims) into acc, where acc holds the kept axes.
func reduceRec(op ReduceOp, acc []float64, x []float32, dims []int, red []bool) {
	if len(dims) == 0 {
		if op == ReduceSum {
			acc[0] += float64(x[0])
		} else {
			acc[0] = max(acc[0], float64(x[0]))
		}
		return
	}
	if len(dims) == 1 {
		reduceLeaf(op, acc, x[:dims[0]], red[0])
		return
	}
	inner := 1
	accInner := 1
	for i := 1; i < len(dims); i++ {
		inner *= dims[i]
		if !red[i] {
			accInner *= dims[i]
		}
	}
	for i := range dims[0] {
		a := acc
		if !red[0] {
			a = acc[i*accInner : (i+1)*accInner]
		}
		reduceRec(op, a, x[i*inner:(i+1)*inner], dims[1:], red[1:])
	}
}

// reduceKept reduces x, shaped (outer, kept, inner), over its outer and inner axes
// into acc (kept): a bias gradient (N, C, H·W) → C, or row sums (outer 1). Each
// value of acc is accumulated in the order reduceRec uses (outer index by outer
// index, each inner run summed first), with the kept axis split across cores.
func reduceKept(op ReduceOp, acc []float64, x []float32, outer, kept, inner int) {
	cpu.ParallelFor(kept, max(1, minChunk/max(1, outer*inner)), func(lo, hi int) {
		for o := range outer {
			for k := lo; k < hi; k++ {
				off := (o*kept + k) * inner
				reduceLeaf(op, acc[k:k+1], x[off:off+inner], true)
			}
		}
	})
}

// colSums adds the column sums of x ([rows, cols]) to acc ([cols]), adding
// the rows in order (so each sum is the one reduceRec would give), four rows
// per pass over acc and with the columns split across cores.
func colSums(acc []float64, x []float32, rows, cols int) {
	cpu.ParallelFor(cols, max(16, minChunk/max(1, rows)), func(lo, hi int) {
		a := acc[lo:hi]
		r := 0
		for ; r+4 <= rows; r += 4 {
			x0 := x[r*cols+lo : r*cols+hi]
			x1 := x[(r+1)*cols+lo : (r+1)*cols+hi]
			x2 := x[(r+2)*cols+lo : (r+2)*cols+hi]
			x3 := x[(r+3)*cols+lo : (r+3)*cols+hi]
			x0, x1, x2, x3 = x0[:len(a)], x1[:len(a)], x2[:len(a)], x3[:len(a)]
			for i := range a {
				a[i] = a[i] + float64(x0[i]) + float64(x1[i]) + float64(x2[i]) + float64(x3[i])
			}
		}
		for ; r < rows; r++ {
			xr := x[r*cols+lo : r*cols+hi]
			xr = xr[:len(a)]
			for i := range a {
				a[i] += float64(xr[i])
			}
		}
	})
}

func reduceLeaf(op ReduceOp, acc []float64, x []float32, reduced bool) {
	switch {
	case reduced && op == ReduceSum:
		s := 0.0
		for _, v := range x {
			s += float64(v)
		}
		acc[0] += s
	case reduced:
		m := acc[0]
		for _, v := range x {
			m = max(m, float64(v))
		}
		acc[0] = m
	case op == ReduceSum:
		for i, v := range x {
			acc[i] += float64(v)
		}
	default:
		for i, v := range x {
			acc[i] = max(acc[i], float64(v))
		}
	}
}

// Permute transposes src into dst.
func (d *CPU) Permute(dst, src Buffer, shape, perm []int) {
	o, x := data(dst), data(src)
	l := PermuteLayout(shape, perm)
	r, outShape, st := len(shape), l.Shape, l.XStrides
	n := outShape[r-1]
	rows := len(o) / max(1, n)
	last := st[r-1]
	cpu.ParallelFor(rows, max(1, minChunk/max(1, n)), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			off, rem := 0, row
			for a := r - 2; a >= 0; a-- {
				off += (rem % outShape[a]) * st[a]
				rem /= outShape[a]
			}
			out := o[row*n : (row+1)*n]
			for j := range out {
				out[j] = x[off+j*last]
			}
		}
	})
}
