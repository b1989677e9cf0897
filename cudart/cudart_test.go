package cudart

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"ocm/runtime"
)

// On a machine without CUDA, Open must fail fast with one line and not panic.
func TestOpenFailsFastWithoutCUDA(t *testing.T) {
	for _, o := range []Options{{}, {Path: t.TempDir()}, {Path: "/nonexistent/cuda"}} {
		t0 := time.Now()
		lib, err := Open(o)
		el := time.Since(t0)
		if err == nil {
			t.Skipf("CUDA is available here: %s", lib.Describe())
		}
		var le *LoadError
		if e, ok := err.(*LoadError); ok {
			le = e
		} else {
			t.Fatalf("Open(%+v): error %T %v, want *LoadError", o, err, err)
		}
		msg := le.Error()
		if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "cuda: ") || !strings.Contains(msg, "OCM_CUDA_PATH") {
			t.Errorf("Open(%+v): message %q: want one line starting with \"cuda: \" that names OCM_CUDA_PATH", o, msg)
		}
		if el > 2*time.Second {
			t.Errorf("Open(%+v) took %v, want fast failure", o, el)
		}
		t.Logf("Open(%+v) in %v: %s", o, el.Round(time.Microsecond), msg)
	}
}

func TestErrorNames(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{rtErr("cudaMalloc", 2), "cuda: cudaMalloc failed: cudaErrorMemoryAllocation (2)"},
		{drvErr("cuLaunchKernel", 700), "cuda: cuLaunchKernel failed: CUDA_ERROR_ILLEGAL_ADDRESS (700)"},
		{blasErr("cublasSgemmStridedBatched", 7), "cuda: cublasSgemmStridedBatched failed: CUBLAS_STATUS_INVALID_VALUE (7)"},
		{rtErr("cudaFoo", 12345), "cuda: cudaFoo failed: cudaError12345 (12345)"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if rtErr("x", 0) != nil || drvErr("x", 0) != nil || blasErr("x", 0) != nil {
		t.Error("status 0 must be nil")
	}
}

func TestSizeClass(t *testing.T) {
	prev := 0
	for b := 1; b < 1<<24; b += 1 + b/7 {
		c := sizeClass(b)
		if c < b || c < prev || c%256 != 0 {
			t.Fatalf("sizeClass(%d) = %d (previous %d)", b, c, prev)
		}
		if b > 4096 && float64(c) > 1.25*float64(b)+1 {
			t.Fatalf("sizeClass(%d) = %d wastes more than 25%%", b, c)
		}
		if sizeClass(c) != c {
			t.Fatalf("sizeClass(sizeClass(%d)) = %d != %d", b, sizeClass(c), c)
		}
		prev = c
	}
}

func TestAllocatorSteadyState(t *testing.T) {
	a := allocator{free: map[int][]uintptr{}}
	next := uintptr(1 << 20)
	malloc := func(size int) (uintptr, int32) { next += uintptr(size); return next, 0 }
	cfree := func(uintptr) {}
	sizes := []int{256, 4096, sizeClass(12345 * 4), sizeClass(1 << 20)}
	for cycle := range 1000 {
		var got []uintptr
		for _, s := range sizes {
			p, rc := a.get(s, malloc, cfree)
			if rc != 0 {
				t.Fatal(rc)
			}
			got = append(got, p)
		}
		for i, p := range got {
			a.put(p, sizes[i])
		}
		if cycle == 0 && a.stats.CudaMallocs != int64(len(sizes)) {
			t.Fatalf("first cycle: %d mallocs", a.stats.CudaMallocs)
		}
	}
	if a.stats.CudaMallocs != int64(len(sizes)) || a.stats.BytesInUse != 0 {
		t.Fatalf("stats after 1000 cycles: %+v", a.stats)
	}
	a.trim(cfree)
	if a.stats.BytesCached != 0 || a.stats.CudaFrees != int64(len(sizes)) {
		t.Fatalf("stats after trim: %+v", a.stats)
	}
}

// With a bound on the cache, blocks freed beyond it go back to CUDA at the next
// allocation instead of piling up until memory runs out.
func TestAllocatorCacheBound(t *testing.T) {
	a := allocator{free: map[int][]uintptr{}, maxCached: 3 * 4096}
	next := uintptr(1 << 20)
	freed := map[uintptr]bool{}
	malloc := func(size int) (uintptr, int32) { next += uintptr(size); return next, 0 }
	cfree := func(p uintptr) { freed[p] = true }
	var ps []uintptr
	for range 5 {
		p, _ := a.get(4096, malloc, cfree)
		ps = append(ps, p)
	}
	for _, p := range ps {
		a.put(p, 4096)
	}
	if a.stats.BytesCached != 3*4096 || len(a.surplus) != 2 || len(freed) != 0 {
		t.Fatalf("after 5 puts: %d bytes cached, %d surplus, %d freed; want 3 blocks cached, 2 queued", a.stats.BytesCached, len(a.surplus), len(freed))
	}
	p, _ := a.get(4096, malloc, cfree)
	if len(freed) != 2 || a.stats.CudaFrees != 2 || freed[p] || a.stats.CudaMallocs != 5 {
		t.Fatalf("next get: %d freed (%d counted), reused %v, %d mallocs; want the 2 queued freed and a cached block reused",
			len(freed), a.stats.CudaFrees, !freed[p], a.stats.CudaMallocs)
	}
}

func TestBroadcastArgs(t *testing.T) {
	l := &runtime.Broadcast{Shape: []int{2, 3, 4}, XStrides: []int{12, 4, 1}, YStrides: []int{0, 1, 0}}
	got, ok := broadcastArgs(l, l.YStrides)
	want := []uint64{1, 1, 1, 2, 3, 4, 0, 0, 0, 12, 4, 1, 0, 0, 0, 0, 1, 0}
	if !ok || len(got) != 18 {
		t.Fatalf("got %v %v", got, ok)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// Contiguous inputs collapse to one axis.
	l = &runtime.Broadcast{Shape: []int{2, 3, 4}, XStrides: []int{12, 4, 1}, YStrides: []int{12, 4, 1}}
	got, _ = broadcastArgs(l, l.YStrides)
	if got[5] != 24 || got[11] != 1 || got[17] != 1 || got[4] != 1 {
		t.Fatalf("collapse: %v", got)
	}
	// Seven alternating axes do not fit.
	l = &runtime.Broadcast{Shape: []int{2, 2, 2, 2, 2, 2, 2}, XStrides: []int{64, 0, 16, 0, 4, 0, 1}, YStrides: []int{0, 32, 0, 8, 0, 2, 0}}
	if _, ok := broadcastArgs(l, l.YStrides); ok {
		t.Fatal("rank 7 accepted")
	}
}

// The embedded PTX must be ISA 7.0 / sm_70 and have an entry for every runtime op.
func TestKernelsPTX(t *testing.T) {
	entries := map[string]bool{}
	for _, m := range ptxModules {
		if !strings.Contains(m.src, "\n.version 7.0\n.target sm_70\n.address_size 64\n") {
			t.Fatalf("%s.ptx must say .version 7.0, .target sm_70, .address_size 64", m.name)
		}
		if strings.Count(m.src, "{") != strings.Count(m.src, "}") {
			t.Errorf("%s.ptx: unbalanced braces", m.name)
		}
		for _, e := range regexp.MustCompile(`\.visible \.entry (\w+)\(`).FindAllStringSubmatch(m.src, -1) {
			entries[e[1]] = true
		}
	}
	for op := runtime.UnaryOp(0); op.String() != "unary?"; op++ {
		if !entries["unary_"+op.String()] {
			t.Errorf("no PTX entry unary_%s (it would run on the host fallback)", op)
		}
	}
	for op := runtime.BinaryOp(0); op.String() != "binary?"; op++ {
		if !entries["binary_"+op.String()] {
			t.Errorf("no PTX entry binary_%s (it would run on the host fallback)", op)
		}
	}
	for _, e := range []string{"binary_copy", "random_uniform", "random_rademacher", "random_normal", "reduce_sum", "reduce_max",
		"softmax", "softmax_backward", "groupnorm", "groupnorm_backward", "groupnorm_param_grads_part", "groupnorm_param_grads_final", "groupnorm_tangent"} {
		if !entries[e] {
			t.Errorf("no PTX entry %s", e)
		}
	}
}

// The embedded .ptx files are what ptx/gen.go writes (regenerate: cudart/ptx/regen.sh).
func TestPTXCurrent(t *testing.T) {
	goTool := needTool(t, "go", "the check that the embedded PTX is current")
	dir := t.TempDir()
	if out, err := exec.Command(goTool, "run", "ptx/gen.go", dir).CombinedOutput(); err != nil {
		t.Fatalf("go run ptx/gen.go: %v\n%s", err, out)
	}
	for _, m := range ptxModules {
		b, err := os.ReadFile(dir + "/" + m.name + ".ptx")
		if err != nil || string(b) != m.src {
			t.Errorf("ptx/%s.ptx is stale: run cudart/ptx/regen.sh (%v)", m.name, err)
		}
	}
}

// A library that is not CUDA (libc posing as libcuda.so.1) gives a one-line error.
func TestOpenRejectsNonCUDALibrary(t *testing.T) {
	libc := ""
	for _, p := range []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/lib64/libc.so.6", "/usr/lib64/libc.so.6"} {
		if _, err := os.Stat(p); err == nil {
			libc = p
			break
		}
	}
	if libc == "" {
		t.Skip("no libc.so.6 found")
	}
	dir := t.TempDir()
	if err := os.Symlink(libc, dir+"/libcuda.so.1"); err != nil {
		t.Skip(err)
	}
	lib, err := Open(Options{Path: dir})
	if err == nil {
		t.Skipf("CUDA is available here: %s", lib.Describe())
	}
	msg := err.Error()
	if _, ok := err.(*LoadError); !ok || strings.ContainsAny(msg, "\n") || !strings.Contains(msg, "cuInit") {
		t.Fatalf("got %T %q", err, msg)
	}
	t.Log(msg)
}
