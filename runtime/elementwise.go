package runtime

import (
	"fmt"
	"slices"
)

// Unary returns op applied to every value of x, with parameters p0, p1 where op takes them.
func Unary(op UnaryOp, x *Tensor, p0, p1 float32) *Tensor {
	out := empty(x.dev, x.shape...)
	if x.Len() > 0 {
		x.dev.Unary(op, out.buf, x.buf, p0, p1)
	}
	return out
}

// Neg returns −x.
func Neg(x *Tensor) *Tensor { return Unary(OpNeg, x, 0, 0) }

// Exp returns eˣ elementwise.
func Exp(x *Tensor) *Tensor { return Unary(OpExp, x, 0, 0) }

// Log returns ln x elementwise.
func Log(x *Tensor) *Tensor { return Unary(OpLog, x, 0, 0) }

// Sqrt returns √x elementwise.
func Sqrt(x *Tensor) *Tensor { return Unary(OpSqrt, x, 0, 0) }

// Rsqrt returns 1/√x elementwise.
func Rsqrt(x *Tensor) *Tensor { return Unary(OpRsqrt, x, 0, 0) }

// Recip returns 1/x elementwise.
func Recip(x *Tensor) *Tensor { return Unary(OpRecip, x, 0, 0) }

// Tanh returns tanh x elementwise.
func Tanh(x *Tensor) *Tensor { return Unary(OpTanh, x, 0, 0) }

// Sigmoid returns 1/(1+e⁻ˣ) elementwise.
func Sigmoid(x *Tensor) *Tensor { return Unary(OpSigmoid, x, 0, 0) }

// SiLU returns x·sigmoid(x) elementwise.
func SiLU(x *Tensor) *Tensor { return Unary(OpSiLU, x, 0, 0) }

// Sin returns sin x elementwise.
func Sin(x *Tensor) *Tensor { return Unary(OpSin, x, 0, 0) }

// Cos returns cos x elementwise.
func Cos(x *Tensor) *Tensor { return Unary(OpCos, x, 0, 0) }

// Square returns x² elementwise.
func Square(x *Tensor) *Tensor { return Unary(OpSquare, x, 0, 0) }

// Abs returns |x| elementwise.
func Abs(x *Tensor) *Tensor { return Unary(OpAbs, x, 0, 0) }

// Sign returns −1, 0 or 1 elementwise.
func Sign(x *Tensor) *Tensor { return Unary(OpSign, x, 0, 0) }

// Affine returns scale·x + shift elementwise.
func Affine(x *Tensor, scale, shift float32) *Tensor { return Unary(OpAffine, x, scale, shift) }

// Scale returns s·x.
func Scale(x *Tensor, s float32) *Tensor { return Unary(OpAffine, x, s, 0) }

// Clamp returns min(max(x, lo), hi) elementwise.
func Clamp(x *Tensor, lo, hi float32) *Tensor { return Unary(OpClamp, x, lo, hi) }

// InRange returns 1 where lo < x < hi and 0 elsewhere.
func InRange(x *Tensor, lo, hi float32) *Tensor { return Unary(OpInRange, x, lo, hi) }

// Binary returns op(x, y) with NumPy broadcasting.
func Binary(op BinaryOp, x, y *Tensor) *Tensor {
	sameDevice(op.String(), x, y)
	l := broadcastLayout(op.String(), x.shape, y.shape)
	out := empty(x.dev, l.Shape...)
	if out.Len() > 0 {
		x.dev.Binary(op, out.buf, x.buf, y.buf, l)
	}
	return out
}

// Add returns x + y with broadcasting.
func Add(x, y *Tensor) *Tensor { return Binary(OpAdd, x, y) }

// Sub returns x − y with broadcasting.
func Sub(x, y *Tensor) *Tensor { return Binary(OpSub, x, y) }

// Mul returns x · y with broadcasting.
func Mul(x, y *Tensor) *Tensor { return Binary(OpMul, x, y) }

// Div returns x / y with broadcasting.
func Div(x, y *Tensor) *Tensor { return Binary(OpDiv, x, y) }

// Maximum returns max(x, y) with broadcasting.
func Maximum(x, y *Tensor) *Tensor { return Binary(OpMax, x, y) }

// Minimum returns min(x, y) with broadcasting.
func Minimum(x, y *Tensor) *Tensor { return Binary(OpMin, x, y) }

// SiLUGrad returns g · silu′(x): the SiLU's derivative applied to an upstream gradient
// or a tangent g.
func SiLUGrad(x, g *Tensor) *Tensor { return Binary(OpSiLUGrad, x, g) }

// Expand broadcasts x to shape (NumPy rules) and returns a contiguous copy.
func Expand(x *Tensor, shape ...int) *Tensor {
	l := broadcastLayout("expand", x.shape, shape)
	if !slices.Equal(l.Shape, shape) {
		panic(fmt.Sprintf("runtime: expand: %v cannot broadcast to %v", x.shape, shape))
	}
	out := empty(x.dev, shape...)
	if out.Len() > 0 {
		x.dev.Expand(out.buf, x.buf, l)
	}
	return out
}

// BroadcastShape returns the NumPy broadcast of shapes a and b, or an error.
func BroadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := dimFromEnd(a, n-1-i), dimFromEnd(b, n-1-i)
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func dimFromEnd(shape []int, fromEnd int) int {
	if i := len(shape) - 1 - fromEnd; i >= 0 {
		return shape[i]
	}
	return 1
}

// broadcastLayout computes the output shape and input strides of a broadcast op.
func broadcastLayout(op string, a, b []int) *Broadcast {
	shape, err := BroadcastShape(a, b)
	if err != nil {
		panic("runtime: " + op + ": " + err.Error())
	}
	return &Broadcast{Shape: shape, XStrides: bstrides(a, shape), YStrides: bstrides(b, shape)}
}

// bstrides returns the strides with which a contiguous tensor of shape in is read as
// the broadcast shape out (0 on broadcast axes).
func bstrides(in, out []int) []int {
	s := make([]int, len(out))
	stride := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := i - (len(out) - len(in))
		if j < 0 || in[j] == 1 {
			s[i] = 0
		} else {
			s[i] = stride
		}
		if j >= 0 {
			stride *= in[j]
		}
	}
	return s
}

// CollapseAxes merges adjacent axes of a broadcast that both inputs read contiguously
// with each other and drops axes of size 1, so that the common cases become one to
// three axes; devices call it before walking or launching over a Broadcast.
func CollapseAxes(shape, xs, ys []int) ([]int, []int, []int) {
	var s, a, b []int
	for i, dim := range shape {
		if dim == 1 {
			continue
		}
		if k := len(s) - 1; k >= 0 && a[k] == xs[i]*dim && b[k] == ys[i]*dim {
			s[k] *= dim
			a[k], b[k] = xs[i], ys[i]
			continue
		}
		s, a, b = append(s, dim), append(a, xs[i]), append(b, ys[i])
	}
	if len(s) == 0 {
		return []int{1}, []int{0}, []int{0}
	}
	return s, a, b
}
