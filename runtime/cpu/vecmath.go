package cpu

import "math"

// Vectorised elementwise math: e^x, sigmoid, SiLU and SiLU's derivative on
// float32 slices, with AVX-512 and AVX2/FMA assembly on amd64 and a portable
// Go version that evaluates the same formula operation for operation (so
// every path agrees to within 1 ulp, and almost always bit for bit).
//
// e^x (Cephes expf's method): x is clamped to [-105, 89], then
//
//	k = round-to-nearest-even(x·log2(e))
//	r = x − k·0.693359375 + k·2.12194440e-4        (two FMAs; |r| <= ln2/2)
//	p = 1 + r + r²·P5(r)                           (Horner with FMAs)
//	e^x = p·2^k                                    (VSCALEFPS, or 2^⌊k/2⌋·2^(k−⌊k/2⌋))
//
// The scaling rounds once, so results that are subnormal are p·2^k correctly
// rounded (not flushed to zero); e^x is 0 below about −103.97 and +Inf above
// about 88.72; NaN gives NaN (+Inf gives +Inf, −Inf gives 0). Measured error:
// at most 1 ulp over [-104, 88.7] (see TestExpAccuracy).
//
// Sigmoid is computed without overflow from e = e^−|x|:
//
//	d = 1/(1+e)
//	sigmoid(x) = d, 1−sigmoid(x) = e·d     for x >= 0 (sign bit clear)
//	sigmoid(x) = e·d, 1−sigmoid(x) = d     for x < 0
//
// so SiLU(-100) = -100·3.7e-44 (a subnormal, not NaN) and SiLU's derivative
// uses an accurate 1−sigmoid(x) on both sides. Infinite inputs: sigmoid(±Inf)
// = 1 or 0, SiLU(+Inf) = +Inf, SiLU(−Inf) = NaN (−Inf·0, as in PyTorch).
//
// The functions run on the calling goroutine (callers split large slices
// with ParallelFor).

// vecKernels is one implementation (generic, AVX2 or AVX-512) of the
// elementwise kernels. Each function gets slices whose lengths have already
// been checked equal (bias: len(dst) == len(bias)).
type vecKernels struct {
	exp, sigmoid, silu func(dst, src []float32)
	siluGrad           func(dst, x, g []float32)
	addBiasSiLU        func(dst, src, bias []float32) // one row
}

var vecGeneric = &vecKernels{
	exp:         expGo,
	sigmoid:     sigmoidGo,
	silu:        siluGo,
	siluGrad:    siluGradGo,
	addBiasSiLU: addBiasSiLUGo,
}

// vecKernelsFor returns the implementation for k, or nil when this CPU (or
// this build) lacks it. vecImpls is set at package initialisation and never
// changed.
func vecKernelsFor(k Kernel) *vecKernels {
	if k < 0 || int(k) >= len(vecImpls) {
		return nil
	}
	return vecImpls[k]
}

// vecBest is the fastest implementation available.
var vecBest = func() *vecKernels {
	for _, k := range []Kernel{KernelAVX512, KernelAVX2} {
		if v := vecKernelsFor(k); v != nil {
			return v
		}
	}
	return vecGeneric
}()

func vecCheck2(op string, a, b []float32) {
	if len(a) != len(b) {
		panic("cpu: " + op + ": lengths differ")
	}
}

// Exp sets dst[i] = e^src[i]. dst and src must have the same length; dst may
// alias src. See the package notes above for accuracy and special values.
func Exp(dst, src []float32) {
	vecCheck2("Exp", dst, src)
	vecBest.exp(dst, src)
}

// Sigmoid sets dst[i] = 1/(1+e^−src[i]). dst may alias src.
func Sigmoid(dst, src []float32) {
	vecCheck2("Sigmoid", dst, src)
	vecBest.sigmoid(dst, src)
}

// SiLU sets dst[i] = src[i]·sigmoid(src[i]). dst may alias src.
func SiLU(dst, src []float32) {
	vecCheck2("SiLU", dst, src)
	vecBest.silu(dst, src)
}

// SiLUGrad sets dst[i] = g[i]·s·(1 + x[i]·(1−s)) with s = sigmoid(x[i]): the
// derivative of SiLU at x times g (SiLU's VJP and JVP). dst may alias x or g.
func SiLUGrad(dst, x, g []float32) {
	if len(x) != len(dst) || len(g) != len(dst) {
		panic("cpu: SiLUGrad: lengths differ")
	}
	vecBest.siluGrad(dst, x, g)
}

