//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ocm/ocm"
	"ocm/ocm/toy"
	rt "ocm/runtime"
	"ocm/sampler"
)

// The helper process: a re-run of this test binary that does one job, chosen by
// OCM_TEST_HELPER, and exits.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("OCM_TEST_HELPER") {
	case "":
		t.Skip("helper process only")
	case "ckpt": // train a tiny model forever, checkpointing every step
		dir := os.Getenv("OCM_TEST_DIR")
		ctl := &ocm.Control{Dir: dir, Every: 1, Keep: 2}
		if path, f, err := ocm.ReadLatest(dir); err == nil {
			ctl.Resume, ctl.ResumePath = f, path
		}
		st := helperSettings()
		st.TrainSteps = 1 << 30
		err := toy.TrainWith(helperDev, helperModel(), st, nil, ctl)
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	case "run":
		signalAtFromEnv()
		os.Exit(run(strings.Split(os.Getenv("OCM_TEST_ARGS"), "\x1f"), os.Stdout, os.Stderr))
	}
}

var helperDev = rt.NewCPU(rt.CPUOptions{Threads: 1})

func helperModel() *toy.Model {
	s, _ := sampler.NewSchedule(sampler.Linear, 100)
	return toy.NewModel(helperDev, "mog9", ocm.Mog9(), s, 16, []int{8}, 1)
}

func helperSettings() toy.Settings {
	return toy.Settings{TrainSteps: 1, FitSteps: 1, Batch: 8, LR: 1e-3, EMADecay: 0.99, MsEpsPerStep: 4, Seed: 3}
}

func helperCmd(job string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append(env, "OCM_TEST_HELPER="+job)...)
	return cmd
}

// TestKill9LeavesALoadableCheckpoint kills a process that writes a checkpoint every
// step (keeping the newest 2) with SIGKILL 20 times, at random moments 5 to 200 ms after it starts (each
// run resumes the last). After every kill, latest must name a checkpoint that loads
// and restores completely: writes are atomic.
func TestKill9LeavesALoadableCheckpoint(t *testing.T) {
	const kills = 20
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	last, torn := -1, 0
	for i := range kills {
		cmd := helperCmd("ckpt", "OCM_TEST_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitFor(t, filepath.Join(dir, ocm.LatestName))
		}
		time.Sleep(time.Duration(5+rng.IntN(196)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("kill %d: helper ended with %v", i, err)
		}
		if tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*")); len(tmps) > 0 {
			torn++ // killed mid-write; the next run removes the temporary file
		}
		step := checkLatest(t, dir)
		if step < last {
			t.Fatalf("kill %d: latest went back from step %d to %d", i, last, step)
		}
		last = step
	}
	if ckpts, _ := filepath.Glob(filepath.Join(dir, "ckpt-*")); len(ckpts) > 3 {
		t.Errorf("%d checkpoints kept, want 2 (3 when killed between a write and its pruning)", len(ckpts))
	}
	t.Logf("%d kills (%d mid-write, leaving a temporary file); the last checkpoint is of step %d", kills, torn, last)
}

// waitFor waits up to 20 s for path to exist.
func waitFor(t *testing.T, path string) {
	t.Helper()
	for range 2000 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s did not appear", path)
}

// checkLatest restores the latest checkpoint of dir into a fresh model and returns
// its step.
func checkLatest(t *testing.T, dir string) int {
	t.Helper()
	path, f, err := ocm.ReadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	step, err := strconv.Atoi(f.Metadata["step"])
	if err != nil {
		t.Fatalf("%s: step %q", path, f.Metadata["step"])
	}
	st := helperSettings()
	st.TrainSteps = step
	if err := toy.TrainWith(helperDev, helperModel(), st, nil, &ocm.Control{Resume: f, ResumePath: path}); err != nil {
		t.Fatal(err)
	}
	return step
}

// TestInterruptSavesAndResumes sends SIGINT to `ocm --train` during a long run: it
// must exit with 130 after writing a checkpoint and printing the command that resumes,
// and that command (with fewer steps) must finish the run.
func TestInterruptSavesAndResumes(t *testing.T) {
	out := t.TempDir()
	args := []string{"--train", "--train-steps", "1000000", "--batch", "4", "--num-train-timesteps", "100",
		"--checkpoint-every", "0", "--threads", "1", "--out", out}
	cmd := helperCmd("run", "OCM_TEST_ARGS="+strings.Join(args, "\x1f"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() && !strings.Contains(sc.Text(), "device") {
	}
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || len(rest) != 1 {
		t.Fatalf("exit %v, stderr %q; want 130 and one line", err, rest)
	}
	head, command, ok := strings.Cut(rest[0], "; resume with: ")
	step, err := strconv.Atoi(strings.TrimPrefix(head, "ocm: interrupted at step "))
	words := strings.Fields(command)
	if !ok || err != nil || step < 1 || len(words) < 2 || !slices.Equal(words[1:], append(args, "--resume")) {
		t.Fatalf("resume line %q", rest[0])
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", "ocm-toy", ocm.CheckpointName("train", step))); err != nil {
		t.Fatal(err)
	}
	resume := slices.Clone(words[1:])
	resume[slices.Index(resume, "1000000")] = strconv.Itoa(step + 5)
	var so, se bytes.Buffer
	if code := run(append(resume, "--quiet"), &so, &se); code != 0 || !strings.Contains(so.String(), "wrote") {
		t.Fatalf("resume: exit %d, %s%s", code, so.String(), se.String())
	}
	t.Logf("interrupted at step %d, resumed to %d", step, step+5)
}

// TestResumeCommand quotes what a shell would split and adds --resume once.
func TestResumeCommand(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--train", "--out", "a b"}, "ocm --train --out 'a b' --resume"},
		{[]string{"--fit", "--resume"}, "ocm --fit --resume"},
		{[]string{"--data", "it's.json"}, `ocm --data 'it'\''s.json' --resume`},
	} {
		if got := resumeCommand(c.args); got != c.want {
			t.Errorf("%q: got %s, want %s", c.args, got, c.want)
		}
	}
}
