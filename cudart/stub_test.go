package cudart

// ABI tests against stub CUDA libraries (testdata/stubcuda.c, built here with gcc):
// Open, NewDevice and every Device method go through the real purego paths (dlopen,
// symbol binding, parameter packing, SyscallN), with host memory standing in for
// device memory, recorded launches and a naive column-major SGEMM with cuBLAS's
// argument checks. One stub instance serves the whole test binary (every folder links
// the same file), so these tests run one at a time and reset it first.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ebitengine/purego"

	"ocm/runtime"
	"ocm/runtime/philox"
)

// TestMain removes the stub library's build folder after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if theStub.buildDir != "" {
		os.RemoveAll(theStub.buildDir)
	}
	os.Exit(code)
}

// needTool skips the test with one line when tool is not installed, except under CI
// (CI=true), where the check must run and a missing tool is a failure.
func needTool(t testing.TB, tool, what string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI must run %s", tool, what)
		}
		t.Skipf("%s not found: skipping %s", tool, what)
	}
	return p
}

// stubLib is the built stub and its steering functions.
type stubLib struct {
	file         string // the shared object
	reset        func()
	setVersions  func(drv, rt int32)
	setDevices   func(n int32)
	setMemLimit  func(n uintptr)
	fail         func(call string, code, after int32)
	ctxErrors    func() int32
	boundsErrors func() int32
	mathMode     func() int32
	gemms        func() int32
	launches     func() int32
	memUsed      func() uintptr
	launch       func(i int32, name *byte, n int32, dims *uint32, vals *uint64) int32
	streamFlags  func() int32
	buildOnce    sync.Once
	buildErr     error
	buildDir     string
	serialize    sync.Mutex
}

var theStub stubLib

// stub builds the stub library once (with gcc), resets it and returns it; the test
// holds it until it ends.
func stub(t *testing.T) *stubLib {
	t.Helper()
	gcc := needTool(t, "gcc", "the ABI tests against stub CUDA libraries")
	s := &theStub
	s.buildOnce.Do(func() { s.buildErr = s.build(gcc) })
	if s.buildErr != nil {
		t.Fatal(s.buildErr)
	}
	s.serialize.Lock()
	t.Cleanup(s.serialize.Unlock)
	s.reset()
	return s
}

func (s *stubLib) build(gcc string) error {
	dir, err := os.MkdirTemp("", "ocm-stubcuda")
	if err != nil {
		return err
	}
	s.buildDir = dir
	s.file = filepath.Join(dir, "libocmstub.so")
	out, err := exec.Command(gcc, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-Wno-unused-parameter",
		"-Wl,-soname,libocmstub.so", "-o", s.file, "testdata/stubcuda.c", "-lpthread").CombinedOutput()
	if err != nil {
		return fmt.Errorf("gcc testdata/stubcuda.c: %v\n%s", err, out)
	}
	h, err := purego.Dlopen(s.file, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return fmt.Errorf("dlopen %s: %v", s.file, err)
	}
	for name, f := range map[string]any{
		"stub_reset": &s.reset, "stub_set_versions": &s.setVersions, "stub_set_devices": &s.setDevices,
		"stub_set_mem_limit": &s.setMemLimit, "stub_fail": &s.fail, "stub_ctx_errors": &s.ctxErrors,
		"stub_bounds_errors": &s.boundsErrors, "stub_math_mode": &s.mathMode, "stub_gemms": &s.gemms,
		"stub_launches": &s.launches, "stub_mem_used": &s.memUsed, "stub_launch": &s.launch,
		"stub_stream_flags": &s.streamFlags,
	} {
		purego.RegisterLibFunc(f, h, name)
	}
	return nil
}

