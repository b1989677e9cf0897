package runtime

import (
	"math"
	"strings"
	"testing"

	"ocm/runtime/cpu"
	"ocm/runtime/philox"
)

// TestSelfTestCPU runs the self-test on the CPU device, with the best and the portable
// GEMM kernel: every check passes within its bound and the report says so.
func TestSelfTestCPU(t *testing.T) {
	for _, dev := range []*CPU{testDev, NewCPU(CPUOptions{Kernel: cpu.KernelGeneric, Force: true, Threads: 1})} {
		r, err := SelfTest(dev, SelfTestOptions{Speed: dev == testDev})
		if err != nil {
			t.Fatalf("%s: %v\n%s", dev.Name(), err, r)
		}
		t.Logf("%s: %s", r.Device, r)
		var names []string
		for _, c := range r.Checks {
			t.Logf("%s: %v", c.Name, c.Elapsed)
			names = append(names, c.Name)
			if c.Err != nil || !(c.MaxErr <= c.Bound) || c.What == "" || c.Measure == "" {
				t.Errorf("%s: check %+v", dev.Name(), c)
			}
		}
		if got := strings.Join(names, " "); got != "uniform gemm layer silu normal" {
			t.Errorf("%s: checks %q", dev.Name(), got)
		}
		if r.Device != dev.Name() || r.Failed() != nil || !strings.HasSuffix(r.String(), "; ok") {
			t.Errorf("%s: report %q (device %q)", dev.Name(), r, r.Device)
		}
		gemm := r.Checks[1]
		if speed := dev == testDev; (gemm.GFLOPS > 0) != speed || strings.Contains(r.String(), "GFLOP/s") != speed {
			t.Errorf("%s: Speed %v but GFLOP/s %g in %q", dev.Name(), speed, gemm.GFLOPS, r)
		}
		if !strings.Contains(r.String(), "normal (") || !strings.Contains(r.Checks[4].Note, "variance") {
			t.Errorf("%s: no normal statistics in %q", dev.Name(), r)
		}
	}
}

// The fake devices below are the CPU device with one op broken, as a GPU kernel or a
// CUDA library might be.

// offSiLU computes SiLU 2e-5 too large: inside the layer check's bound (1e-4), outside
// the SiLU check's (1e-5).
type offSiLU struct{ *CPU }

func (d offSiLU) Unary(op UnaryOp, dst, src Buffer, p0, p1 float32) {
	d.CPU.Unary(op, dst, src, p0, p1)
	if op == OpSiLU {
		for i := range data(dst) {
			data(dst)[i] *= 1 + 2e-5
		}
	}
}

// rowBias adds y's first value everywhere when y is broadcast (a stride bug).
type rowBias struct{ *CPU }

func (d rowBias) Binary(op BinaryOp, dst, x, y Buffer, l *Broadcast) {
	if op == OpAdd && y.Len() < dst.Len() {
		one := &Broadcast{Shape: l.Shape, XStrides: l.XStrides, YStrides: make([]int, len(l.Shape))}
		d.CPU.Binary(op, dst, x, y, one)
		return
	}
	d.CPU.Binary(op, dst, x, y, l)
}

// panicGemm panics in every GEMM like a failed CUDA call.
type panicGemm struct{ *CPU }

func (panicGemm) Gemm(c, a, b Buffer, g *GemmArgs) {
	panic("cuda: cublasSgemmStridedBatched failed: CUBLAS_STATUS_EXECUTION_FAILED (13)")
}

// nanGemm writes one NaN into each product.
type nanGemm struct{ *CPU }

func (d nanGemm) Gemm(c, a, b Buffer, g *GemmArgs) {
	d.CPU.Gemm(c, a, b, g)
	data(c)[g.M*g.N/2] = float32(math.NaN())
}

// shiftedRandom draws every stream one element late (an offset bug); shift selects
// the distribution it breaks.
type shiftedRandom struct {
	*CPU
	dist Distribution
}

func (d shiftedRandom) Random(dst Buffer, dist Distribution, key philox.Key, offset uint64) {
	if dist == d.dist {
		offset++
	}
	d.CPU.Random(dst, dist, key, offset)
}

// TestSelfTestBrokenDevices runs the self-test on devices with one op wrong: each fails
// at the check that covers the op, with the error naming it, without a panic escaping,
// and with the checks before it passed.
func TestSelfTestBrokenDevices(t *testing.T) {
	cases := []struct {
		name  string
		dev   Device
		check string // the check that must fail
		want  string // in the error
	}{
		{"SiLU off by 2e-5", offSiLU{testDev}, "silu", "max rel err"},
		{"broadcast add reads one bias", rowBias{testDev}, "layer", "max err"},
		{"GEMM panics", panicGemm{testDev}, "gemm", "CUBLAS_STATUS_EXECUTION_FAILED"},
		{"GEMM writes a NaN", nanGemm{testDev}, "gemm", "max rel err +Inf"},
		{"uniform one element late", shiftedRandom{testDev, Uniform}, "uniform", "max diff"},
		{"normal one element late", shiftedRandom{testDev, Normal}, "normal", "max diff"},
	}
	for _, c := range cases {
		r, err := SelfTest(c.dev, SelfTestOptions{})
		if err == nil {
			t.Errorf("%s: passed: %s", c.name, r)
			continue
		}
		if !strings.HasPrefix(err.Error(), "self-test "+c.check+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want it to name %s and say %q", c.name, err, c.check, c.want)
		}
		f := r.Failed()
		if f == nil || f.Name != c.check || &r.Checks[len(r.Checks)-1] != f {
			t.Errorf("%s: failed check %+v, want %s as the last one run", c.name, f, c.check)
			continue
		}
		for _, p := range r.Checks[:len(r.Checks)-1] {
			if p.Err != nil {
				t.Errorf("%s: earlier check %s failed too: %v", c.name, p.Name, p.Err)
			}
		}
		if s := r.String(); !strings.HasSuffix(s, "FAILED: "+c.check+": "+f.Err.Error()) {
			t.Errorf("%s: report %q does not end with the failure", c.name, s)
		}
		t.Logf("%s: %v", c.name, err)
	}
}

// TestSelfTestReportNotMeasured checks the report of a check that panicked before it
// measured anything.
func TestSelfTestReportNotMeasured(t *testing.T) {
	r, _ := SelfTest(panicGemm{testDev}, SelfTestOptions{})
	if s := r.Checks[len(r.Checks)-1].String(); !strings.HasSuffix(s, ": not measured") {
		t.Errorf("panicked check: %q", s)
	}
}
