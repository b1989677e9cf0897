package runtime

import (
	"fmt"
	"math"
	"strings"
	"time"

	"ocm/runtime/philox"
)

// The self-test's sizes and bounds. Every reference is computed on the host in float64
// (or with package philox's own formulas), so the test needs no second device and also
// checks the CPU.
const (
	stGemmN = 256 // SGEMM stGemmN×stGemmN×stGemmN
	// stGemmBound bounds |C − C₆₄| / Σₖ|aᵢₖ·bₖⱼ| elementwise: k·2⁻²⁴, the classic
	// worst case of a float32 dot product of length k (blocked FMA kernels stay far below).
	stGemmBound = float64(stGemmN) / (1 << 24)
	// The layer check SiLU(A·Bᵀ + bias) has odd sizes (edge tiles, a broadcast add);
	// its bound on |y − y₆₄| / (1 + |y₆₄|) is loose enough for any float32 order of sums.
	stLayerM, stLayerK, stLayerN = 33, 65, 17
	stLayerBound                 = 1e-4
	stSiLUN                      = 4096
	stSiLUBound                  = 1e-5    // relative, on [−8, 8): the CPU is within 1e-6, a GPU's ex2.approx a few 1e-7
	stUniformN, stUniformOff     = 1003, 5 // odd length and offset: partial Philox blocks at both ends
	stNormalN                    = 1 << 16
	stNormalOff                  = 3    // an offset inside a Philox block, to exercise the stream layout
	stNormalTol                  = 1e-6 // max |device − philox.Key.Normal| / (1 + |z|): the same formula
)

// SelfTestOptions selects what SelfTest measures besides correctness.
type SelfTestOptions struct {
	// Speed times the GEMM check's product for the report's GFLOP/s (about 60 ms more).
	Speed bool
}

// SelfTestCheck is the outcome of one check of SelfTest.
type SelfTestCheck struct {
	Name    string        // "uniform", "gemm", "layer", "silu" or "normal"
	What    string        // what was computed, against which reference
	Measure string        // what MaxErr is: "max rel err", "max err", "max diff"
	MaxErr  float64       // the largest error seen (+Inf for a NaN)
	Bound   float64       // the check passes when MaxErr ≤ Bound (and Err is nil)
	Note    string        // further results ("mean +0.0012, variance 0.9987"), or ""
	GFLOPS  float64       // the GEMM speed when SelfTestOptions.Speed, else 0
	Elapsed time.Duration // wall time of the check, speed measurement included
	Err     error         // why the check failed (a panic of the device included); nil when it passed
}

// String is "gemm (SGEMM 256×256×256 vs float64): max rel err 1.2e-07 (bound 1.5e-05),
// 85.3 GFLOP/s"; a check that failed before measuring is "gemm (…): not measured".
func (c SelfTestCheck) String() string {
	s := c.Name + " (" + c.What + "): "
	if math.IsNaN(c.MaxErr) {
		return s + "not measured"
	}
	s += fmt.Sprintf("%s %s (bound %s)", c.Measure, short(c.MaxErr), short(c.Bound))
	if c.Note != "" {
		s += ", " + c.Note
	}
	if c.GFLOPS > 0 {
		s += fmt.Sprintf(", %.1f GFLOP/s", c.GFLOPS)
	}
	return s
}