// dir returns a new folder holding the stub under each of names (as OCM_CUDA_PATH).
func (s *stubLib) dir(t *testing.T, names ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(s.file, filepath.Join(d, n)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// cuda12 are the file names of a CUDA 12 install.
var cuda12 = []string{"libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12"}

// device opens the stub as CUDA 12 and makes a Device on it.
func (s *stubLib) device(t *testing.T, opts Options) *Device {
	t.Helper()
	opts.Path = s.dir(t, cuda12...)
	lib, err := Open(opts)
	if err != nil {
		t.Fatalf("Open(stub): %v", err)
	}
	d, err := NewDevice(lib)
	if err != nil {
		t.Fatalf("NewDevice(stub): %v", err)
	}
	return d
}

// recorded is one launch as the stub's cuLaunchKernel saw it.
type recorded struct {
	name string
	dims [6]uint32
	vals []uint64
}

func (s *stubLib) lastLaunch(t *testing.T) recorded {
	t.Helper()
	n := s.launches()
	if n == 0 {
		t.Fatal("no launch recorded")
	}
	var r recorded
	name := make([]byte, 64)
	vals := make([]uint64, 32)
	np := s.launch(n-1, &name[0], int32(len(name)), &r.dims[0], &vals[0])
	if np < 0 {
		t.Fatalf("launch %d not recorded", n-1)
	}
	r.name = string(name[:strings.IndexByte(string(name), 0)])
	r.vals = vals[:np]
	return r
}

// Bug 4: where libcuda.so.1 is installed without a GPU, cuInit fails; the message must
// still say what to do, naming OCM_CUDA_PATH.
func TestStubCuInitFailureNamesPath(t *testing.T) {
	s := stub(t)
	s.fail("cuInit", 100, 0) // CUDA_ERROR_NO_DEVICE
	_, err := Open(Options{Path: s.dir(t, cuda12...)})
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Open: %T %v, want *LoadError", err, err)
	}
	msg := le.Error()
	for _, want := range []string{"cuInit", "CUDA_ERROR_NO_DEVICE", "OCM_CUDA_PATH"} {
		if !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
			t.Errorf("message %q: want one line naming %s", msg, want)
		}
	}
}

// Bug 5: CUDA 11 runtimes are found under their sonames (libcudart.so.11.0,
// libcublas.so.11) and a CUDA 11 driver is accepted.
func TestStubCUDA11(t *testing.T) {
	s := stub(t)
	s.setVersions(11080, 11080)
	lib, err := Open(Options{Path: s.dir(t, "libcuda.so.1", "libcudart.so.11.0", "libcublas.so.11", "libcublasLt.so.11")})
	if err != nil {
		t.Fatalf("Open with CUDA 11.8: %v", err)
	}
	if !strings.HasSuffix(lib.cudartFile, "libcudart.so.11.0") || !strings.HasSuffix(lib.cublasFile, "libcublas.so.11") {
		t.Errorf("loaded %s and %s", lib.cudartFile, lib.cublasFile)
	}
	if _, err := NewDevice(lib); err != nil {
		t.Fatalf("NewDevice on CUDA 11.8: %v", err)
	}
}

// Bug 2: minor-version compatibility: a 12.9 runtime runs on a 12.2 driver; only a
// newer major is refused, with advice that names the driver's major.
func TestStubVersionCompatibility(t *testing.T) {
	s := stub(t)
	s.setVersions(12020, 12090)
	lib, err := Open(Options{Path: s.dir(t, cuda12...)})
	if err != nil {
		t.Fatalf("12.9 runtime on a 12.2 driver: %v", err)
	}
	t.Log(lib.Describe())
	s.setVersions(12020, 13000)
	_, err = Open(Options{Path: s.dir(t, cuda12...)})
	if err == nil || !strings.Contains(err.Error(), "CUDA 12 libraries") || !strings.Contains(err.Error(), "OCM_CUDA_PATH") {
		t.Errorf("13.0 runtime on a 12.2 driver: got %v, want a refusal advising CUDA 12 libraries", err)
	}
	s.setVersions(10020, 10020)
	if _, err = Open(Options{Path: s.dir(t, cuda12...)}); err == nil || !strings.Contains(err.Error(), "CUDA 10.2") {
		t.Errorf("CUDA 10.2 driver: got %v, want a refusal", err)
	}
}

// Bug 6: a failed cuModuleGetFunction is a CUDA error, not a missing kernel that
// silently runs on the host.
func TestStubModuleGetFunctionFailure(t *testing.T) {
	s := stub(t)
	s.fail("cuModuleGetFunction", 201, 3) // CUDA_ERROR_INVALID_CONTEXT on the fourth lookup
	lib, err := Open(Options{Path: s.dir(t, cuda12...)})
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDevice(lib)
	if err == nil {
		t.Fatalf("NewDevice succeeded with native ops %v, module errors %v", d.NativeOps(), d.ModuleErrors())
	}
	if !strings.Contains(err.Error(), "cuModuleGetFunction") || !strings.Contains(err.Error(), "CUDA_ERROR_INVALID_CONTEXT") {
		t.Errorf("error %q: want the failed call and its status", err)
	}
}

// A module the driver's JIT rejects is reported with its log; its ops run on the host.
func TestStubModuleRejected(t *testing.T) {
	s := stub(t)
	s.fail("cuModuleLoadDataEx(jit)", 222, 1) // every module after the first: CUDA_ERROR_UNSUPPORTED_PTX_VERSION
	d := s.device(t, Options{})
	errs := d.ModuleErrors()
	if len(errs) != len(ptxModules)-1 || !strings.Contains(errs[0], ptxModules[1].name+".ptx") || !strings.Contains(errs[0], "stub rejects this module") {
		t.Fatalf("module errors %q", errs)
	}
	x := d.Alloc(10, true)
	d.Random(x, runtime.Uniform, philox.Key{Seed: 1, Stream: 2}, 0)
	if st := d.Stats(); st.Fallbacks != 1 {
		t.Errorf("random without its module: %d fallbacks, want 1", st.Fallbacks)
	}
}

