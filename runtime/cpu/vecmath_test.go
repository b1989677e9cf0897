package cpu

import (
	"fmt"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// vecPaths lists the implementations this CPU and build can run, generic
// first.
func vecPaths(t testing.TB) []Kernel {
	var ks []Kernel
	for _, k := range []Kernel{KernelGeneric, KernelAVX2, KernelAVX512} {
		if vecKernelsFor(k) != nil {
			ks = append(ks, k)
		} else {
			t.Logf("%v: not available here, skipped", k)
		}
	}
	return ks
}

// ulpOf returns the spacing of float32 values at |w| (2^-149 in the
// subnormal range).
func ulpOf(w float64) float64 {
	w = math.Abs(w)
	if w < 0x1p-126 {
		return 0x1p-149
	}
	_, e := math.Frexp(w) // w = f·2^e, f in [0.5, 1)
	return math.Ldexp(1, e-24)
}

// ulpErr is |got − want| in float32 ulps at want.
func ulpErr(got float32, want float64) float64 {
	return math.Abs(float64(got)-want) / ulpOf(want)
}

// ulpDist is the number of float32 values between a and b (0 for equal
// values, both NaN, or +0/−0).
func ulpDist(a, b float32) int64 {
	if a != a && b != b {
		return 0
	}
	if a != a || b != b {
		return math.MaxInt64
	}
	ord := func(f float32) int64 {
		u := int64(math.Float32bits(f))
		if u&(1<<31) != 0 {
			return -(u &^ (1 << 31))
		}
		return u
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// expInputs is a dense sweep of [lo, hi] plus random values in it.
func expInputs(lo, hi float64, dense, random int, seed int64) []float32 {
	xs := make([]float32, 0, dense+random)
	for i := range dense {
		xs = append(xs, float32(lo+(hi-lo)*float64(i)/float64(dense-1)))
	}
	r := rand.New(rand.NewSource(seed))
	for range random {
		xs = append(xs, float32(lo+(hi-lo)*r.Float64()))
	}
	return xs
}

func TestExpAccuracy(t *testing.T) {
	xs := expInputs(-104, 88.72, 1<<20, 1<<18, 1)
	// Every float32 near 0 and near the ends of the range too.
	for _, c := range []float32{0, -87.33655, 88.7228, -103.9721} {
		b := math.Float32bits(c)
		for d := range uint32(4096) {
			xs = append(xs, math.Float32frombits(b+d), math.Float32frombits(b-d))
		}
	}
	want := make([]float64, len(xs))
	for i, x := range xs {
		want[i] = math.Exp(float64(x))
	}
	ref := make([]float32, len(xs))
	vecGeneric.exp(ref, xs)
	for _, k := range vecPaths(t) {
		got := make([]float32, len(xs))
		vecKernelsFor(k).exp(got, xs)
		var maxUlp, maxUlpNormal float64
		var worst float32
		var maxDiff int64
		for i, x := range xs {
			w := want[i]
			if w > math.MaxFloat32 {
				if !math.IsInf(float64(got[i]), 1) && ulpErr(got[i], math.MaxFloat32) > 2 {
					t.Errorf("%v: Exp(%g) = %g, want about %g", k, x, got[i], w)
				}
				continue
			}
			e := ulpErr(got[i], w)
			if e > maxUlp {
				maxUlp, worst = e, x
			}
			if w >= 0x1p-126 {
				maxUlpNormal = max(maxUlpNormal, e)
			}
			if e > 2 {
				t.Errorf("%v: Exp(%g) = %g, want %g (%.2f ulp)", k, x, got[i], w, e)
			}
			maxDiff = max(maxDiff, ulpDist(got[i], ref[i]))
		}
		if maxDiff > 1 {
			t.Errorf("%v: differs from generic by %d ulp", k, maxDiff)
		}
		t.Logf("%v: Exp max error %.3f ulp over %d inputs in [-104, 88.72] (%.3f ulp where the result is normal; worst at x=%g); max %d ulp from generic",
			k, maxUlp, len(xs), maxUlpNormal, worst, maxDiff)
	}
}

// exp64of is e^x rounded to float32 for the float32 nearest x.
func exp64of(x float64) float32 { return float32(math.Exp(float64(float32(x)))) }

// TestExpExhaustive checks every float32 in [-104, 88.75] against math.Exp
// (about 2.2e9 values per path; set OCM_EXHAUSTIVE=1 to run it, about a
// minute per path on 2 cores; use -timeout 20m).
func TestExpExhaustive(t *testing.T) {
	if os.Getenv("OCM_EXHAUSTIVE") == "" {
		t.Skip("set OCM_EXHAUSTIVE=1 to run")
	}
	for _, k := range vecPaths(t) {
		v := vecKernelsFor(k)
		var ranges [][2]uint32 // bit patterns, inclusive
		ranges = append(ranges, [2]uint32{0, math.Float32bits(88.75)})
		ranges = append(ranges, [2]uint32{1 << 31, math.Float32bits(-104)})
		for _, rg := range ranges {
			const chunk = 1 << 20
			n := int(rg[1]-rg[0]) + 1
			worst := make([]float64, (n+chunk-1)/chunk)
			ParallelFor(len(worst), 1, func(lo, hi int) {
				src := make([]float32, chunk)
				dst := make([]float32, chunk)
				for c := lo; c < hi; c++ {
					b0 := rg[0] + uint32(c*chunk)
					m := min(chunk, int(rg[1]-b0)+1)
					for i := range m {
						src[i] = math.Float32frombits(b0 + uint32(i))
					}
					v.exp(dst[:m], src[:m])
					for i, x := range src[:m] {
						w := math.Exp(float64(x))
						if w > math.MaxFloat32 {
							if !math.IsInf(float64(dst[i]), 1) && ulpErr(dst[i], math.MaxFloat32) > 1 {
								worst[c] = math.Inf(1)
							}
							continue
						}
						worst[c] = max(worst[c], ulpErr(dst[i], w))
					}
				}
			})
			var m float64
			for _, w := range worst {
				m = max(m, w)
			}
			if m > 2 {
				t.Errorf("%v: max error %.3f ulp", k, m)
			}
			t.Logf("%v: bits %#x..%#x: max error %.4f ulp over %d values", k, rg[0], rg[1], m, n)
		}
	}
}

func TestExpSpecial(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	cases := []struct{ x, want float32 }{
		{0, 1}, {float32(math.Copysign(0, -1)), 1},
		{inf, inf}, {-inf, 0}, {nan, nan},
		{88.8, inf}, {89, inf}, {100, inf}, {math.MaxFloat32, inf},
		{-104, 0}, {-105, 0}, {-200, 0}, {-math.MaxFloat32, 0},
		{1e-30, 1}, {-1e-30, 1},
		{88.72, exp64of(88.72)},
		{-87.33, exp64of(-87.33)}, // just above the smallest normal
		{-100, exp64of(-100)},     // subnormal, correctly rounded here
		{-103.9, exp64of(-103.9)}, // smallest subnormal
	}
	for _, k := range vecPaths(t) {
		for _, c := range cases {
			// Fill a whole vector plus a tail so that both code paths see it.
			src := make([]float32, 37)
			for i := range src {
				src[i] = c.x
			}
			dst := make([]float32, len(src))
			vecKernelsFor(k).exp(dst, src)
			for i, got := range dst {
				if ulpDist(got, c.want) > 1 || (got != got) != (c.want != c.want) {
					t.Errorf("%v: Exp(%g) [%d] = %g, want %g", k, c.x, i, got, c.want)
					break
				}
			}
		}
	}
}

// sigmoid64 is the float64 reference 1/(1+e^−x).
func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// vecAbsFloor is the absolute error allowed on top of the relative 1e-6:
// results below float32's normal range (1.18e-38) are accurate only to a
// few subnormal steps, which a subsequent multiply (SiLU's x·s) scales up.
const vecAbsFloor = 1e-36

func sigmoidInputs() []float32 {
	xs := expInputs(-100, 100, 1<<18, 1<<16, 2)
	xs = append(xs, expInputs(-3, 3, 1<<16, 0, 0)...)
	for _, v := range []float32{0, 1e-30, 1e-10, 1e-5, 0.5, 1, 1.2784645, 5, 10, 15, 16.6, 17, 20, 30,
		50, 87, 87.4, 88, 88.8, 89, 90, 103, 104, 105, 120, 200, 1000, 1e10, 1e30, math.MaxFloat32} {
		xs = append(xs, v, -v)
	}
	return xs
}

// vecCheckOp runs op on every path over xs, checks it against want with
// tolerance 1e-6·scale + floor·vecAbsFloor and against generic within 1 ulp,
// and reports the largest relative error.
func vecCheckOp(t *testing.T, name string, xs []float32,
	run func(v *vecKernels, dst []float32),
	want func(i int) (w, scale, floor float64)) {
	t.Helper()
	ref := make([]float32, len(xs))
	run(vecGeneric, ref)
	for _, k := range vecPaths(t) {
		got := make([]float32, len(xs))
		run(vecKernelsFor(k), got)
		var maxRel float64
		var maxDiff int64
		bad := 0
		for i, x := range xs {
			w, scale, floor := want(i)
			g := float64(got[i])
			if math.IsNaN(g) || math.IsInf(g, 0) {
				if bad++; bad < 10 {
					t.Errorf("%v: %s(%g) = %g, want %g", k, name, x, g, w)
				}
				continue
			}
			err := math.Abs(g - w)
			if err > 1e-6*scale+floor*vecAbsFloor {
				if bad++; bad < 10 {
					t.Errorf("%v: %s(%g) = %g, want %g (error %.3g, scale %.3g)", k, name, x, g, w, err, scale)
				}
			}
			if floor*vecAbsFloor < 1e-9*scale { // where the relative bound rules
				maxRel = max(maxRel, err/scale)
			}
			maxDiff = max(maxDiff, ulpDist(got[i], ref[i]))
		}
		if maxDiff > 1 {
			t.Errorf("%v: %s differs from generic by %d ulp", k, name, maxDiff)
		}
		t.Logf("%v: %s max relative error %.3g (%.2f·2^-24) over %d inputs; max %d ulp from generic",
			k, name, maxRel, maxRel*(1<<24), len(xs), maxDiff)
	}
}

func TestSigmoidAccuracy(t *testing.T) {
	xs := sigmoidInputs()
	vecCheckOp(t, "Sigmoid", xs,
		func(v *vecKernels, dst []float32) { v.sigmoid(dst, xs) },
		func(i int) (float64, float64, float64) {
			w := sigmoid64(float64(xs[i]))
			return w, w, 1
		})
}

func TestSiLUAccuracy(t *testing.T) {
	xs := sigmoidInputs()
	vecCheckOp(t, "SiLU", xs,
		func(v *vecKernels, dst []float32) { v.silu(dst, xs) },
		func(i int) (float64, float64, float64) {
			x := float64(xs[i])
			w := x * sigmoid64(x)
			return w, math.Abs(w), 1
		})
	// x·sigmoid(x) for very negative x is a tiny negative number or −0,
	// never NaN.
	for _, k := range vecPaths(t) {
		for _, x := range []float32{-100, -104, -1e10, -math.MaxFloat32} {
			dst := []float32{0}
			vecKernelsFor(k).silu(dst, []float32{x})
			if d := dst[0]; d != d || d > 0 || d < -1e-40 {
				t.Errorf("%v: SiLU(%g) = %g, want −0 or tiny", k, x, d)
			}
		}
	}
}

func TestSiLUGradAccuracy(t *testing.T) {
	xs := sigmoidInputs()
	r := rand.New(rand.NewSource(3))
	gs := make([]float32, len(xs))
	for i := range gs {
		gs[i] = float32(r.NormFloat64())
	}
	gs[0], gs[1] = 1e30, -1e-30
	vecCheckOp(t, "SiLUGrad", xs,
		func(v *vecKernels, dst []float32) { v.siluGrad(dst, xs, gs) },
		func(i int) (float64, float64, float64) {
			x, g := float64(xs[i]), float64(gs[i])
			s := sigmoid64(x)
			u := sigmoid64(-x) // 1−s without cancellation
			w := g * s * (1 + x*u)
			// The sum 1 + x(1−s) cancels near x ≈ −1.278; the error
			// there is relative to the size of its terms. Where s is
			// subnormal its absolute error is scaled by g·(1+|x|).
			return w, math.Abs(g * s * (1 + math.Abs(x*u))), max(1, math.Abs(g)*(1+math.Abs(x)))
		})
}

func TestAddBiasSiLU(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, k := range vecPaths(t) {
		v := vecKernelsFor(k)
		for _, n := range []int{1, 7, 16, 17, 100, 256} {
			rows := 5
			src := make([]float32, rows*n)
			bias := make([]float32, n)
			for i := range src {
				src[i] = float32(r.NormFloat64() * 4)
			}
			for i := range bias {
				bias[i] = float32(r.NormFloat64())
			}
			dst := make([]float32, len(src))
			for lo := 0; lo < len(src); lo += n {
				v.addBiasSiLU(dst[lo:lo+n], src[lo:lo+n], bias)
			}
			for i, x := range src {
				z := x + bias[i%n]
				w := float64(z) * sigmoid64(float64(z))
				if err := math.Abs(float64(dst[i]) - w); err > 1e-6*math.Abs(w)+vecAbsFloor {
					t.Errorf("%v: n=%d: AddBiasSiLU [%d] = %g, want %g", k, n, i, dst[i], w)
					break
				}
			}
		}
	}
	// Public entry point, in place.
	src := []float32{1, 2, 3, -1, -2, -3}
	want := make([]float32, len(src))
	for i, x := range src {
		z := x + []float32{0.5, -0.5, 1}[i%3]
		want[i] = z * float32(sigmoid64(float64(z)))
	}
	AddBiasSiLU(src, src, []float32{0.5, -0.5, 1})
	for i := range src {
		if ulpDist(src[i], want[i]) > 2 {
			t.Errorf("AddBiasSiLU in place [%d] = %g, want %g", i, src[i], want[i])
		}
	}
	AddBiasSiLU(nil, nil, nil)
}

// TestVecLengths runs every op on every path at awkward lengths, on slices
// that start one element into their arrays, with NaN guard cells around dst
// that must stay untouched, and in place; results must match generic.
func TestVecLengths(t *testing.T) {
	nan := math.Float32frombits(0x7fc01234)
	r := rand.New(rand.NewSource(5))
	type op struct {
		name string
		run  func(v *vecKernels, dst, x, g []float32)
	}
	ops := []op{
		{"Exp", func(v *vecKernels, dst, x, g []float32) { v.exp(dst, x) }},
		{"Sigmoid", func(v *vecKernels, dst, x, g []float32) { v.sigmoid(dst, x) }},
		{"SiLU", func(v *vecKernels, dst, x, g []float32) { v.silu(dst, x) }},
		{"SiLUGrad", func(v *vecKernels, dst, x, g []float32) { v.siluGrad(dst, x, g) }},
		{"AddBiasSiLU", func(v *vecKernels, dst, x, g []float32) { v.addBiasSiLU(dst, x, g) }},
	}
	const guard = 20
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 1000} {
		xb := make([]float32, n+1+guard)
		gb := make([]float32, n+1+guard)
		for i := range xb {
			xb[i] = float32(r.NormFloat64() * 10)
			gb[i] = float32(r.NormFloat64())
		}
		x, g := xb[1:1+n], gb[1:1+n]
		for _, o := range ops {
			want := make([]float32, n)
			o.run(vecGeneric, want, x, g)
			for _, k := range vecPaths(t) {
				v := vecKernelsFor(k)
				db := make([]float32, n+1+guard)
				for i := range db {
					db[i] = nan
				}
				dst := db[1 : 1+n]
				o.run(v, dst, x, g)
				check := func(how string, got []float32, whole []float32) {
					for i := range want {
						if ulpDist(got[i], want[i]) > 1 {
							t.Errorf("%v: %s n=%d %s: [%d] = %g, generic %g", k, o.name, n, how, i, got[i], want[i])
							return
						}
					}
					if whole != nil {
						for i, c := range whole {
							if (i == 0 || i > n) && math.Float32bits(c) != math.Float32bits(nan) {
								t.Errorf("%v: %s n=%d: guard cell %d overwritten with %g", k, o.name, n, i, c)
								return
							}
						}
					}
				}
				check("", dst, db)
				// In place: dst aliases x.
				xc := append([]float32(nil), xb...)
				o.run(v, xc[1:1+n], xc[1:1+n], g)
				check("dst=x", xc[1:1+n], nil)
				if o.name == "SiLUGrad" {
					gc := append([]float32(nil), gb...)
					o.run(v, gc[1:1+n], x, gc[1:1+n])
					check("dst=g", gc[1:1+n], nil)
				}
			}
		}
	}
}

func TestVecPublic(t *testing.T) {
	xs := expInputs(-30, 30, 1001, 0, 0)
	gs := expInputs(-2, 2, 1001, 0, 0)
	for _, c := range []struct {
		name      string
		pub, impl func(dst []float32)
	}{
		{"Exp", func(d []float32) { Exp(d, xs) }, func(d []float32) { vecBest.exp(d, xs) }},
		{"Sigmoid", func(d []float32) { Sigmoid(d, xs) }, func(d []float32) { vecBest.sigmoid(d, xs) }},
		{"SiLU", func(d []float32) { SiLU(d, xs) }, func(d []float32) { vecBest.silu(d, xs) }},
		{"SiLUGrad", func(d []float32) { SiLUGrad(d, xs, gs) }, func(d []float32) { vecBest.siluGrad(d, xs, gs) }},
	} {
		a, b := make([]float32, len(xs)), make([]float32, len(xs))
		c.pub(a)
		c.impl(b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s [%d] = %g, best kernel gives %g", c.name, i, a[i], b[i])
			}
		}
	}
	best := "generic"
	for _, k := range []Kernel{KernelAVX2, KernelAVX512} {
		if vecKernelsFor(k) == vecBest {
			best = k.String()
		}
	}
	t.Logf("public functions use the %s kernels", best)
}

func TestVecPanics(t *testing.T) {
	a, b := make([]float32, 3), make([]float32, 4)
	for _, c := range []struct {
		op string
		f  func()
	}{
		{"Exp", func() { Exp(a, b) }},
		{"Sigmoid", func() { Sigmoid(b, a) }},
		{"SiLU", func() { SiLU(a, b) }},
		{"SiLUGrad", func() { SiLUGrad(a, a, b) }},
		{"SiLUGrad", func() { SiLUGrad(a, b, a) }},
		{"AddBiasSiLU", func() { AddBiasSiLU(b, b, a) }},
		{"AddBiasSiLU", func() { AddBiasSiLU(a, b, b) }},
		{"AddBiasSiLU", func() { AddBiasSiLU(a, a, nil) }},
	} {
		func() {
			defer func() {
				msg := fmt.Sprint(recover())
				if want := "cpu: " + c.op + ": lengths differ"; !strings.Contains(msg, want) {
					t.Errorf("%s: panic %q, want %q", c.op, msg, want)
				}
			}()
			c.f()
		}()
	}
}
