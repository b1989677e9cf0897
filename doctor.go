package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	xcpu "golang.org/x/sys/cpu"

	"ocm/assets"
	"ocm/cudart"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
	"ocm/runtime/philox"
)

// runDoctor is ocm --doctor: the machine as ocm sees it (build, CPU and the kernels it
// uses, GPU and CUDA libraries or why they did not load, embedded models), with a short
// self-test on each device. One item per line on stdout. It returns an error when the
// CPU fails its self-test, when a GPU that loads fails its own, or when an embedded
// model is corrupt; a missing GPU is not an error.
func runDoctor(o *options, stdout io.Writer) error {
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	var failed []string

	fmt.Fprintln(w, doctorBuildLine())

	threads := o.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	for _, line := range doctorCPULines(threads) {
		fmt.Fprintln(w, line)
	}
	cpuDev := rt.NewCPU(rt.CPUOptions{Threads: o.threads})
	res, err := deviceSelfTest(cpuDev)
	fmt.Fprintf(w, "cpu self-test: %s\n", res.report(err))
	if err != nil {
		failed = append(failed, "the CPU self-test")
	}
	w.Flush()

	if !doctorGPU(w, os.Getenv(cudaPathEnv), cpuDev) {
		failed = append(failed, "the GPU self-test")
	}
	w.Flush()

	if models, err := doctorModels(); err != nil {
		fmt.Fprintf(w, "embedded models: FAILED: %v\n", err)
		failed = append(failed, "an embedded model's check")
	} else {
		fmt.Fprintf(w, "embedded models: %s\n", models)
	}

	if len(failed) > 0 {
		return fmt.Errorf("doctor: %s failed (see above)", strings.Join(failed, " and "))
	}
	return nil
}

// doctorBuildLine is "ocm VERSION (go1.26.x linux/amd64, CGO off[, tags …][, commit …])".
func doctorBuildLine() string {
	parts := []string{runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		set := map[string]string{}
		for _, s := range bi.Settings {
			set[s.Key] = s.Value
		}
		switch set["CGO_ENABLED"] {
		case "0":
			parts = append(parts, "CGO off")
		case "1":
			parts = append(parts, "CGO on")
		}
		if t := set["-tags"]; t != "" {
			parts = append(parts, "tags "+t)
		}
		if rev := set["vcs.revision"]; rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if set["vcs.modified"] == "true" {
				rev += "+modified"
			}
			parts = append(parts, "commit "+rev)
		}
	}
	return fmt.Sprintf("ocm %s (%s)", version, strings.Join(parts, ", "))
}

// kernelInfo says which instructions each SGEMM kernel of runtime/cpu uses and its
// register tile (mr×nr). Keep in step with sgemm_amd64.go and sgemm.go of runtime/cpu.
var kernelInfo = map[cpu.Kernel]struct{ features, tile string }{
	cpu.KernelAVX512:  {"AVX-512F", "12×32"},
	cpu.KernelAVX2:    {"AVX2+FMA", "6×16"},
	cpu.KernelGeneric: {"", "4×4"},
}

// doctorCPULines describes the CPU: model and cores, the instructions ocm's kernels use
// (the best kernel runs the GEMMs, the vector exp/sigmoid/SiLU and, with AVX-512F,
// Adam) and which kernels this CPU and build could run.
func doctorCPULines(threads int) []string {
	best := cpu.BestKernel()
	plural := func(n int, what string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s", what)
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	lines := []string{fmt.Sprintf("cpu: %s, %s, ocm uses %s", cpuModelName(),
		plural(runtime.NumCPU(), "logical core"), plural(threads, "thread"))}
	info := kernelInfo[best]
	uses := fmt.Sprintf("the SGEMM %s kernel (%s tiles) and vector exp/sigmoid/SiLU", best, info.tile)
	if best == cpu.KernelAVX512 {
		uses = fmt.Sprintf("the SGEMM %s kernel (%s tiles), vector exp/sigmoid/SiLU and Adam", best, info.tile)
	}
	if info.features == "" {
		lines = append(lines, "cpu features used: none, portable Go for "+uses)
	} else {
		lines = append(lines, fmt.Sprintf("cpu features used: %s for %s", info.features, uses))
	}
	var avail []string
	for _, k := range []cpu.Kernel{cpu.KernelAVX512, cpu.KernelAVX2, cpu.KernelGeneric} {
		if k.Available() {
			avail = append(avail, k.String())
		}
	}
	line := "cpu kernels available: " + strings.Join(avail, ", ")
	if runtime.GOARCH == "amd64" && xcpu.X86.HasAVX2 && xcpu.X86.HasFMA && !cpu.KernelAVX2.Available() {
		line += " (this CPU has AVX2+FMA but this build has no assembly kernels: built with -tags purego?)"
	}
	return append(lines, line)
}

// cpuModelName is the "model name" of /proc/cpuinfo, or the architecture when unknown.
func cpuModelName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown " + runtime.GOARCH + " CPU"
}