// mustPanic runs f and returns what it panicked with (failing if it did not).
func mustPanic(t *testing.T, what string, f func()) (v any) {
	t.Helper()
	defer func() { v = recover() }()
	f()
	t.Fatalf("%s: no panic", what)
	return nil
}

// The device over the stub: memory calls, the GEMM mapping for every transpose,
// kernel parameter packing as the driver reads it, and the context made current on
// every call.
func TestStubDevice(t *testing.T) {
	s := stub(t)
	d := s.device(t, Options{})
	if s.streamFlags() != cudaStreamNonBlocking || s.mathMode() != 0 {
		t.Errorf("stream flags %d, math mode %d: want a non-blocking stream and default math", s.streamFlags(), s.mathMode())
	}
	r := rand.New(rand.NewPCG(5, 6))
	cmp := func(what string, p pair, tol float64) { compare(t, what, d, p, tol, tol) }
	x := newPair(d, randn(r, 1000, 1))
	cmp("upload/download", x, 0)
	d.Fill(x.g, 2.5)
	cpuDev.Fill(x.c, 2.5)
	cmp("fill", x, 0)
	src := newPair(d, randn(r, 4000, 1))
	for _, c := range [][6]int{{0, 0, 0, 0, 4000, 1}, {5, 100, 7, 90, 80, 30}, {1, 3, 2, 7, 3, 100}} {
		dst := newPair(d, make([]float32, 5000))
		d.CopyBlocks(dst.g, c[0], c[1], src.g, c[2], c[3], c[4], c[5])
		cpuDev.CopyBlocks(dst.c, c[0], c[1], src.c, c[2], c[3], c[4], c[5])
		cmp(fmt.Sprintf("copyblocks %v", c), dst, 0)
	}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			g := &runtime.GemmArgs{TransA: ta, TransB: tb, Batch: 3, M: 7, N: 5, K: 9, Alpha: 1.5, Beta: 0.5,
				StrideA: 63, StrideB: 0, StrideC: 35}
			a, b, c := newPair(d, randn(r, 3*63, 1)), newPair(d, randn(r, 45, 1)), newPair(d, randn(r, 3*35, 1))
			d.Gemm(c.g, a.g, b.g, g)
			cpuDev.Gemm(c.c, a.c, b.c, g)
			cmp(fmt.Sprintf("gemm transA=%v transB=%v", ta, tb), c, 1e-5)
		}
	}
	if s.gemms() != 4 {
		t.Errorf("%d GEMMs reached cuBLAS, want 4", s.gemms())
	}
	cg := runtime.ConvGeometry([]int{5, 3, 8, 8}, []int{4, 3, 3, 3}, 1, 1)
	cw, cy, cx := d.Alloc(4*27, false), d.Alloc(5*4*64, true), d.Alloc(5*3*64, true)
	before := s.gemms()
	d.Conv2dWeightGrad(cw, cy, cx, cg)
	if n := s.gemms() - before; n != 1 {
		t.Errorf("Conv2dWeightGrad of 5 images: %d GEMMs, want one", n)
	}
	long, sums := d.Alloc(3*9000, true), d.Alloc(3, false)
	d.Reduce(runtime.ReduceSum, sums, long, []int{3, 9000}, []bool{false, true})
	if l := s.lastLaunch(t); l.name != "reduce_sum_final" || l.vals[2] != 3 || l.vals[3] != 9 {
		t.Errorf("a reduction of 9000 values: last launch %s %v, want reduce_sum_final over 3 outputs of 9 parts", l.name, l.vals)
	}
	o := d.Alloc(1000, false)
	d.Unary(runtime.OpAffine, o, x.g, 0.5, -1.25)
	l := s.lastLaunch(t)
	want := []uint64{uint64(buf(o).ptr), uint64(buf(x.g).ptr), 1000, f32(0.5), f32(-1.25)}
	if l.name != "unary_affine" || l.dims != [6]uint32{4, 1, 1, blockSize, 1, 1} || fmt.Sprint(l.vals) != fmt.Sprint(want) {
		t.Errorf("launch %s %v %v, want unary_affine [4 1 1 256 1 1] %v", l.name, l.dims, l.vals, want)
	}
	d.Random(o, runtime.Uniform, philox.Key{Seed: 1<<40 + 3, Stream: 7}, 1<<33+5)
	l = s.lastLaunch(t)
	want = []uint64{uint64(buf(o).ptr), 1000, 5, 2, 3, 1 << 8, 7, 0}
	if l.name != "random_uniform" || fmt.Sprint(l.vals) != fmt.Sprint(want) {
		t.Errorf("launch %s %v, want random_uniform %v", l.name, l.vals, want)
	}
	if n := s.ctxErrors(); n != 0 {
		t.Errorf("%d calls without the context current", n)
	}
	if n := s.boundsErrors(); n != 0 {
		t.Errorf("%d accesses outside the allocations", n)
	}
}

