package runguard

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newTestGuard returns a guard whose exits are recorded instead of ending the test.
func newTestGuard(t *testing.T) (*Guard, *[]int, *bytes.Buffer) {
	var codes []int
	var stderr bytes.Buffer
	g := New(&stderr, func(code int) { codes = append(codes, code) })
	t.Cleanup(g.Release)
	return g, &codes, &stderr
}

// TestSignalInACheckpointingLoopAsksItToStop: the first signal sets the stop request
// and exits nothing; a repeat within the window counts once; a later one exits.
func TestSignalInACheckpointingLoopAsksItToStop(t *testing.T) {
	g, codes, _ := newTestGuard(t)
	end := g.Checkpointing()
	t0 := time.Now()
	g.signal(t0)
	if !g.StopRequested() || len(*codes) != 0 {
		t.Fatalf("first signal: stop %v, exits %v; want a stop request and no exit", g.StopRequested(), *codes)
	}
	g.signal(t0.Add(signalWindow / 2))
	if len(*codes) != 0 {
		t.Fatalf("a repeat within %v exited: %v", signalWindow, *codes)
	}
	g.signal(t0.Add(2 * signalWindow))
	if len(*codes) != 1 || (*codes)[0] != ExitInterrupted {
		t.Fatalf("second signal: exits %v, want [%d]", *codes, ExitInterrupted)
	}
	end()
}

// TestSignalOutsideALoopUndoesAndExits: with no checkpointing loop, the first signal
// runs every registered undo (not the unregistered ones) and exits with 130.
func TestSignalOutsideALoopUndoesAndExits(t *testing.T) {
	g, codes, stderr := newTestGuard(t)
	var undone []string
	g.OnInterrupt(func() { undone = append(undone, "a") })
	doneB := g.OnInterrupt(func() { undone = append(undone, "b") })
	doneB()
	g.signal(time.Now())
	if len(undone) != 1 || undone[0] != "a" {
		t.Errorf("undone %v, want [a]", undone)
	}
	if len(*codes) != 1 || (*codes)[0] != ExitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
		t.Errorf("exits %v, stderr %q", *codes, stderr.String())
	}
	if g.StopRequested() {
		t.Error("a stop was requested with no loop running")
	}
}

// TestRealSignalReachesTheGuard: SIGTERM sent to the process is seen.
func TestRealSignalReachesTheGuard(t *testing.T) {
	g, _, _ := newTestGuard(t)
	end := g.Checkpointing()
	defer end()
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	for i := 0; !g.StopRequested(); i++ {
		if i > 500 {
			t.Fatal("SIGTERM not seen")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStageCommitsAllOrNothing: committed files land in the output folder and the
// staging folder goes; an abandoned or interrupted stage leaves nothing, not even an
// output folder it made.
func TestStageCommitsAllOrNothing(t *testing.T) {
	g, _, _ := newTestGuard(t)
	root := t.TempDir()
	out := filepath.Join(root, "out")
	st, err := NewStage(out, g)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.png", "a.json"} {
		if err := os.WriteFile(filepath.Join(st.Dir, n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	paths, err := st.Commit([]string{filepath.Join(st.Dir, "a.png")})
	if err != nil {
		t.Fatal(err)
	}
	if paths[0] != filepath.Join(out, "a.png") {
		t.Errorf("committed path %s", paths[0])
	}
	if names := list(t, out); strings.Join(names, ",") != "a.json,a.png" {
		t.Errorf("out holds %v", names)
	}
	other := filepath.Join(root, "other")
	st2, err := NewStage(other, g)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(st2.Dir, "half.png"), nil, 0o644)
	st2.Abandon()
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("abandoned stage left %s (%v)", other, err)
	}
	st3, _ := NewStage(out, g)
	os.WriteFile(filepath.Join(st3.Dir, "b.png"), nil, 0o644)
	g.signal(time.Now()) // no loop: undo and exit
	if names := list(t, out); strings.Join(names, ",") != "a.json,a.png" {
		t.Errorf("after an interrupt out holds %v", names)
	}
}

func list(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestLockRefusesASecondHolder: a second lock on the folder fails naming the holder;
// after release it succeeds.
func TestLockRefusesASecondHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ckpt")
	release, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second lock: %v, want in use", err)
	}
	release()
	again, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}
