package main

import (
	"fmt"
	"io"
	"ocm/ocm"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// exit ends the process; tests replace it.
var exit = os.Exit

// resumeCommand is the command line that continues an interrupted run: the
// program as invoked and its arguments, with --resume added, quoted for a POSIX
// shell where needed.
func resumeCommand(args []string) string {
	prog := "ocm"
	if len(os.Args) > 0 && filepath.Base(os.Args[0]) == "ocm" {
		prog = os.Args[0]
	}
	words := []string{shellQuote(prog)}
	resume := false
	for _, a := range args {
		words = append(words, shellQuote(a))
		resume = resume || a == "--resume" || a == "-resume" || strings.HasPrefix(a, "--resume=") || strings.HasPrefix(a, "-resume=")
	}
	if !resume {
		words = append(words, "--resume")
	}
	return strings.Join(words, " ")
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newControl returns the checkpoint settings of --train/--fit in dir, with the latest
// checkpoint read when resuming.
func newControl(o *options, dir string, stderr io.Writer) (*ocm.Control, error) {
	ctl := &ocm.Control{Dir: dir, Every: o.checkpointEvery, Keep: o.checkpointKeep}
	if !o.resume {
		return ctl, nil
	}
	path, f, note, err := ocm.FindCheckpoint(dir)
	if err != nil {
		return nil, userErr("--resume: %s", oneLine(err))
	}
	if note != "" {
		fmt.Fprintf(stderr, "ocm: --resume: %s\n", note)
	}
	switch phase := f.Metadata["phase"]; {
	case phase == ocm.PhaseTrain && !o.train:
		return nil, userErr("--resume: %s is a checkpoint of --train; give --train (and the run's other flags)", path)
	case phase == ocm.PhaseFit && !o.fit:
		return nil, userErr("--resume: %s is a checkpoint of --fit; give --fit (and the run's other flags)", path)
	case phase != ocm.PhaseTrain && phase != ocm.PhaseFit:
		return nil, userErr("--resume: %s: unknown phase %q", path, phase)
	}
	ctl.Resume, ctl.ResumePath = f, path
	ctl.PriorSeconds, _ = strconv.ParseFloat(f.Metadata["wall_seconds"], 64)
	for _, phase := range []string{ocm.PhaseTrain, ocm.PhaseFit} { // the resumed run's own checkpoints
		if err := ctl.AdoptCheckpoints(phase); err != nil {
			return nil, err
		}
	}
	return ctl, nil
}