// Every call from any goroutine (so any OS thread) finds the context current.
func TestStubContextOnEveryThread(t *testing.T) {
	s := stub(t)
	d := s.device(t, Options{})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v := make([]float32, 100+g)
			for i := range 50 {
				b := d.Alloc(len(v), i%2 == 0)
				d.Upload(b, v)
				d.Unary(runtime.OpNeg, b, b, 0, 0)
				d.Download(v, b)
				d.Free(b)
			}
		}()
	}
	wg.Wait()
	if n := s.ctxErrors(); n != 0 {
		t.Errorf("%d calls from 16 goroutines found no current context", n)
	}
	if n := s.launches(); n != 16*50 {
		t.Errorf("%d launches, want %d", n, 16*50)
	}
}

// TF32 is cuBLAS's CUBLAS_TF32_TENSOR_OP_MATH mode, set once on the handle.
func TestStubTF32(t *testing.T) {
	s := stub(t)
	d := s.device(t, Options{TF32: true})
	if s.mathMode() != cublasTF32TensorOpMath || !strings.Contains(d.Name(), "tf32") {
		t.Errorf("math mode %d, name %q: want %d and tf32", s.mathMode(), d.Name(), cublasTF32TensorOpMath)
	}
}

// Failed calls panic with *Error naming the call and its status.
func TestStubErrors(t *testing.T) {
	s := stub(t)
	d := s.device(t, Options{})
	x := d.Alloc(10, true)
	for _, c := range []struct {
		call, want string
		code       int32
		f          func()
	}{
		{"cublasSgemmStridedBatched", "cuda: cublasSgemmStridedBatched failed: CUBLAS_STATUS_EXECUTION_FAILED (13)", 13,
			func() { d.Gemm(x, x, x, &runtime.GemmArgs{Batch: 1, M: 2, N: 2, K: 2, Alpha: 1}) }},
		{"cuLaunchKernel", "cuda: cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (719)", 719,
			func() { d.Unary(runtime.OpExp, x, x, 0, 0) }},
		{"cudaStreamSynchronize", "cuda: cudaStreamSynchronize failed: cudaErrorIllegalAddress (700)", 700,
			func() { d.Download(make([]float32, 10), x) }},
		{"cudaMemcpyAsync", "cuda: cudaMemcpyAsync(HostToDevice) failed: cudaErrorInvalidValue (1)", 1,
			func() { d.Upload(x, make([]float32, 10)) }},
	} {
		s.fail(c.call, c.code, 0)
		v := mustPanic(t, c.call, c.f)
		s.fail("", 0, 0)
		if e, ok := v.(*Error); !ok || e.Error() != c.want {
			t.Errorf("%s failing: panic %T %v, want %q", c.call, v, v, c.want)
		}
	}
}

// Out of memory: the cache is returned and the allocation retried; if it still does
// not fit, the panic is an *OutOfMemoryError with the request and what is free.
func TestStubOutOfMemory(t *testing.T) {
	s := stub(t)
	d := s.device(t, Options{})
	s.setMemLimit(s.memUsed() + 3<<20)
	a := d.Alloc(512<<10, false) // 2 MiB
	d.Free(a)                    // cached, not freed
	b := d.Alloc(640<<10, false) // 2.5 MiB: fits only once the cache is returned
	if st := d.Stats(); st.CudaFrees != 1 || st.BytesCached != 0 {
		t.Errorf("after the retry: %+v, want the cached block freed", st)
	}
	v := mustPanic(t, "alloc beyond memory", func() { d.Alloc(1<<20, false) })
	oom, ok := v.(*OutOfMemoryError)
	if !ok || oom.Requested != int64(sizeClass(4<<20)) || oom.Total != int64(s.memUsed())+oom.Free {
		t.Fatalf("panic %T %v, want *OutOfMemoryError for %d bytes", v, v, sizeClass(4<<20))
	}
	t.Log(oom)
	d.Free(b)
	d.Alloc(512<<10, false) // the device still works
}
