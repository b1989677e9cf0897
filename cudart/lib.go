package cudart

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Options configures Open and the devices made from its Lib.
type Options struct {
	// Path overrides where the CUDA libraries are looked for: a folder holding
	// libcudart.so.*, libcublas.so.* (and optionally libcuda.so.1), or a file in that
	// folder. The caller fills it from the OCM_CUDA_PATH environment variable; this
	// package reads no environment variables. Empty: the default library path only.
	Path string
	// TF32 lets cuBLAS use TF32 tensor cores for float32 GEMMs (about 10 significant
	// bits in the products; 8× faster on Hopper). Off: exact float32.
	TF32 bool
	// Debug synchronizes after every kernel and GEMM so that an asynchronous CUDA error
	// is reported by the call that caused it (slow; for debugging).
	Debug bool
}

// Lib is a loaded set of CUDA libraries: the driver (libcuda), the runtime (libcudart)
// and cuBLAS, bound through purego. Open returns it; NewDevice uses it.
type Lib struct {
	opts Options

	cudaFile, cudartFile, cublasFile string // what was loaded (path or soname)

	DriverVersion  int // cuDriverGetVersion, e.g. 13000 for CUDA 13.0
	RuntimeVersion int // cudaRuntimeGetVersion
	CublasVersion  int // major*10000 + minor*100 + patch, 0 if unknown
	DeviceCount    int // cudaGetDeviceCount

	// driver API
	cuInit                   func(flags uint32) int32
	cuDriverGetVersion       func(v *int32) int32
	cuDeviceGet              func(dev *int32, ordinal int32) int32
	cuDeviceGetName          func(name *byte, n int32, dev int32) int32
	cuDeviceTotalMem         func(bytes *uint64, dev int32) int32
	cuDeviceGetAttribute     func(v *int32, attr int32, dev int32) int32
	cuDevicePrimaryCtxRetain func(ctx *uintptr, dev int32) int32
	cuCtxSetCurrent          func(ctx uintptr) int32
	cuModuleLoadDataEx       func(mod *uintptr, image *byte, nopts uint32, opts *int32, vals *uintptr) int32
	cuModuleGetFunction      func(fn *uintptr, mod uintptr, name *byte) int32
	cuMemsetD32Async         func(dptr uintptr, v uint32, n uintptr, stream uintptr) int32
	cuLaunchKernel           uintptr // called with purego.SyscallN

	// runtime API
	cudaRuntimeGetVersion     func(v *int32) int32
	cudaGetDeviceCount        func(n *int32) int32
	cudaSetDevice             func(dev int32) int32
	cudaMalloc                func(p *uintptr, size uintptr) int32
	cudaFree                  func(p uintptr) int32
	cudaMemcpyH2D             func(dst uintptr, src unsafe.Pointer, n uintptr, kind int32, stream uintptr) int32
	cudaMemcpyD2H             func(dst unsafe.Pointer, src uintptr, n uintptr, kind int32, stream uintptr) int32
	cudaMemcpyD2D             func(dst, src uintptr, n uintptr, kind int32, stream uintptr) int32
	cudaMemcpy2DAsync         func(dst, dpitch, src, spitch, width, height uintptr, kind int32, stream uintptr) int32
	cudaMemsetAsync           func(p uintptr, v int32, n uintptr, stream uintptr) int32
	cudaStreamCreateWithFlags func(s *uintptr, flags uint32) int32
	cudaStreamSynchronize     func(s uintptr) int32
	cudaMemGetInfo            func(free, total *uintptr) int32
	cudaGetLastError          func() int32

	// cuBLAS
	cublasCreate              func(h *uintptr) int32
	cublasSetStream           func(h, stream uintptr) int32
	cublasSetMathMode         func(h uintptr, mode int32) int32
	cublasSgemmStridedBatched uintptr // called with purego.SyscallN
}

// dlopenFirst opens the first of names that loads; it returns the name and handle, or
// "" when none does.
func dlopenFirst(names []string) (string, uintptr) {
	for _, n := range names {
		if h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return n, h
		}
	}
	return "", 0
}

// candidates lists where to look for soname: the override folder first, then the
// default library path.
func candidates(dir string, sonames ...string) []string {
	var out []string
	if dir != "" {
		for _, s := range sonames {
			out = append(out, filepath.Join(dir, s))
		}
	}
	return append(out, sonames...)
}

// bind looks up the first of names in h and makes fptr call it.
func bind(h uintptr, fptr any, names ...string) error {
	for _, n := range names {
		if p, err := purego.Dlsym(h, n); err == nil && p != 0 {
			purego.RegisterFunc(fptr, p)
			return nil
		}
	}
	return fmt.Errorf("symbol %s not found", strings.Join(names, "/"))
}

