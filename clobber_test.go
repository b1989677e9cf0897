//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrainNeverReplacesABundleUnasked: --train over an existing --weights is refused
// and leaves the file as it was; --overwrite replaces it; --fit of a bundle writes
// NAME-fit.safetensors and leaves its input alone.
func TestTrainNeverReplacesABundleUnasked(t *testing.T) {
	dir := t.TempDir()
	bundle := smallBundle(t, dir)
	before, _ := os.ReadFile(bundle)
	train := []string{"--train", "--weights", bundle, "--train-steps", "2", "--batch", "8", "--num-train-timesteps", "100",
		"--out", dir, "--quiet"}
	var stdout, stderr bytes.Buffer
	if code := run(train, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--overwrite") {
		t.Fatalf("exit %d, %q; want 2 and advice naming --overwrite", code, stderr.String())
	}
	if after, _ := os.ReadFile(bundle); !bytes.Equal(before, after) {
		t.Fatal("the refused run changed the bundle")
	}
	stderr.Reset()
	fit := []string{"--fit", "--weights", bundle, "--fit-steps", "2", "--batch", "8", "--out", dir, "--quiet"}
	if code := run(fit, &stdout, &stderr); code != 0 {
		t.Fatalf("fit: exit %d: %s", code, stderr.String())
	}
	if after, _ := os.ReadFile(bundle); !bytes.Equal(before, after) {
		t.Error("--fit rewrote its input bundle")
	}
	if _, err := os.Stat(filepath.Join(dir, "small-fit.safetensors")); err != nil {
		t.Errorf("--fit wrote no new bundle: %v", err)
	}
	if code := run(append(train, "--overwrite"), &stdout, &stderr); code != 0 {
		t.Fatalf("--overwrite: exit %d: %s", code, stderr.String())
	}
	if after, _ := os.ReadFile(bundle); bytes.Equal(before, after) {
		t.Error("--overwrite did not replace the bundle")
	}
}

// TestTwoRunsOneFolder runs two real processes in one --out: a second run of the same
// bundle is refused while the first holds its checkpoint folder; a run writing another
// bundle gets a folder of its own; neither touches the other's checkpoints, and the
// first one, interrupted, resumes.
func TestTwoRunsOneFolder(t *testing.T) {
	out := t.TempDir()
	long := []string{"--train", "--train-steps", "1000000", "--batch", "4", "--num-train-timesteps", "100",
		"--checkpoint-every", "1", "--threads", "1", "--out", out}
	a := helperCmd("run", "OCM_TEST_ARGS="+strings.Join(long, "\x1f"))
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	aDir := filepath.Join(out, "checkpoints", "ocm-toy")
	waitFor(t, filepath.Join(aDir, "latest"))
	code, stderr := runHelper(t, long)
	if code != 2 || !strings.Contains(stderr, "in use by another ocm run") {
		t.Errorf("second run of the same bundle: exit %d, %q; want 2 and 'in use'", code, stderr)
	}
	other := []string{"--train", "--train-steps", "3", "--batch", "4", "--num-train-timesteps", "100", "--seed", "7",
		"--checkpoint-every", "1", "--threads", "1", "--out", out, "--save", filepath.Join(out, "b.safetensors")}
	if code, stderr := runHelper(t, other); code != 0 {
		t.Fatalf("run with its own bundle: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", "b", "latest")); err != nil {
		t.Errorf("the second run did not checkpoint in its own folder: %v", err)
	}
	a.Process.Signal(os.Interrupt)
	a.Wait()
	if a.ProcessState.ExitCode() != 130 {
		t.Fatalf("first run: exit %d, want 130", a.ProcessState.ExitCode())
	}
	if _, err := os.Stat(filepath.Join(aDir, "latest")); err != nil {
		t.Fatalf("the first run's checkpoints are gone: %v", err)
	}
	resume := append(long, "--resume")
	resume[2] = "40" // --train-steps: finish soon; a changed budget may be refused instead
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "OCM_TEST_HELPER=run", "OCM_TEST_ARGS="+strings.Join(resume, "\x1f"))
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case <-done:
		if c := cmd.ProcessState.ExitCode(); c != 0 && c != 2 {
			t.Errorf("resume of the first run: exit %d", c)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("resume did not finish")
	}
}
