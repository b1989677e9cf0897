package cudart

// Checks against the installed CUDA toolkit, without a GPU (Debian: apt-get install
// nvidia-cuda-toolkit from the non-free component): ptxas assembles every PTX module
// for every architecture ocm targets; nvcc compiles the readable CUDA C beside them;
// every symbol ocm binds resolves in the real libraries and its prototype (argument
// count and widths) matches the headers; ocm's constants equal the headers'. Each test
// skips with one line when its tool is missing, except under CI=true.

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ebitengine/purego"
)

// ptxArchs are the architectures the embedded PTX must assemble for.
var ptxArchs = []string{"sm_70", "sm_75", "sm_80", "sm_86", "sm_89", "sm_90"}

func TestPtxasAllArchs(t *testing.T) {
	ptxas := needTool(t, "ptxas", "the ptxas check of the PTX modules")
	dir := t.TempDir()
	used := regexp.MustCompile(`Used (\d+) registers`)
	frame := regexp.MustCompile(`(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads`)
	lmem := regexp.MustCompile(`(\d+) bytes lmem`)
	for _, m := range ptxModules {
		file := filepath.Join(dir, m.name+".ptx")
		if err := os.WriteFile(file, []byte(m.src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, arch := range ptxArchs {
			out, err := exec.Command(ptxas, "-arch="+arch, "-v", "--warn-on-spills", "--warn-on-local-memory-usage",
				"-o", filepath.Join(dir, m.name+"."+arch+".cubin"), file).CombinedOutput()
			log := string(out)
			if err != nil || strings.Contains(strings.ToLower(log), "warning") {
				t.Errorf("ptxas -arch=%s %s.ptx: %v\n%s", arch, m.name, err, log)
				continue
			}
			maxRegs := 0
			for _, u := range used.FindAllStringSubmatch(log, -1) {
				n, _ := strconv.Atoi(u[1])
				maxRegs = max(maxRegs, n)
			}
			for _, f := range frame.FindAllStringSubmatch(log, -1) {
				if f[1] != "0" || f[2] != "0" || f[3] != "0" {
					t.Errorf("ptxas -arch=%s %s.ptx: %s", arch, m.name, f[0])
				}
			}
			for _, l := range lmem.FindAllStringSubmatch(log, -1) {
				if l[1] != "0" {
					t.Errorf("ptxas -arch=%s %s.ptx: %s of local memory", arch, m.name, l[1])
				}
			}
			if maxRegs == 0 {
				t.Errorf("ptxas -arch=%s %s.ptx: no register report in\n%s", arch, m.name, log)
			}
			t.Logf("%s %s.ptx: %d kernels, at most %d registers, no spills", arch, m.name, len(used.FindAllString(log, -1)), maxRegs)
		}
	}
}

// The readable CUDA C beside the PTX compiles (nvcc), so it stays a faithful source.
func TestNvccCompilesReadableSource(t *testing.T) {
	nvcc := needTool(t, "nvcc", "the nvcc check of the readable kernel source")
	files, _ := filepath.Glob("ptx/*.cu")
	if len(files) == 0 {
		t.Fatal("no ptx/*.cu")
	}
	args := []string{"-ptx", "-arch=sm_70"}
	if cc, err := exec.LookPath("g++-11"); err == nil { // CUDA 11.8's nvcc refuses gcc 12
		args = append(args, "-ccbin", cc)
	}
	for _, f := range files {
		out, err := exec.Command(nvcc, append(args, "-o", filepath.Join(t.TempDir(), "out.ptx"), f)...).CombinedOutput()
		if err != nil {
			t.Errorf("nvcc -ptx %s: %v\n%s", f, err, out)
		}
	}
}

// headerText returns the concatenated CUDA headers ocm's prototypes and constants
// come from, or skips.
func headerText(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, h := range []string{"cuda.h", "cuda_runtime_api.h", "driver_types.h", "cublas_api.h", "library_types.h"} {
		src, err := os.ReadFile(filepath.Join("/usr/include", h))
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("/usr/include/%s: %v: CI must check the CUDA headers", h, err)
			}
			t.Skipf("/usr/include/%s not found: skipping the header checks (install nvidia-cuda-toolkit)", h)
		}
		b.Write(src)
		b.WriteByte('\n')
	}
	return b.String()
}

