package runtime_test

import (
	"os"
	"testing"

	"ocm/cudart"
	rt "ocm/runtime"
)

// TestSelfTestCUDA runs the self-test on the CUDA device: it must pass there, as on the
// CPU. It runs only with OCM_CUDA_TEST=1 (cudart's GPU tests' switch; OCM_CUDA_PATH is
// passed to cudart.Open), where a device that does not load is an error.
func TestSelfTestCUDA(t *testing.T) {
	if os.Getenv("OCM_CUDA_TEST") != "1" {
		t.Skip("set OCM_CUDA_TEST=1 to run the self-test on the GPU")
	}
	lib, err := cudart.Open(cudart.Options{Path: os.Getenv("OCM_CUDA_PATH")})
	if err != nil {
		t.Fatalf("OCM_CUDA_TEST=1 but CUDA failed: %v", err)
	}
	dev, err := cudart.NewDevice(lib)
	if err != nil {
		t.Fatalf("OCM_CUDA_TEST=1 but the device failed: %v", err)
	}
	r, err := rt.SelfTest(dev, rt.SelfTestOptions{Speed: true})
	t.Logf("%s: %s", r.Device, r)
	for _, c := range r.Checks {
		t.Logf("%s: %v", c.Name, c.Elapsed)
	}
	if err != nil {
		t.Fatal(err)
	}
	if g := r.Checks[1]; g.Name != "gemm" || !(g.GFLOPS > 100) {
		t.Errorf("GEMM on the GPU: %g GFLOP/s, want well above a CPU's", g.GFLOPS)
	}
}