// doctorGPU reports the CUDA libraries and device, or why they did not load, and
// self-tests the device against the CPU. It returns false only when a GPU loaded and
// then failed.
func doctorGPU(w io.Writer, cudaPath string, cpuDev rt.Device) bool {
	lib, err := cudart.Open(cudart.Options{Path: cudaPath})
	if err != nil {
		fmt.Fprintf(w, "gpu: not available: %s\n", strings.TrimPrefix(err.Error(), "cuda: "))
		return true
	}
	// Describe: "CUDA driver … (file), runtime … (file), cuBLAS … (file); N device(s);
	// device 0: name, sm_XY, N SMs, M GiB": one line per part.
	for _, part := range strings.Split(lib.Describe(), "; ") {
		fmt.Fprintf(w, "gpu: %s\n", part)
	}
	if files := loadedCUDAFiles(); len(files) > 0 {
		fmt.Fprintf(w, "gpu library files: %s\n", strings.Join(files, ", "))
	}
	var dev *cudart.Device
	err = safely(func() error {
		var err error
		dev, err = cudart.NewDevice(lib)
		return err
	})
	if err != nil {
		fmt.Fprintf(w, "gpu self-test: FAILED: cannot set up device 0: %s\n", strings.TrimPrefix(err.Error(), "cuda: "))
		return false
	}
	if free, total, err := memInfo(dev); err == nil {
		fmt.Fprintf(w, "gpu memory: %.1f GiB free of %.1f GiB\n", float64(free)/(1<<30), float64(total)/(1<<30))
	}
	for _, m := range dev.ModuleErrors() {
		fmt.Fprintf(w, "gpu kernels: %s (its ops run on the host: slow)\n", m)
	}
	report, err := gpuSelfTest(dev, cpuDev)
	if err != nil {
		fmt.Fprintf(w, "gpu self-test: FAILED: %s\n", report)
		return false
	}
	s := dev.Stats()
	fmt.Fprintf(w, "gpu self-test: %s (%d kernel launches, %d cuBLAS GEMMs, %d ops on the host fallback)\n",
		report, s.Launches, s.Gemms, s.Fallbacks)
	return true
}

// gpuSelfTest runs selfCheck (the GPU against the CPU, as --device auto does) and then
// the CPU's self-test on the GPU. It returns the line to print and whether it failed.
func gpuSelfTest(gpu, cpuDev rt.Device) (string, error) {
	if err := safely(func() error { return selfCheck(gpu, cpuDev) }); err != nil {
		return fmt.Sprintf("differs from the CPU: %v", err), err
	}
	res, err := deviceSelfTest(gpu)
	return "matches the CPU; " + res.report(err), err
}

func memInfo(dev *cudart.Device) (free, total int64, err error) {
	err = safely(func() error {
		free, total = dev.MemInfo()
		return nil
	})
	return
}

