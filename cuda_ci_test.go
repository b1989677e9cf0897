package main

// CI checks of the GPU path without a GPU, on the built binary: with the real
// libcuda.so.1 installed (Debian's libcuda1) and no GPU, --doctor names the cuInit
// failure and --device auto runs on the CPU saying why; with stub CUDA libraries
// (cudart/testdata/stubcuda.c, built with gcc) whose kernels compute nothing, --device
// auto's self-check catches the wrong numbers and falls back to the CPU. Each skips
// with one line when its tool is missing, except under CI=true.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"ocm/cudart"
)

var (
	ciBinOnce sync.Once
	ciBin     string
	ciBinDir  string // removed by TestCIZRemoveBinary, the last test of this file
	ciBinErr  error
)

// ciSkip skips with msg, or fails under CI=true where the check must run.
func ciSkip(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: CI must run this check", msg)
	}
	t.Skip(msg)
}

// ocmBinary builds the GPU-capable binary (CGO_ENABLED=0) once into a temporary folder.
func ocmBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		ciSkip(t, "go not found: skipping the checks of the built binary")
	}
	ciBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocm-ci")
		if err != nil {
			ciBinErr = err
			return
		}
		ciBinDir = dir
		ciBin = filepath.Join(dir, "ocm")
		cmd := exec.Command("go", "build", "-o", ciBin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			ciBinErr = &buildError{string(out), err}
		}
	})
	if ciBinErr != nil {
		t.Fatalf("go build: %v", ciBinErr)
	}
	return ciBin
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// runBinary runs the binary with extra environment and returns its exit code and output.
func runBinary(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return 0, string(out)
}

// sampleArgs is the smallest real job: 8 samples of the embedded toy model.
func sampleArgs(out string) []string {
	return []string{"--sample", "--model", "mog9", "--steps", "2", "--num-samples", "8", "--out", out, "--device", "auto"}
}

func TestCIRealLibcudaWithoutGPU(t *testing.T) {
	_, err := cudart.Open(cudart.Options{})
	switch {
	case err == nil:
		t.Skip("a CUDA GPU is usable here: the no-GPU checks do not apply")
	case !strings.Contains(err.Error(), "cuInit failed"):
		ciSkip(t, "the real libcuda.so.1 is not installed ("+err.Error()+"): skipping the no-GPU checks of the binary")
	}
	bin := ocmBinary(t)
	env := []string{"OCM_CUDA_PATH="}
	rc, out := runBinary(t, bin, env, "--doctor")
	if rc != 0 || !strings.Contains(out, "cuInit failed: CUDA_ERROR_") || !strings.Contains(out, "OCM_CUDA_PATH") {
		t.Errorf("ocm --doctor: exit %d, want 0 and the cuInit failure with its status and what to do:\n%s", rc, out)
	}
	dir := t.TempDir()
	rc, out = runBinary(t, bin, env, sampleArgs(dir)...)
	if rc != 0 || !strings.Contains(out, "device cpu") || !strings.Contains(out, "no GPU (CUDA_ERROR_NO_DEVICE") {
		t.Errorf("ocm --device auto: exit %d, want 0, the CPU, and why not CUDA:\n%s", rc, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "samples.csv")); err != nil {
		t.Errorf("--device auto wrote no samples: %v", err)
	}
}

// stubCUDA builds the stub libraries into a folder usable as OCM_CUDA_PATH.
func stubCUDA(t *testing.T) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		ciSkip(t, "gcc not found: skipping the --device auto checks with stub CUDA libraries")
	}
	dir := t.TempDir()
	so := filepath.Join(dir, "libocmstub.so")
	if out, err := exec.Command(gcc, "-shared", "-fPIC", "-O1", "-Wl,-soname,libocmstub.so", "-o", so,
		"cudart/testdata/stubcuda.c", "-lpthread").CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	for _, n := range []string{"libcuda.so.1", "libcudart.so.12", "libcublas.so.12"} {
		if err := os.Symlink(so, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// A CUDA device that computes wrong numbers fails --device auto's self-check, and
// the job runs on the CPU saying so; --device cuda refuses it.
func TestCIAutoFallsBackOnSelfCheckMismatch(t *testing.T) {
	stubs := stubCUDA(t)
	bin := ocmBinary(t)
	env := []string{"OCM_CUDA_PATH=" + stubs}
	dir := t.TempDir()
	rc, out := runBinary(t, bin, env, sampleArgs(dir)...)
	if rc != 0 || !strings.Contains(out, "device cpu") || !strings.Contains(out, "no GPU (failed its self-test") {
		t.Errorf("--device auto on a wrong GPU: exit %d, want 0 on the CPU naming the failed self-check:\n%s", rc, out)
	}
	rc, out = runBinary(t, bin, env, append(sampleArgs(t.TempDir()), "--device", "cuda")...)
	if rc == 0 {
		t.Errorf("--device cuda on a wrong GPU: exit 0, want a refusal:\n%s", out)
	}
}

// Issue 14, bug 1: a CUDA error inside --device auto's self-check (here a failing
// cuLaunchKernel) must fall back to the CPU as a wrong result does, not exit 1.
func TestCIAutoFallsBackOnCUDAErrorInSelfCheck(t *testing.T) {
	stubs := stubCUDA(t)
	bin := ocmBinary(t)
	env := []string{"OCM_CUDA_PATH=" + stubs, "OCM_STUB_FAIL=cuLaunchKernel:719"}
	rc, out := runBinary(t, bin, env, sampleArgs(t.TempDir())...)
	if rc != 0 || !strings.Contains(out, "device cpu") || !strings.Contains(out, "CUDA_ERROR_LAUNCH_FAILED") {
		t.Errorf("--device auto with a failing kernel launch: exit %d, want 0 on the CPU naming the CUDA error:\n%s", rc, out)
	}
}

// TestCIZRemoveBinary removes the binary the tests above built (tests run in source
// order, and this one sorts last in the file).
func TestCIZRemoveBinary(t *testing.T) {
	if ciBinDir != "" {
		os.RemoveAll(ciBinDir)
	}
}
