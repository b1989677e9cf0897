package runtime

// UnaryOp names an elementwise function of one tensor. Some take parameters p0, p1.
type UnaryOp uint8

// Unary ops. The formula after each is what the device computes for input x.
const (
	OpNeg      UnaryOp = iota // −x
	OpExp                     // eˣ
	OpLog                     // ln x
	OpSqrt                    // √x
	OpRsqrt                   // 1/√x
	OpRecip                   // 1/x
	OpTanh                    // tanh x
	OpSigmoid                 // 1/(1+e⁻ˣ)
	OpSiLU                    // x·sigmoid(x)
	OpSin                     // sin x
	OpCos                     // cos x
	OpSquare                  // x²
	OpAbs                     // |x|
	OpSign                    // −1, 0 or 1
	OpAffine                  // p0·x + p1
	OpClamp                   // min(max(x, p0), p1)
	OpInRange                 // 1 if p0 < x < p1 else 0 (the clamp's derivative)
	OpDropMask                // x ≥ p0 ? p1 : 0 (x uniform in [0,1): a dropout mask scaled by p1)
	numUnaryOps
)

var unaryNames = [numUnaryOps]string{"neg", "exp", "log", "sqrt", "rsqrt", "recip", "tanh",
	"sigmoid", "silu", "sin", "cos", "square", "abs", "sign", "affine", "clamp", "inrange", "dropmask"}

// String is the op's name.
func (op UnaryOp) String() string {
	if op < numUnaryOps {
		return unaryNames[op]
	}
	return "unary?"
}

// BinaryOp names an elementwise function of two tensors.
type BinaryOp uint8

// Binary ops on (x, y).
const (
	OpAdd      BinaryOp = iota // x + y
	OpSub                      // x − y
	OpMul                      // x · y
	OpDiv                      // x / y
	OpMax                      // max(x, y)
	OpMin                      // min(x, y)
	OpSiLUGrad                 // y · d/dx silu(x): the SiLU's VJP and JVP with the upstream or tangent y
	numBinaryOps
)

var binaryNames = [numBinaryOps]string{"add", "sub", "mul", "div", "max", "min", "silugrad"}

// String is the op's name.
func (op BinaryOp) String() string {
	if op < numBinaryOps {
		return binaryNames[op]
	}
	return "binary?"
}

// ReduceOp names a reduction.
type ReduceOp uint8

// Reductions.
const (
	ReduceSum ReduceOp = iota
	ReduceMax
)

// String is the op's name.
func (op ReduceOp) String() string {
	switch op {
	case ReduceSum:
		return "sum"
	case ReduceMax:
		return "max"
	}
	return "reduce?"
}

// Distribution names what Random draws.
type Distribution uint8

// Distributions of Random, with the exact formulas of package philox.
const (
	Uniform    Distribution = iota // [0, 1)
	Normal                         // N(0, 1), Box–Muller
	Rademacher                     // ±1 with probability ½ each
)

// String is the op's name.
func (d Distribution) String() string {
	switch d {
	case Uniform:
		return "uniform"
	case Normal:
		return "normal"
	case Rademacher:
		return "rademacher"
	}
	return "distribution?"
}
