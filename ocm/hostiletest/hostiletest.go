// Package hostiletest runs hostile inputs in a child process and measures what
// they cost: a test lists its cases, and each runs in a fresh copy of the test
// binary (re-executed with an environment variable naming the case), so that its
// wall time and peak resident memory (the child's rusage) are its own, and a crash
// or an out-of-memory kill is seen as such instead of taking the test run down.
package hostiletest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Limits a hostile input must stay within: it must be refused in under MaxWall
// with a peak resident set under MaxRSS bytes.
const (
	MaxWall = 5 * time.Second
	MaxRSS  = 200 << 20
)

// Environment variables of the child: the case to run and the folder of its files.
const (
	envCase = "OCM_HOSTILE_CASE"
	envDir  = "OCM_HOSTILE_DIR"
)

// marker begins the line on which the child reports the case's error, hwmMarker the
// one with its peak resident set in bytes.
const (
	marker    = "HOSTILE-RESULT: "
	hwmMarker = "HOSTILE-PEAK-RSS: "
)

// peakRSS is this process's peak resident set (VmHWM) in bytes, -1 when unknown.
// The child's rusage is not enough on Linux: its ru_maxrss starts at the parent's
// resident set when it was forked (the child shares the parent's memory until it
// execs), whereas VmHWM belongs to the memory map the exec created.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// Case is one hostile input.
type Case struct {
	Name string
	// Want is a substring the error must contain.
	Want string
	// Run feeds the input (files in dir, made by the setup) to the code under test
	// and returns its error; it runs in the child only.
	Run func(dir string) error
}

// Run runs every case in its own child process after setup(dir) has made their
// files in a fresh folder, and fails t unless each case returns a one-line error
// containing its Want within MaxWall and MaxRSS. Call it from a top-level test,
// before anything else the test does: in the child it runs the one case named by
// the environment and exits.
func Run(t *testing.T, setup func(dir string), cases []Case) {
	if name := os.Getenv(envCase); name != "" {
		runChild(name, cases)
		return
	}
	dir := t.TempDir()
	setup(dir)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { runParent(t, dir, c) })
	}
}

// runChild runs the case called name, prints its result and exits.
func runChild(name string, cases []Case) {
	for _, c := range cases {
		if c.Name == name {
			err := c.Run(os.Getenv(envDir))
			msg := "<nil>"
			if err != nil {
				msg = strings.ReplaceAll(err.Error(), "\n", `\n`)
				if strings.Contains(err.Error(), "\n") {
					msg = "MULTILINE " + msg
				}
			}
			os.Stdout.WriteString("\n" + hwmMarker + strconv.FormatInt(peakRSS(), 10) + "\n" + marker + msg + "\n")
			os.Exit(0)
		}
	}
	os.Stdout.WriteString("\n" + marker + "NO SUCH CASE " + name + "\n")
	os.Exit(0)
}

// runParent runs case c in a child and checks its result, time and memory.
func runParent(t *testing.T, dir string, c Case) {
	wall, rss, res, err := measure(t, dir, c.Name)
	t.Logf("%s: %.2f s, peak RSS %.1f MB", c.Name, wall.Seconds(), float64(rss)/(1<<20))
	switch {
	case err != nil:
		t.Fatal(err)
	case res == "<nil>":
		t.Fatalf("accepted the hostile input; want an error containing %q", c.Want)
	case strings.HasPrefix(res, "MULTILINE "):
		t.Errorf("error is not one line: %s", res)
	case !strings.Contains(res, c.Want):
		t.Errorf("error %q does not mention %q", res, c.Want)
	}
	if wall > MaxWall {
		t.Errorf("took %v, over the %v limit", wall, MaxWall)
	}
	if rss > MaxRSS {
		t.Errorf("peak RSS %d MB, over the %d MB limit", rss>>20, MaxRSS>>20)
	}
}

// measure runs the case called name of the calling top-level test in a child and
// returns its wall time, peak resident set in bytes and reported result.
func measure(t *testing.T, dir, name string) (time.Duration, int64, string, error) {
	top, _, _ := strings.Cut(t.Name(), "/")
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(top)+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCase+"="+name, envDir+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	if _, v, ok := strings.Cut(out.String(), hwmMarker); ok {
		v, _, _ = strings.Cut(v, "\n")
		if hwm, err := strconv.ParseInt(v, 10, 64); err == nil && hwm > 0 {
			rss = min(rss, hwm) // rusage can only overstate it (see peakRSS)
		}
	}
	_, res, found := strings.Cut(out.String(), marker)
	res, _, _ = strings.Cut(res, "\n")
	if err != nil || !found {
		return wall, rss, "", fmt.Errorf("child failed (%v) without reporting a result:\n%s", err, tail(out.String()))
	}
	return wall, rss, res, nil
}

// tail is the end of a child's output.
func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