// sym returns the address of the first of names in h.
func sym(h uintptr, names ...string) (uintptr, error) {
	for _, n := range names {
		if p, err := purego.Dlsym(h, n); err == nil && p != 0 {
			return p, nil
		}
	}
	return 0, fmt.Errorf("symbol %s not found", strings.Join(names, "/"))
}

// binding is a function variable of Lib and the symbols (first found wins) it calls.
type binding struct {
	fptr  any
	names []string
}

// bindAll binds every b in h, the library file lib, or says which symbol is missing.
func bindAll(lib string, h uintptr, bs []binding) error {
	for _, b := range bs {
		if err := bind(h, b.fptr, b.names...); err != nil {
			return &LoadError{Msg: fmt.Sprintf("cuda: %s is too old or not a CUDA library: %v (install CUDA 11, 12 or 13, or set OCM_CUDA_PATH to another folder)", lib, err)}
		}
	}
	return nil
}

func versionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// cudaMajors are the CUDA major versions whose runtime and cuBLAS ocm loads, newest
// first; the PTX (ISA 7.0) runs on drivers from CUDA 11.0 on.
var cudaMajors = []int{13, 12, 11}

// runtimeSonames returns the sonames of the runtime, cuBLAS and cuBLASLt of one CUDA
// major: CUDA 11's runtime is libcudart.so.11.0, later ones libcudart.so.<major>.
func runtimeSonames(major int) (rt, blas, blasLt string) {
	rt = fmt.Sprintf("libcudart.so.%d", major)
	if major == 11 {
		rt = "libcudart.so.11.0"
	}
	return rt, fmt.Sprintf("libcublas.so.%d", major), fmt.Sprintf("libcublasLt.so.%d", major)
}

// Open loads the CUDA driver, runtime and cuBLAS and checks that a device is usable.
// On a machine without them it returns quickly with a *LoadError whose message is one
// line saying what was tried and what to do (and naming OCM_CUDA_PATH).
func Open(opts Options) (*Lib, error) {
	dir, where, err := libraryDir(opts.Path)
	if err != nil {
		return nil, err
	}
	l := &Lib{opts: opts}
	if err := l.openDriver(dir, where); err != nil {
		return nil, err
	}
	hrt, hblas, err := l.openRuntime(dir, where)
	if err != nil {
		return nil, err
	}
	if err := l.bindRuntime(hrt, hblas); err != nil {
		return nil, err
	}
	if err := l.checkVersions(); err != nil {
		return nil, err
	}
	var n int32
	if rc := l.cudaGetDeviceCount(&n); rc != 0 || n == 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: no CUDA device found (cudaGetDeviceCount: %s, %d devices; check nvidia-smi and the container's GPU access, or set OCM_CUDA_PATH to the folder of matching CUDA libraries)", statusName(cudaErrorNames, "cudaError", rc), n)}
	}
	l.DeviceCount = int(n)
	return l, nil
}

// libraryDir turns the OCM_CUDA_PATH override into the folder to look in first and a
// phrase for messages saying where was looked.
func libraryDir(path string) (dir, where string, err error) {
	where = "the default library path"
	if path == "" {
		return "", where, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", "", &LoadError{Msg: fmt.Sprintf("cuda: OCM_CUDA_PATH=%s does not exist (set it to the folder holding libcudart.so and libcublas.so, or unset it)", path)}
	}
	dir = path
	if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	return dir, dir + " or the default library path", nil
}

// openDriver loads libcuda, binds the driver API, initializes it and reads its version.
func (l *Lib) openDriver(dir, where string) error {
	name, hcuda := dlopenFirst(candidates(dir, "libcuda.so.1", "libcuda.so"))
	if hcuda == 0 {
		return &LoadError{Msg: fmt.Sprintf("cuda: libcuda.so.1 (the NVIDIA driver) not found in %s (install the NVIDIA driver, or set OCM_CUDA_PATH to the folder holding libcuda.so.1)", where)}
	}
	l.cudaFile = name
	if err := bindAll(name, hcuda, l.driverBindings()); err != nil {
		return err
	}
	var err error
	if l.cuLaunchKernel, err = sym(hcuda, "cuLaunchKernel"); err != nil {
		return &LoadError{Msg: fmt.Sprintf("cuda: %s: %v (update the NVIDIA driver, or set OCM_CUDA_PATH to the folder of another libcuda.so.1)", name, err)}
	}
	if rc := l.cuInit(0); rc != 0 {
		return &LoadError{Msg: fmt.Sprintf("cuda: cuInit failed: %s (%d) with %s (no usable GPU: check nvidia-smi and the container's GPU access, or set OCM_CUDA_PATH to the folder of the driver's libcuda.so.1)", statusName(cuResultNames, "CUDA_ERROR_", rc), rc, name)}
	}
	var dv int32
	if rc := l.cuDriverGetVersion(&dv); rc != 0 {
		return &LoadError{Msg: fmt.Sprintf("cuda: cuDriverGetVersion failed: %s (%d) with %s (reinstall the NVIDIA driver, or set OCM_CUDA_PATH to the folder of another libcuda.so.1)", statusName(cuResultNames, "CUDA_ERROR_", rc), rc, name)}
	}
	l.DriverVersion = int(dv)
	if oldest := cudaMajors[len(cudaMajors)-1]; int(dv) < oldest*1000 {
		return &LoadError{Msg: fmt.Sprintf("cuda: the NVIDIA driver supports CUDA %s, ocm needs CUDA %d or newer (update the driver to R450 or newer, or set OCM_CUDA_PATH to the folder of a newer libcuda.so.1)", versionString(int(dv)), oldest)}
	}
	return nil
}

