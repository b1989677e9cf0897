package main

import (
	"errors"
	"strings"
	"testing"

	"ocm/cudart"
	rt "ocm/runtime"
)

// failingGemm is the CPU device with a GEMM that fails as a CUDA call does: by
// panicking with a *cudart.Error.
type failingGemm struct{ rt.Device }

func (failingGemm) Gemm(c, a, b rt.Buffer, g *rt.GemmArgs) {
	panic(&cudart.Error{Call: "cublasSgemm_v2", Code: 13, Name: "CUBLAS_STATUS_EXECUTION_FAILED"})
}

// TestSelfTestedTurnsCUDAPanicsIntoErrors: a device whose self-test hits a CUDA
// error is refused with an error naming the call, never a panic, so --device auto
// falls back to the CPU (the self-check once ran outside the recover and exited 1).
func TestSelfTestedTurnsCUDAPanicsIntoErrors(t *testing.T) {
	cpuDev := rt.NewCPU(rt.CPUOptions{Threads: 1})
	dev, err := selfTested(func() (rt.Device, error) { return failingGemm{cpuDev}, nil })
	if err == nil || dev != nil {
		t.Fatalf("selfTested accepted a device whose GEMM fails: %v", err)
	}
	if !strings.Contains(err.Error(), "CUBLAS_STATUS_EXECUTION_FAILED") {
		t.Errorf("error %q does not name the failed call", err)
	}
	if _, err := selfTested(func() (rt.Device, error) { panic(&cudart.Error{Call: "cuCtxCreate", Code: 2}) }); err == nil {
		t.Error("a panic while making the device was not an error")
	}
	want := errors.New("no driver")
	if _, err := selfTested(func() (rt.Device, error) { return nil, want }); !errors.Is(err, want) {
		t.Errorf("a failure to make the device came back as %v", err)
	}
	if dev, err := selfTested(func() (rt.Device, error) { return cpuDev, nil }); err != nil || dev != cpuDev {
		t.Errorf("a good device was refused: %v", err)
	}
}