// enumValues returns every enumerator of every enum in src, and every #define of a
// number.
func enumValues(src string) map[string]int64 {
	out := map[string]int64{}
	src = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`).ReplaceAllString(src, "")
	for _, m := range regexp.MustCompile(`(?m)^\s*#define\s+(\w+)\s+\(?(0x[0-9a-fA-F]+|\d+)U?\)?\s*$`).FindAllStringSubmatch(src, -1) {
		v, _ := strconv.ParseInt(m[2], 0, 64)
		out[m[1]] = v
	}
	for _, m := range regexp.MustCompile(`(?s)enum\b[^{;]*\{(.*?)\}`).FindAllStringSubmatch(src, -1) {
		next := int64(0)
		for _, item := range strings.Split(m[1], ",") {
			name, val, hasVal := strings.Cut(strings.TrimSpace(item), "=")
			name = strings.TrimSpace(name)
			if name == "" || strings.HasPrefix(name, "#") {
				continue
			}
			if hasVal {
				v, err := strconv.ParseInt(strings.TrimSpace(val), 0, 64)
				if err != nil {
					if r, ok := out[strings.TrimSpace(val)]; ok {
						v = r
					} else {
						continue
					}
				}
				next = v
			}
			out[name] = next
			next++
		}
	}
	return out
}

func TestHeaderConstants(t *testing.T) {
	vals := enumValues(headerText(t))
	check := func(name string, want int64) {
		t.Helper()
		got, ok := vals[name]
		if !ok {
			t.Errorf("%s: not in the headers", name)
		} else if got != want {
			t.Errorf("%s: ocm uses %d, the headers say %d", name, want, got)
		}
	}
	for name, v := range map[string]int64{
		"CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT":     cuDeviceAttributeMultiprocessorCount,
		"CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR": cuDeviceAttributeComputeCapabilityMajor,
		"CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR": cuDeviceAttributeComputeCapabilityMinor,
		"CU_JIT_ERROR_LOG_BUFFER":                      cuJitErrorLogBuffer,
		"CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES":           cuJitErrorLogBufferSizeBytes,
		"cudaMemcpyHostToDevice":                       cudaMemcpyHostToDevice,
		"cudaMemcpyDeviceToHost":                       cudaMemcpyDeviceToHost,
		"cudaMemcpyDeviceToDevice":                     cudaMemcpyDeviceToDevice,
		"cudaStreamNonBlocking":                        cudaStreamNonBlocking,
		"cudaErrorMemoryAllocation":                    cudaErrorMemoryAlloc,
		"CUBLAS_OP_N":                                  cublasOpN,
		"CUBLAS_OP_T":                                  cublasOpT,
		"CUBLAS_TF32_TENSOR_OP_MATH":                   cublasTF32TensorOpMath,
		"MAJOR_VERSION":                                libPropertyMajorVersion,
		"MINOR_VERSION":                                libPropertyMinorVersion,
		"PATCH_LEVEL":                                  libPropertyPatchLevel,
	} {
		check(name, v)
	}
	n := 16
	for _, table := range []map[int32]string{cudaErrorNames, cuResultNames, cublasStatusNames} {
		for code, name := range table {
			check(name, int64(code))
			n++
		}
	}
	t.Logf("%d constants equal the headers'", n)
}