// AddBiasSiLU sets dst[r·n+j] = silu(src[r·n+j] + bias[j]) for every row r of
// the matrix src with n = len(bias) columns (a Linear layer's bias and SiLU
// fused). len(src) must equal len(dst) and be a multiple of len(bias) (any
// length when src is empty). dst may alias src.
func AddBiasSiLU(dst, src, bias []float32) {
	n := len(bias)
	if len(src) != len(dst) || (n == 0 && len(src) != 0) || (n != 0 && len(src)%n != 0) {
		panic("cpu: AddBiasSiLU: lengths differ")
	}
	f := vecBest.addBiasSiLU
	for lo := 0; lo < len(src); lo += n {
		f(dst[lo:lo+n], src[lo:lo+n], bias)
	}
}

// Portable versions. They use the same operations as the assembly in the
// same order; fma32 rounds twice (through float64) where the hardware FMA
// rounds once, which can differ in the last bit in rare halfway cases.

const (
	expLo    = -105.0
	expHi    = 89.0
	expLog2e = 1.44269504088896341
	expC1    = 0.693359375
	expC2    = 2.12194440e-4
	expP5    = 1.9875691500e-4
	expP4    = 1.3981999507e-3
	expP3    = 8.3334519073e-3
	expP2    = 4.1665795894e-2
	expP1    = 1.6666665459e-1
	expP0    = 5.0000001201e-1
)

// fma32 returns a·b+c for float32: a·b is exact in float64, so this rounds
// twice (to float64, then float32), which differs from a single-rounding
// FMA only when the float64 sum lands exactly halfway between two float32
// values. (Fusing the float64 multiply-add, as the compiler may on some
// architectures, gives the same result since a·b is exact; math.FMA would
// too, but is much slower where it needs a CPU feature check.)
func fma32(a, b, c float32) float32 {
	return float32(float64(a)*float64(b) + float64(c))
}

// exp32 is e^x by the method described at the top of this file.
func exp32(x float32) float32 {
	if x < expLo { // NaN passes both tests unchanged
		x = expLo
	}
	if x > expHi {
		x = expHi
	}
	kf := float32(math.RoundToEven(float64(x * expLog2e)))
	r := fma32(-kf, expC1, x)
	r = fma32(kf, expC2, r)
	p := fma32(expP5, r, expP4)
	p = fma32(p, r, expP3)
	p = fma32(p, r, expP2)
	p = fma32(p, r, expP1)
	p = fma32(p, r, expP0)
	p = fma32(p, r*r, r)
	p += 1
	if kf != kf { // NaN: the conversion below is not meaningful
		return kf
	}
	k := int32(kf)
	k1 := k >> 1
	k2 := k - k1
	p *= math.Float32frombits(uint32(k1+127) << 23)
	return p * math.Float32frombits(uint32(k2+127)<<23)
}

// sigmoidParts returns s = sigmoid(x) and u = 1−s.
func sigmoidParts(x float32) (s, u float32) {
	bits := math.Float32bits(x)
	e := exp32(math.Float32frombits(bits | 1<<31)) // e^−|x|
	d := 1 / (1 + e)
	ed := e * d
	if bits>>31 != 0 {
		return ed, d
	}
	return d, ed
}

func expGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] = exp32(x)
	}
}

func sigmoidGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i], _ = sigmoidParts(x)
	}
}

func siluGo(dst, src []float32) {
	src = src[:len(dst)]
	for i, x := range src {
		s, _ := sigmoidParts(x)
		dst[i] = x * s
	}
}

func siluGradGo(dst, x, g []float32) {
	x, g = x[:len(dst)], g[:len(dst)]
	for i, xi := range x {
		s, u := sigmoidParts(xi)
		t := fma32(xi, u, 1)
		dst[i] = (s * t) * g[i]
	}
}

func addBiasSiLUGo(dst, src, bias []float32) {
	src, bias = src[:len(dst)], bias[:len(dst)]
	for i, x := range src {
		x += bias[i]
		s, _ := sigmoidParts(x)
		dst[i] = x * s
	}
}