// openRuntime loads the runtime and cuBLAS of one CUDA major, the newest the driver's
// major supports (CUDA's minor-version compatibility: any 12.x runtime runs on any
// 12.x driver).
func (l *Lib) openRuntime(dir, where string) (hrt, hblas uintptr, err error) {
	var tried []string // what was not found
	for _, major := range cudaMajors {
		if l.DriverVersion/1000 < major {
			continue
		}
		rt, blas, blasLt := runtimeSonames(major)
		rtName, h := dlopenFirst(candidates(dir, rt))
		if h == 0 {
			tried = append(tried, rt)
			continue
		}
		if dir != "" { // libcublas needs libcublasLt beside it: load it by path first.
			dlopenFirst([]string{filepath.Join(dir, blasLt)})
		}
		blasName, hb := dlopenFirst(candidates(dir, blas))
		if hb == 0 {
			tried = append(tried, blas)
			continue
		}
		l.cudartFile, l.cublasFile = rtName, blasName
		return h, hb, nil
	}
	major := l.DriverVersion / 1000
	return 0, 0, &LoadError{Msg: fmt.Sprintf("cuda: driver %s found but %s not found in %s (install the CUDA runtime and cuBLAS of CUDA %d or older, from the CUDA toolkit or pip install nvidia-cuda-runtime-cu%d nvidia-cublas-cu%d, and set OCM_CUDA_PATH to the folder holding libcudart.so and libcublas.so)", versionString(l.DriverVersion), strings.Join(tried, ", "), where, major, major, major)}
}

// bindRuntime binds the runtime API and cuBLAS and reads cuBLAS's version.
func (l *Lib) bindRuntime(hrt, hblas uintptr) error {
	if err := bindAll(l.cudartFile, hrt, l.runtimeBindings()); err != nil {
		return err
	}
	if err := bindAll(l.cublasFile, hblas, l.blasBindings()); err != nil {
		return err
	}
	var err error
	if l.cublasSgemmStridedBatched, err = sym(hblas, "cublasSgemmStridedBatched"); err != nil {
		return &LoadError{Msg: fmt.Sprintf("cuda: %s: %v (install cuBLAS 11 or newer, or set OCM_CUDA_PATH to the folder of another libcublas.so)", l.cublasFile, err)}
	}
	var getProp func(typ int32, v *int32) int32
	if bind(hblas, &getProp, "cublasGetProperty") == nil {
		var a, b, c int32
		if getProp(libPropertyMajorVersion, &a) == 0 && getProp(libPropertyMinorVersion, &b) == 0 && getProp(libPropertyPatchLevel, &c) == 0 {
			l.CublasVersion = int(a)*10000 + int(b)*100 + int(c)
		}
	}
	return nil
}

// checkVersions reads the runtime's version and refuses a runtime of a newer CUDA
// major than the driver. Within a major, CUDA's minor-version compatibility lets a
// newer runtime (12.9) run on an older driver (12.2); what the PTX needs is checked by
// the driver's JIT when the modules load (ModuleErrors).
func (l *Lib) checkVersions() error {
	var rv int32
	if rc := l.cudaRuntimeGetVersion(&rv); rc != 0 {
		return &LoadError{Msg: fmt.Sprintf("cuda: cudaRuntimeGetVersion failed: %s (%d) with %s (set OCM_CUDA_PATH to the folder of another libcudart.so)", statusName(cudaErrorNames, "cudaError", rc), rc, l.cudartFile)}
	}
	l.RuntimeVersion = int(rv)
	if l.DriverVersion/1000 < l.RuntimeVersion/1000 {
		return &LoadError{Msg: fmt.Sprintf("cuda: the NVIDIA driver supports CUDA %s but %s is CUDA %s, a newer major (update the driver, or set OCM_CUDA_PATH to a folder with CUDA %d libraries)", versionString(l.DriverVersion), l.cudartFile, versionString(l.RuntimeVersion), l.DriverVersion/1000)}
	}
	return nil
}