// cPrototype returns the parameter list of the declaration of fn in the headers, or
// false.
func cPrototype(src, fn string) ([]string, bool) {
	start := -1
	for i := 0; start < 0; {
		j := strings.Index(src[i:], fn)
		if j < 0 {
			return nil, false
		}
		i += j + len(fn)
		rest := strings.TrimLeft(src[i:], " \t")
		lineStart := strings.LastIndexByte(src[:i-len(fn)], '\n') + 1
		line := src[lineStart : i-len(fn)]
		before := src[max(0, i-len(fn)-1)]
		if strings.HasPrefix(rest, "(") && (before == ' ' || before == '\t' || before == '*') && !strings.Contains(line, "#") &&
			regexp.MustCompile(`\b(CUDAAPI|CUDARTAPI|CUBLASWINAPI|CUBLASAPI)\b`).MatchString(line) {
			start = len(src) - len(rest) + 1
		}
	}
	depth := 1
	for i := start; i < len(src); i++ {
		switch src[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				body := regexp.MustCompile(`__dv\([^)]*\)`).ReplaceAllString(src[start:i], "")
				body = strings.TrimSpace(body)
				if body == "" || body == "void" {
					return nil, true
				}
				params := strings.Split(body, ",")
				for j := range params {
					params[j] = strings.Join(strings.Fields(params[j]), " ")
				}
				return params, true
			}
		}
	}
	return nil, false
}

// cWidth is the size in bytes of a C parameter as passed in a register.
func cWidth(param string) int {
	if strings.Contains(param, "*") {
		return 8
	}
	for _, w := range []string{"size_t", "cudaStream_t", "cublasHandle_t", "CUmodule", "CUfunction", "CUcontext",
		"CUstream", "CUdeviceptr", "long long"} {
		if strings.Contains(param, w) {
			return 8
		}
	}
	return 4
}

// goWidth is the size in bytes of a Go parameter type as purego passes it.
func goWidth(t reflect.Type) int {
	switch t.Kind() {
	case reflect.Pointer, reflect.Uintptr, reflect.UnsafePointer, reflect.Uint64, reflect.Int64:
		return 8
	}
	return int(t.Size())
}

// Every function ocm binds is declared in the headers with the same number of
// parameters of the same widths, and resolves in the installed libraries.
func TestHeaderPrototypesAndSymbols(t *testing.T) {
	src := headerText(t)
	l := &Lib{}
	libs := map[string][]binding{"libcuda.so.1": l.driverBindings(), "libcudart.so.11.0": l.runtimeBindings(), "libcublas.so.11": l.blasBindings()}
	var getProp func(typ int32, v *int32) int32
	libs["libcublas.so.11"] = append(libs["libcublas.so.11"], binding{&getProp, []string{"cublasGetProperty"}})
	raw := map[string]struct {
		lib string
		n   int
	}{"cuLaunchKernel": {"libcuda.so.1", 11}, "cublasSgemmStridedBatched": {"libcublas.so.11", 18}}
	checked := 0
	for lib, bs := range libs {
		h, err := purego.Dlopen(lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("dlopen %s: %v: CI must check the real libraries", lib, err)
			}
			t.Skipf("%s not installed: skipping the symbol checks", lib)
		}
		for _, b := range bs {
			if _, err := sym(h, b.names...); err != nil {
				t.Errorf("%s: %v", lib, err)
			}
			ft := reflect.TypeOf(b.fptr).Elem()
			params, ok := cPrototype(src, b.names[0])
			if !ok {
				params, ok = cPrototype(src, strings.TrimSuffix(b.names[0], "_v2"))
			}
			if !ok {
				t.Errorf("%s: no declaration in the headers", b.names[0])
				continue
			}
			if len(params) != ft.NumIn() {
				t.Errorf("%s: %d parameters in Go, %d in C: %v", b.names[0], ft.NumIn(), len(params), params)
				continue
			}
			for i, p := range params {
				if cWidth(p) != goWidth(ft.In(i)) {
					t.Errorf("%s: parameter %d is %q in C (%d bytes), %v in Go", b.names[0], i, p, cWidth(p), ft.In(i))
				}
			}
			checked++
		}
		for name, r := range raw {
			if r.lib != lib {
				continue
			}
			if _, err := sym(h, name); err != nil {
				t.Errorf("%s: %v", lib, err)
			}
			if params, ok := cPrototype(src, name); !ok || len(params) != r.n {
				t.Errorf("%s: %d parameters passed, the headers declare %v", name, r.n, params)
			}
			checked++
		}
	}
	t.Logf("%d bound functions resolve and match their prototypes", checked)
}
