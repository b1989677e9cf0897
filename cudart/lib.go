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

type binding struct {
	fptr  any
	names []string
}

func bindAll(lib string, h uintptr, bs []binding) error {
	for _, b := range bs {
		if err := bind(h, b.fptr, b.names...); err != nil {
			return &LoadError{Msg: fmt.Sprintf("cuda: %s is too old or not a CUDA library: %v (install CUDA 12 or 13, or set OCM_CUDA_PATH to another folder)", lib, err)}
		}
	}
	return nil
}

func versionString(v int) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// Open loads the CUDA driver, runtime and cuBLAS and checks that a device is usable.
// On a machine without them it returns quickly with a *LoadError whose message is one
// line saying what was tried and what to do.
func Open(opts Options) (*Lib, error) {
	dir := ""
	if opts.Path != "" {
		st, err := os.Stat(opts.Path)
		if err != nil {
			return nil, &LoadError{Msg: fmt.Sprintf("cuda: OCM_CUDA_PATH=%s does not exist (set it to the folder holding libcudart.so and libcublas.so, or unset it)", opts.Path)}
		}
		dir = opts.Path
		if !st.IsDir() {
			dir = filepath.Dir(opts.Path)
		}
	}
	where := "the default library path"
	if dir != "" {
		where = dir + " or the default library path"
	}
	l := &Lib{opts: opts}

	// Driver.
	name, hcuda := dlopenFirst(candidates(dir, "libcuda.so.1", "libcuda.so"))
	if hcuda == 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: libcuda.so.1 (the NVIDIA driver) not found in %s (install the NVIDIA driver, or set OCM_CUDA_PATH to the folder holding libcuda.so.1)", where)}
	}
	l.cudaFile = name
	if err := bindAll(name, hcuda, []binding{
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
	}); err != nil {
		return nil, err
	}
	var err error
	if l.cuLaunchKernel, err = sym(hcuda, "cuLaunchKernel"); err != nil {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: %s: %v (update the NVIDIA driver)", name, err)}
	}
	if rc := l.cuInit(0); rc != 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: cuInit failed: %s (%d) with %s (no usable GPU: check nvidia-smi and the container's GPU access)", statusName(cuResultNames, "CUDA_ERROR_", rc), rc, name)}
	}
	var dv int32
	if rc := l.cuDriverGetVersion(&dv); rc != 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: cuDriverGetVersion failed: %s (%d)", statusName(cuResultNames, "CUDA_ERROR_", rc), rc)}
	}
	l.DriverVersion = int(dv)
	if dv < 12000 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: the NVIDIA driver supports CUDA %s, ocm needs CUDA 12 or 13 (update the driver to R525 or newer)", versionString(int(dv)))}
	}

	// Runtime and cuBLAS of one CUDA major, the newest the driver supports.
	var tried []string // what was not found
	var hrt, hblas uintptr
	for _, major := range []int{13, 12} {
		if int(dv) < major*1000 {
			continue
		}
		so := func(base string) string { return fmt.Sprintf("%s.so.%d", base, major) }
		rtName, h := dlopenFirst(candidates(dir, so("libcudart")))
		if h == 0 {
			tried = append(tried, so("libcudart"))
			continue
		}
		if dir != "" { // libcublas needs libcublasLt beside it: load it by path first.
			dlopenFirst([]string{filepath.Join(dir, so("libcublasLt"))})
		}
		blasName, hb := dlopenFirst(candidates(dir, so("libcublas")))
		if hb == 0 {
			tried = append(tried, so("libcublas"))
			continue
		}
		l.cudartFile, l.cublasFile, hrt, hblas = rtName, blasName, h, hb
		break
	}
	if hrt == 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: driver %s found but %s not found in %s (install the CUDA runtime and cuBLAS of the same version, from the CUDA toolkit or pip install nvidia-cuda-runtime-cu12 nvidia-cublas-cu12, and set OCM_CUDA_PATH to the folder holding libcudart.so and libcublas.so)", versionString(int(dv)), strings.Join(tried, ", "), where)}
	}
	if err := bindAll(l.cudartFile, hrt, []binding{
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
	}); err != nil {
		return nil, err
	}
	if err := bindAll(l.cublasFile, hblas, []binding{
		{&l.cublasCreate, []string{"cublasCreate_v2"}},
		{&l.cublasSetStream, []string{"cublasSetStream_v2"}},
		{&l.cublasSetMathMode, []string{"cublasSetMathMode"}},
	}); err != nil {
		return nil, err
	}
	if l.cublasSgemmStridedBatched, err = sym(hblas, "cublasSgemmStridedBatched"); err != nil {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: %s: %v (install cuBLAS 12 or 13)", l.cublasFile, err)}
	}
	var getProp func(typ int32, v *int32) int32
	if bind(hblas, &getProp, "cublasGetProperty") == nil {
		var a, b, c int32
		if getProp(0, &a) == 0 && getProp(1, &b) == 0 && getProp(2, &c) == 0 {
			l.CublasVersion = int(a)*10000 + int(b)*100 + int(c)
		}
	}

	var rv int32
	if rc := l.cudaRuntimeGetVersion(&rv); rc != 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: cudaRuntimeGetVersion failed: %s (%d) with %s", statusName(cudaErrorNames, "cudaError", rc), rc, l.cudartFile)}
	}
	l.RuntimeVersion = int(rv)
	if l.DriverVersion < l.RuntimeVersion {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: the NVIDIA driver supports CUDA %s but %s is CUDA %s (update the driver, or set OCM_CUDA_PATH to a folder with CUDA %d libraries)", versionString(l.DriverVersion), l.cudartFile, versionString(l.RuntimeVersion), l.DriverVersion/1000)}
	}
	var n int32
	if rc := l.cudaGetDeviceCount(&n); rc != 0 || n == 0 {
		return nil, &LoadError{Msg: fmt.Sprintf("cuda: no CUDA device found (cudaGetDeviceCount: %s, %d devices; check nvidia-smi and the container's GPU access)", statusName(cudaErrorNames, "cudaError", rc), n)}
	}
	l.DeviceCount = int(n)
	return l, nil
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
	l.cuDeviceGetAttribute(&major, 75, dev)
	l.cuDeviceGetAttribute(&minor, 76, dev)
	l.cuDeviceGetAttribute(&sms, 16, dev)
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