// driverBindings lists the driver API functions ocm binds, each with its symbol names.
func (l *Lib) driverBindings() []binding {
	return []binding{
		{&l.cuInit, []string{"cuInit"}},
		{&l.cuDriverGetVersion, []string{"cuDriverGetVersion"}},
		{&l.cuDeviceGet, []string{"cuDeviceGet"}},
		{&l.cuDeviceGetName, []string{"cuDeviceGetName"}},
		{&l.cuDeviceTotalMem, []string{"cuDeviceTotalMem_v2", "cuDeviceTotalMem"}},
		{&l.cuDeviceGetAttribute, []string{"cuDeviceGetAttribute"}},
		{&l.cuDevicePrimaryCtxRetain, []string{"cuDevicePrimaryCtxRetain"}},
		{&l.cuCtxSetCurrent, []string{"cuCtxSetCurrent"}},
		{&l.cuModuleLoadDataEx, []string{"cuModuleLoadDataEx"}},
		{&l.cuModuleGetFunction, []string{"cuModuleGetFunction"}},
		{&l.cuMemsetD32Async, []string{"cuMemsetD32Async"}},
	}
}

// runtimeBindings lists the runtime API functions ocm binds.
func (l *Lib) runtimeBindings() []binding {
	return []binding{
		{&l.cudaRuntimeGetVersion, []string{"cudaRuntimeGetVersion"}},
		{&l.cudaGetDeviceCount, []string{"cudaGetDeviceCount"}},
		{&l.cudaSetDevice, []string{"cudaSetDevice"}},
		{&l.cudaMalloc, []string{"cudaMalloc"}},
		{&l.cudaFree, []string{"cudaFree"}},
		{&l.cudaMemcpyH2D, []string{"cudaMemcpyAsync"}},
		{&l.cudaMemcpyD2H, []string{"cudaMemcpyAsync"}},
		{&l.cudaMemcpyD2D, []string{"cudaMemcpyAsync"}},
		{&l.cudaMemcpy2DAsync, []string{"cudaMemcpy2DAsync"}},
		{&l.cudaMemsetAsync, []string{"cudaMemsetAsync"}},
		{&l.cudaStreamCreateWithFlags, []string{"cudaStreamCreateWithFlags"}},
		{&l.cudaStreamSynchronize, []string{"cudaStreamSynchronize"}},
		{&l.cudaMemGetInfo, []string{"cudaMemGetInfo"}},
		{&l.cudaGetLastError, []string{"cudaGetLastError"}},
	}
}

// blasBindings lists the cuBLAS functions ocm binds (besides the GEMM, called with SyscallN).
func (l *Lib) blasBindings() []binding {
	return []binding{
		{&l.cublasCreate, []string{"cublasCreate_v2"}},
		{&l.cublasSetStream, []string{"cublasSetStream_v2"}},
		{&l.cublasSetMathMode, []string{"cublasSetMathMode"}},
	}
}

// deviceInfo reads the name, memory, compute capability and SM count of device 0.
func (l *Lib) deviceInfo() (name string, mem uint64, major, minor, sms int32) {
	var dev int32
	l.cuDeviceGet(&dev, 0)
	buf := make([]byte, 256)
	if l.cuDeviceGetName(&buf[0], int32(len(buf)), dev) == 0 {
		if i := strings.IndexByte(string(buf), 0); i >= 0 {
			name = string(buf[:i])
		}
	}
	l.cuDeviceTotalMem(&mem, dev)
	l.cuDeviceGetAttribute(&major, cuDeviceAttributeComputeCapabilityMajor, dev)
	l.cuDeviceGetAttribute(&minor, cuDeviceAttributeComputeCapabilityMinor, dev)
	l.cuDeviceGetAttribute(&sms, cuDeviceAttributeMultiprocessorCount, dev)
	return
}

// Describe says in one line which libraries were loaded, their versions and what
// device 0 is.
func (l *Lib) Describe() string {
	name, mem, major, minor, sms := l.deviceInfo()
	blas := "?"
	if l.CublasVersion > 0 {
		blas = fmt.Sprintf("%d.%d.%d", l.CublasVersion/10000, l.CublasVersion/100%100, l.CublasVersion%100)
	}
	return fmt.Sprintf("CUDA driver %s (%s), runtime %s (%s), cuBLAS %s (%s); %d device(s); device 0: %s, sm_%d%d, %d SMs, %.1f GiB",
		versionString(l.DriverVersion), l.cudaFile, versionString(l.RuntimeVersion), l.cudartFile,
		blas, l.cublasFile, l.DeviceCount, name, major, minor, sms, float64(mem)/(1<<30))
}
