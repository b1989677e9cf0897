//go:build unix

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ocm/nn/safetensors"
)

// signalAtFromEnv installs, in a helper process, the progress hook that sends this
// process OCM_TEST_SIGNAL (INT or TERM) OCM_TEST_SIGNAL_COUNT times, back to back,
// when the task named OCM_TEST_SIGNAL_AT first reports progress.
func signalAtFromEnv() {
	at := os.Getenv("OCM_TEST_SIGNAL_AT")
	if at == "" {
		return
	}
	sig := syscall.SIGINT
	if os.Getenv("OCM_TEST_SIGNAL") == "TERM" {
		sig = syscall.SIGTERM
	}
	count, _ := strconv.Atoi(os.Getenv("OCM_TEST_SIGNAL_COUNT"))
	var once sync.Once
	progressHook = func(task string, done int) {
		if strings.HasPrefix(task, at) && done >= 1 {
			once.Do(func() {
				for range max(count, 1) {
					syscall.Kill(os.Getpid(), sig)
				}
				time.Sleep(300 * time.Millisecond) // let the handler act before the next step
			})
		}
	}
}

// toyRunArgs is a small --train --fit run in out.
func toyRunArgs(out string) []string {
	return []string{"--train", "--fit", "--data", "mog9", "--train-steps", "30", "--fit-steps", "8",
		"--batch", "16", "--num-train-timesteps", "100", "--checkpoint-every", "0", "--threads", "1", "--out", out}
}

// phaseArgs are the arguments of a run that reaches phase, writing to out; ref is a
// finished toy bundle.
func phaseArgs(phase, out, ref string) []string {
	switch phase {
	case "sample":
		return []string{"--sample", "--save-each", "--npz", "--num-samples", "4", "--steps", "3", "--threads", "1", "--out", out}
	case "covariance error":
		return []string{"--eval", "--weights", ref, "--eval-steps", "2", "--eval-samples", "10", "--eval-seeds", "1",
			"--threads", "1", "--out", out}
	}
	return toyRunArgs(out)
}

// runHelper runs ocm with args in a helper process with env, and returns its exit
// status and stderr.
func runHelper(t *testing.T, args []string, env ...string) (int, string) {
	t.Helper()
	cmd := helperCmd("run", append(env, "OCM_TEST_ARGS="+strings.Join(args, "\x1f"))...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// partialFiles lists what an interrupted run must never leave in dir: temporary
// files, staging folders and sample or report files.
func partialFiles(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		name := d.Name()
		if strings.Contains(name, ".tmp-") || strings.HasPrefix(name, ".ocm-partial") ||
			strings.HasPrefix(name, "samples") || strings.HasPrefix(name, "report") {
			bad = append(bad, p)
		}
		return nil
	})
	return bad
}

// sameTensors reports the first tensor of bundle a that differs from bundle b.
func sameTensors(t *testing.T, a, b string) error {
	t.Helper()
	fa, err := safetensors.ReadFile(a)
	if err != nil {
		return err
	}
	fb, err := safetensors.ReadFile(b)
	if err != nil {
		return err
	}
	if len(fa.Tensors) != len(fb.Tensors) {
		return fmt.Errorf("%d tensors vs %d", len(fa.Tensors), len(fb.Tensors))
	}
	for _, ta := range fa.Tensors {
		tb, ok := fb.Get(ta.Name)
		if !ok || !slices.Equal(ta.Data, tb.Data) {
			return fmt.Errorf("tensor %s differs", ta.Name)
		}
	}
	return nil
}

// TestSignalMatrix sends SIGINT and SIGTERM, once and twice back to back (as a
// process-group signal arrives), at a point inside every phase of
// `--train --fit`, `--eval` and `--sample --save-each --npz`: every run exits 130 and
// leaves no partial file; where there was state (training, fitting) the printed resume
// command finishes with weights bit-identical to an uninterrupted run.
func TestSignalMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 20 processes")
	}
	refOut := t.TempDir()
	if code, stderr := runHelper(t, toyRunArgs(refOut)); code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, stderr)
	}
	ref := filepath.Join(refOut, defaultBundleName)
	phases := []struct {
		task     string
		stateful bool
	}{{"train", true}, {"fit heads", true}, {"covariance error", false}, {"sample", false}}
	for _, ph := range phases {
		for _, sig := range []string{"INT", "TERM"} {
			for _, count := range []int{1, 2} {
				t.Run(fmt.Sprintf("%s/%s×%d", ph.task, sig, count), func(t *testing.T) {
					out := t.TempDir()
					code, stderr := runHelper(t, phaseArgs(ph.task, out, ref), "OCM_TEST_SIGNAL_AT="+ph.task, "OCM_TEST_SIGNAL="+sig,
						"OCM_TEST_SIGNAL_COUNT="+strconv.Itoa(count))
					if code != 130 {
						t.Fatalf("exit %d, want 130: %s", code, stderr)
					}
					if bad := partialFiles(t, out); len(bad) > 0 {
						t.Errorf("left partial files %v", bad)
					}
					if ph.stateful {
						checkResumeIsExact(t, stderr, ref, filepath.Join(out, defaultBundleName))
					}
				})
			}
		}
	}
}

// checkResumeIsExact runs the resume command an interrupted run printed and compares
// the bundle it writes with the uninterrupted run's.
func checkResumeIsExact(t *testing.T, stderr, ref, bundle string) {
	t.Helper()
	_, command, ok := strings.Cut(stderr, "; resume with: ")
	if !ok {
		t.Fatalf("no resume command in %q", stderr)
	}
	words := strings.Fields(strings.TrimSpace(command))
	if code, se := runHelper(t, words[1:]); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, se)
	}
	if err := sameTensors(t, ref, bundle); err != nil {
		t.Errorf("resumed run differs from the uninterrupted one: %v", err)
	}
}

// TestSignalWhileReadingInput: blocked opening a FIFO named as data (no writer), the
// process still exits 130 at the first SIGTERM, at once.
func TestSignalWhileReadingInput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "mix.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	out := filepath.Join(dir, "out")
	args := []string{"--train", "--data", fifo, "--train-steps", "5", "--out", out}
	cmd := helperCmd("run", "OCM_TEST_ARGS="+strings.Join(args, "\x1f"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || time.Since(start) > 3*time.Second {
		t.Fatalf("exit %d after %v, want 130 at once", code, time.Since(start))
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("left the output folder %s (%v)", out, err)
	}
}