// short formats an error or a bound with two significant digits, in exponent form
// below 10⁻³ ("1.5e-05", "1.0e-04", "0.74", "0").
func short(v float64) string {
	if v != 0 && math.Abs(v) < 1e-3 {
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.2g", v)
}

// SelfTestReport is what SelfTest did: the checks run, in order, up to and including
// the first that failed.
type SelfTestReport struct {
	Device string // the device's Name
	Checks []SelfTestCheck
}

// Failed returns the check that failed, or nil when all passed.
func (r SelfTestReport) Failed() *SelfTestCheck {
	for i := range r.Checks {
		if r.Checks[i].Err != nil {
			return &r.Checks[i]
		}
	}
	return nil
}

// String lists the checks separated by "; " and ends in "ok" or "FAILED: " and the
// reason, for one line of a report.
func (r SelfTestReport) String() string {
	parts := make([]string, 0, len(r.Checks)+1)
	for _, c := range r.Checks {
		parts = append(parts, c.String())
	}
	if f := r.Failed(); f != nil {
		parts = append(parts, "FAILED: "+f.Name+": "+f.Err.Error())
	} else {
		parts = append(parts, "ok")
	}
	return strings.Join(parts, "; ")
}

// selfTestChecks are SelfTest's checks in the order they run. Uniform comes first
// because the others draw their inputs with it.
var selfTestChecks = []struct {
	name string
	run  func(c *SelfTestCheck, dev Device, key philox.Key, o SelfTestOptions) error
}{
	{"uniform", checkUniform},
	{"gemm", checkGemm},
	{"layer", checkLayer},
	{"silu", checkSiLU},
	{"normal", checkNormal},
}

// SelfTest checks that dev computes what the models need: Philox uniform and normal
// draws against package philox, a 256³ SGEMM, a small layer SiLU(A·Bᵀ + bias) (odd
// sizes, a broadcast add) and SiLU against float64 references, each within a stated
// bound; NaN always fails. It stops at the first failing check. A panic inside dev (a
// failed CUDA call panics) becomes that check's error, so a broken device gives an
// error, not a crash. The error, when not nil, names the check ("self-test gemm: …").
// Without Speed it costs about 0.1 s of one core (measured 86–122 ms on a loaded
// 2-core machine), nearly all of it the float64 reference GEMM.
func SelfTest(dev Device, o SelfTestOptions) (SelfTestReport, error) {
	r := SelfTestReport{Device: safeName(dev)}
	key := philox.Key{Seed: 2025, Stream: 11}
	for i, st := range selfTestChecks {
		c := SelfTestCheck{Name: st.name, MaxErr: math.NaN()}
		start := time.Now()
		c.Err = recovered(func() error { return st.run(&c, dev, key.Split(uint64(i+1)), o) })
		c.Elapsed = time.Since(start)
		r.Checks = append(r.Checks, c)
		if c.Err != nil {
			return r, fmt.Errorf("self-test %s: %w", c.Name, c.Err)
		}
	}
	return r, nil
}

// recovered runs f and turns a panic into an error.
func recovered(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return f()
}

// safeName is dev.Name(), or a note when even that panics.
func safeName(dev Device) (name string) {
	if err := recovered(func() error { name = dev.Name(); return nil }); err != nil {
		return "device (Name: " + err.Error() + ")"
	}
	return name
}

// worse returns the larger of e and the error so far, a NaN error counting as +Inf.
func worse(sofar, e float64) float64 {
	if math.IsNaN(e) {
		return math.Inf(1)
	}
	return max(sofar, e)
}

// bounded sets the check's MaxErr and returns an error when it exceeds the bound.
func (c *SelfTestCheck) bounded(maxErr float64) error {
	c.MaxErr = maxErr
	if !(maxErr <= c.Bound) {
		return fmt.Errorf("%s %s above its bound %s", c.Measure, short(maxErr), short(c.Bound))
	}
	return nil
}

// checkUniform compares Philox uniform draws with package philox's: the same bits.
func checkUniform(c *SelfTestCheck, dev Device, key philox.Key, _ SelfTestOptions) error {
	c.What = fmt.Sprintf("%d Philox uniform draws at offset %d vs package philox", stUniformN, stUniformOff)
	c.Measure, c.Bound = "max diff", 0
	got := Random(dev, Uniform, key, stUniformOff, stUniformN).Data()
	want := make([]float32, stUniformN)
	key.Uniform(want, stUniformOff)
	e := 0.0
	for i, v := range got {
		e = worse(e, math.Abs(float64(v)-float64(want[i])))
	}
	return c.bounded(e)
}

// checkGemm compares an SGEMM of [−1, 1) matrices with a float64 product, relative to
// Σₖ|aᵢₖ·bₖⱼ| elementwise, and with Speed measures its GFLOP/s.
func checkGemm(c *SelfTestCheck, dev Device, key philox.Key, o SelfTestOptions) error {
	const n = stGemmN
	c.What = fmt.Sprintf("SGEMM %d×%d×%d vs float64", n, n, n)
	c.Measure, c.Bound = "max rel err", stGemmBound
	a := Affine(Random(dev, Uniform, key.Split(1), 0, n, n), 2, -1)
	b := Affine(Random(dev, Uniform, key.Split(2), 0, n, n), 2, -1)
	got, ah, bh := MatMul(a, b, false, false).Data(), a.Data(), b.Data()
	e := 0.0
	ref, mag := make([]float64, n), make([]float64, n)
	for i := range n {
		clear(ref)
		clear(mag)
		for p := range n {
			av := float64(ah[i*n+p])
			for j, bv := range bh[p*n : (p+1)*n] {
				ref[j] += av * float64(bv)
				mag[j] += math.Abs(av * float64(bv))
			}
		}
		for j := range n {
			e = worse(e, math.Abs(float64(got[i*n+j])-ref[j])/math.Max(mag[j], 1e-30))
		}
	}
	if err := c.bounded(e); err != nil || !o.Speed {
		return err
	}
	c.GFLOPS = gemmSpeed(dev, a, b)
	return nil
}

// gemmSpeed times back-to-back products for about 20 ms (at most 512, so that a GPU's
// unreclaimed outputs stay under 128 MiB), then waits once for a queueing device; it
// returns the best of three rounds in GFLOP/s.
func gemmSpeed(dev Device, a, b *Tensor) float64 {
	wait := func(t *Tensor) {
		if s, ok := dev.(interface{ Sync() }); ok {
			s.Sync()
		} else {
			_ = t.Data()
		}
	}
	m, k, n := a.Dim(0), a.Dim(1), b.Dim(1)
	flop, best := 2*float64(m)*float64(k)*float64(n), 0.0
	for range 3 {
		reps, start := 0, time.Now()
		var t *Tensor
		for reps < 512 && (reps < 2 || time.Since(start) < 20*time.Millisecond) {
			t = MatMul(a, b, false, false)
			reps++
		}
		wait(t)
		best = max(best, flop*float64(reps)/time.Since(start).Seconds()/1e9)
	}
	return best
}

// checkLayer compares SiLU(A·Bᵀ + bias), with bias broadcast over the rows, with its
// float64 value: |y − y₆₄| / (1 + |y₆₄|).
func checkLayer(c *SelfTestCheck, dev Device, key philox.Key, _ SelfTestOptions) error {
	const m, k, n = stLayerM, stLayerK, stLayerN
	c.What = fmt.Sprintf("SiLU(A·Bᵀ + bias), %d×%d·(%d×%d)ᵀ, bias broadcast over rows, vs float64", m, k, n, k)
	c.Measure, c.Bound = "max err", stLayerBound
	a := Random(dev, Uniform, key.Split(1), 0, m, k)
	b := Affine(Random(dev, Uniform, key.Split(2), 0, n, k), 2, -1)
	bias := Affine(Random(dev, Uniform, key.Split(3), 0, n), 4, -2)
	got := SiLU(Add(MatMul(a, b, false, true), bias)).Data()
	ah, bh, biash := a.Data(), b.Data(), bias.Data()
	e := 0.0
	for i := range m {
		for j := range n {
			s := float64(biash[j])
			for p := range k {
				s += float64(ah[i*k+p]) * float64(bh[j*k+p])
			}
			ref := s / (1 + math.Exp(-s))
			e = worse(e, math.Abs(float64(got[i*n+j])-ref)/(1+math.Abs(ref)))
		}
	}
	return c.bounded(e)
}

// checkSiLU compares SiLU on [−8, 8) with float64, relative to |SiLU(x)|.
func checkSiLU(c *SelfTestCheck, dev Device, key philox.Key, _ SelfTestOptions) error {
	c.What = fmt.Sprintf("%d values on [−8, 8) vs float64", stSiLUN)
	c.Measure, c.Bound = "max rel err", stSiLUBound
	x := Affine(Random(dev, Uniform, key, 0, stSiLUN), 16, -8)
	xs, ys := x.Data(), SiLU(x).Data()
	e := 0.0
	for i, xv := range xs {
		v := float64(xv)
		ref := v / (1 + math.Exp(-v))
		e = worse(e, math.Abs(float64(ys[i])-ref)/(math.Abs(ref)+1e-30))
	}
	return c.bounded(e)
}

// checkNormal compares Philox normal draws with package philox's formula, relative to
// 1 + |z|, and checks their mean and variance against N(0, 1) within five standard
// errors (the key is fixed, so this cannot flicker).
func checkNormal(c *SelfTestCheck, dev Device, key philox.Key, _ SelfTestOptions) error {
	c.What = fmt.Sprintf("%d Philox normal draws at offset %d vs package philox", stNormalN, stNormalOff)
	c.Measure, c.Bound = "max diff", stNormalTol
	z := Random(dev, Normal, key, stNormalOff, stNormalN).Data()
	want := make([]float32, stNormalN)
	key.Normal(want, stNormalOff)
	var sum, sq, e float64
	for i, v := range z {
		e = worse(e, math.Abs(float64(v)-float64(want[i]))/(1+math.Abs(float64(want[i]))))
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(stNormalN)
	mean := sum / n
	variance := sq/n - mean*mean
	c.Note = fmt.Sprintf("mean %+.4f, variance %.4f", mean, variance)
	if err := c.bounded(e); err != nil {
		return err
	}
	if !(math.Abs(mean) <= 5/math.Sqrt(n)) || !(math.Abs(variance-1) <= 5*math.Sqrt(2/n)) {
		return fmt.Errorf("mean %.3g and variance %.4g are not N(0, 1)'s", mean, variance)
	}
	return nil
}