// loadedCUDAFiles lists the CUDA libraries mapped into this process (from
// /proc/self/maps, Linux only): the files the loader's sonames resolved to.
func loadedCUDAFiles() []string {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		p := f[len(f)-1]
		base := filepath.Base(p)
		for _, pre := range []string{"libcuda.so", "libcudart.so", "libcublas.so", "libcublasLt.so"} {
			if strings.HasPrefix(base, pre) && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// safely runs f and turns a panic (a failed CUDA call inside a device method panics)
// into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return f()
}

// The self-test's sizes and bounds.
const (
	stGemmN = 256 // SGEMM stGemmN×stGemmN×stGemmN
	// stGemmBound bounds |C − C₆₄| / Σₖ|aᵢₖ·bₖⱼ| elementwise: k·2⁻²⁴, the classic
	// worst case of a float32 dot product of length k (blocked FMA kernels stay far below).
	stGemmBound = float64(stGemmN) / (1 << 24)
	stSiLUN     = 4096
	stSiLUBound = 1e-5 // relative, on [−8, 8): the CPU is within 1e-6, the GPU's ex2.approx a few 1e-7
	stNormalN   = 1 << 16
	stNormalOff = 3    // an offset inside a Philox block, to exercise the stream layout
	stNormalTol = 1e-6 // max |device − philox.Key.Normal| / (1 + |z|): the same formula
)

// selfTestResult holds what deviceSelfTest measured.
type selfTestResult struct {
	gemmErr, gflops float64
	siluErr         float64
	mean, variance  float64
	normalDiff      float64 // max |device − philox.Key.Normal| / (1 + |z|)
	gemmDone        bool
	siluDone        bool
	normalDone      bool
}

// deviceSelfTest checks dev's SGEMM and SiLU against float64 references and its Philox
// normal draws against package philox's formula and N(0, 1) statistics. It keeps CPU
// use small: about 20 ms of GEMMs for the GFLOP/s figure and one float64 GEMM.
func deviceSelfTest(dev rt.Device) (res selfTestResult, err error) {
	err = safely(func() error {
		key := philox.Key{Seed: 2025, Stream: 11}
		if err := res.gemm(dev, key); err != nil {
			return err
		}
		if err := res.silu(dev, key.Split(3)); err != nil {
			return err
		}
		return res.normal(dev, key.Split(4))
	})
	return res, err
}

func (r *selfTestResult) gemm(dev rt.Device, key philox.Key) error {
	const n = stGemmN
	a := rt.Affine(rt.Random(dev, rt.Uniform, key.Split(1), 0, n, n), 2, -1) // [−1, 1)
	b := rt.Affine(rt.Random(dev, rt.Uniform, key.Split(2), 0, n, n), 2, -1)
	c := rt.MatMul(a, b, false, false).Data()
	ah, bh := a.Data(), b.Data()
	for i := range n {
		ref, mag := make([]float64, n), make([]float64, n)
		for p := range n {
			av := float64(ah[i*n+p])
			row := bh[p*n : (p+1)*n]
			for j, bv := range row {
				ref[j] += av * float64(bv)
				mag[j] += math.Abs(av * float64(bv))
			}
		}
		for j := range n {
			e := math.Abs(float64(c[i*n+j])-ref[j]) / math.Max(mag[j], 1e-30)
			if math.IsNaN(e) || math.IsNaN(float64(c[i*n+j])) {
				e = math.Inf(1)
			}
			r.gemmErr = max(r.gemmErr, e)
		}
	}
	r.gemmDone = true
	if !(r.gemmErr <= stGemmBound) {
		return fmt.Errorf("SGEMM max rel err %.2g above its bound %.2g", r.gemmErr, stGemmBound)
	}
	// Speed: back-to-back products for about 20 ms (at most 512, so that a GPU's
	// unreclaimed outputs stay under 128 MiB), then one wait for a queueing device;
	// the best of three rounds.
	wait := func(t *rt.Tensor) {
		if s, ok := dev.(interface{ Sync() }); ok {
			s.Sync()
		} else {
			_ = t.Data()
		}
	}
	flop := 2 * float64(n) * n * n
	for range 3 {
		reps, start := 0, time.Now()
		var t *rt.Tensor
		for reps < 512 && (reps < 2 || time.Since(start) < 20*time.Millisecond) {
			t = rt.MatMul(a, b, false, false)
			reps++
		}
		wait(t)
		r.gflops = max(r.gflops, flop*float64(reps)/time.Since(start).Seconds()/1e9)
	}
	return nil
}

func (r *selfTestResult) silu(dev rt.Device, key philox.Key) error {
	x := rt.Affine(rt.Random(dev, rt.Uniform, key, 0, stSiLUN), 16, -8) // [−8, 8)
	xs, ys := x.Data(), rt.SiLU(x).Data()
	for i, xv := range xs {
		v := float64(xv)
		ref := v / (1 + math.Exp(-v))
		e := math.Abs(float64(ys[i])-ref) / (math.Abs(ref) + 1e-30)
		if math.IsNaN(e) {
			e = math.Inf(1)
		}
		r.siluErr = max(r.siluErr, e)
	}
	r.siluDone = true
	if !(r.siluErr <= stSiLUBound) {
		return fmt.Errorf("SiLU max rel err %.2g above its bound %.2g", r.siluErr, stSiLUBound)
	}
	return nil
}

func (r *selfTestResult) normal(dev rt.Device, key philox.Key) error {
	z := rt.Random(dev, rt.Normal, key, stNormalOff, stNormalN).Data()
	want := make([]float32, stNormalN)
	key.Normal(want, stNormalOff)
	var sum, sq float64
	for i, v := range z {
		d := math.Abs(float64(v)-float64(want[i])) / (1 + math.Abs(float64(want[i])))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		r.normalDiff = max(r.normalDiff, d)
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(stNormalN)
	r.mean = sum / n
	r.variance = sq/n - r.mean*r.mean
	r.normalDone = true
	switch {
	case !(r.normalDiff <= stNormalTol):
		return fmt.Errorf("Philox normal draws differ from package philox's formula by %.2g", r.normalDiff)
	case !(math.Abs(r.mean) <= 5/math.Sqrt(n)) || !(math.Abs(r.variance-1) <= 5*math.Sqrt(2/n)):
		// Five standard errors; the key is fixed, so this cannot flicker.
		return fmt.Errorf("Philox normal draws have mean %.3g and variance %.4g, not N(0, 1)", r.mean, r.variance)
	}
	return nil
}

// report is the self-test line after "cpu self-test: ": what was measured, then ok or
// FAILED with the reason.
func (r selfTestResult) report(err error) string {
	var parts []string
	if r.gemmDone {
		p := fmt.Sprintf("SGEMM %d×%d×%d vs float64: max rel err %.2g (bound %.2g)", stGemmN, stGemmN, stGemmN, r.gemmErr, stGemmBound)
		if r.gflops > 0 {
			p += fmt.Sprintf(", %.1f GFLOP/s", r.gflops)
		}
		parts = append(parts, p)
	}
	if r.siluDone {
		parts = append(parts, fmt.Sprintf("SiLU max rel err %.2g (bound %.0e)", r.siluErr, stSiLUBound))
	}
	if r.normalDone {
		same := "same as package philox"
		if !(r.normalDiff <= stNormalTol) {
			same = fmt.Sprintf("differ from package philox by %.2g", r.normalDiff)
		}
		parts = append(parts, fmt.Sprintf("Philox normal: %d draws, mean %+.4f, variance %.4f, %s", stNormalN, r.mean, r.variance, same))
	}
	status := "ok"
	if err != nil {
		status = "FAILED: " + err.Error()
	}
	if len(parts) == 0 {
		return status
	}
	return strings.Join(parts, "; ") + "; " + status
}

// doctorModels lists the embedded models with the first 16 hex digits of their
// SHA-256, each decompressed and checked against it.
func doctorModels() (string, error) {
	models, err := assets.List()
	if err != nil {
		return "", err
	}
	if len(models) == 0 {
		return "", errors.New("none embedded")
	}
	var out []string
	for _, m := range models {
		data, _, err := assets.Load(m.Name)
		if err != nil {
			return "", err
		}
		out = append(out, fmt.Sprintf("%s (sha256 %s…, %d bytes, checksum ok)", m.Name, m.SHA256[:16], len(data)))
	}
	return strings.Join(out, ", "), nil
}
