package ocm

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"ocm/nn/safetensors"
	rt "ocm/runtime"
)

// Phases of a run, as checkpoints name them. A fit checkpoint's heads are the
// optimisations fit:<teacher>:<head> (teacher learned or exact).
const (
	PhaseTrain = "train"
	PhaseFit   = "fit"
)

// Control steers a long run: checkpoints, resumption and early stops. A nil Control
// writes no checkpoints and never stops early.
type Control struct {
	Dir        string            // checkpoint folder; "" writes none
	Every      int               // steps between checkpoints (0: only when stopped)
	Keep       int               // checkpoints kept in Dir, newest first (0: all)
	Resume     *safetensors.File // checkpoint to continue from; nil starts afresh
	ResumePath string            // its path, for messages
	// Stop is asked after every step, from two goroutines at once while fitting;
	// true ends the phase after that step with a checkpoint and a *Stopped error.
	Stop func() bool

	written []string // checkpoints this Control wrote and has not pruned: the only ones it prunes
	// PriorSeconds is the wall time the processes before this one spent in the phase
	// resumed (the checkpoint's wall_seconds), so that records count every process.
	PriorSeconds float64
	phaseStart   time.Time
}

// Stopped is the error of a run that Control.Stop ended; Path is the checkpoint
// written ("" without a checkpoint folder).
type Stopped struct {
	Phase string
	Step  int
	Path  string
}

// Error says where the run stopped and which checkpoint holds it.
func (s *Stopped) Error() string {
	return fmt.Sprintf("ocm: %s stopped at step %d (checkpoint %q)", s.Phase, s.Step, s.Path)
}

// ResumeError is a checkpoint that this run cannot continue from: written for another
// model or other settings, or incomplete.
type ResumeError struct{ Err error }

// Error is the message of the wrapped error.
func (e *ResumeError) Error() string { return e.Err.Error() }

// Unwrap returns the reason.
func (e *ResumeError) Unwrap() error { return e.Err }

// OrNone returns c, or a Control that does nothing when c is nil.
func (c *Control) OrNone() *Control {
	if c == nil {
		return &Control{}
	}
	return c
}

// Phase is the phase of the checkpoint to resume from, "" when none.
func (c *Control) Phase() string {
	if c.Resume == nil {
		return ""
	}
	return c.Resume.Metadata["phase"]
}

// ShouldStop asks Stop, false without one.
func (c *Control) ShouldStop() bool { return c.Stop != nil && c.Stop() }

// Due says whether step, of a phase of steps, gets a periodic checkpoint.
func (c *Control) Due(step, steps int) bool {
	return c.Every > 0 && (step%c.Every == 0 || step == steps)
}

// Checkpoint saves when stopping or due (and a folder is set), and turns a stop into
// a *Stopped error.
func (c *Control) Checkpoint(phase string, step int, stop, due bool, save func() (string, error)) error {
	path := ""
	if c.Dir != "" && (stop || due) {
		var err error
		if path, err = save(); err != nil {
			return err
		}
		c.written = append(slices.DeleteFunc(c.written, func(p string) bool { return p == path }), path)
		if c.written, err = PruneCheckpoints(c.Dir, c.Keep, c.written); err != nil {
			return err
		}
	}
	if stop {
		return &Stopped{Phase: phase, Step: step, Path: path}
	}
	return nil
}

// RestoreOpt restores one optimisation and checks its step against the budget.
func (c *Control) RestoreOpt(dev rt.Device, o Optimisation, phase string, steps int) error {
	if err := o.RestoreFrom(dev, c.ResumePath, c.Resume, StatePrefix(phase)); err != nil {
		return &ResumeError{err}
	}
	if o.Counters.Step > steps {
		return &ResumeError{fmt.Errorf("ocm: %s: %s is at step %d, beyond its %d steps", c.ResumePath, phase, o.Counters.Step, steps)}
	}
	return nil
}

// StatePrefix is the metadata prefix of an optimisation's counters.
func StatePrefix(phase string) string { return "state." + phase + "." }

// RunTrainer advances tr to its last step under c. prog, when not nil, hears of every
// step; when a checkpoint is due or Stop says so, newFile(step) makes the checkpoint
// (the model's tensors and metadata), opt's state is added and it is written. It
// returns the seconds it ran and the steps it took (fewer than the budget when resumed).
func (c *Control) RunTrainer(tr *Trainer, opt Optimisation, newFile func(step int) *safetensors.File,
	prog func(done, total int, loss float64)) (seconds float64, steps int, err error) {
	save := func() (string, error) {
		f := newFile(tr.Step)
		opt.AddTo(f, StatePrefix(PhaseTrain))
		c.StampWall(f)
		return WriteCheckpoint(c.Dir, CheckpointName(PhaseTrain, tr.Step), f)
	}
	c.BeginPhase()
	start, from := time.Now(), tr.Step
	for tr.Step < tr.Cfg.Steps {
		loss, err := tr.TrainStep()
		if err != nil {
			return 0, 0, err
		}
		if prog != nil {
			prog(tr.Step, tr.Cfg.Steps, loss)
		}
		if err := c.Checkpoint(PhaseTrain, tr.Step, c.ShouldStop(), c.Due(tr.Step, tr.Cfg.Steps), save); err != nil {
			return 0, 0, err
		}
	}
	return max(time.Since(start).Seconds(), 1e-9), tr.Step - from, nil
}

// AdoptCheckpoints makes the checkpoints of phase family already in c.Dir this run's
// own, oldest first: a resumed run continues the one that wrote them, so pruning keeps
// the newest Keep of them all. prefix is "train" or "fit" (the phase of the
// checkpoint names, ckpt-<prefix>…).
func (c *Control) AdoptCheckpoints(prefix string) error {
	paths, err := filepath.Glob(filepath.Join(c.Dir, "ckpt-"+prefix+"*.safetensors"))
	if err != nil {
		return err
	}
	type aged struct {
		path string
		mod  time.Time
	}
	var found []aged
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			found = append(found, aged{p, st.ModTime()})
		}
	}
	slices.SortStableFunc(found, func(a, b aged) int { return a.mod.Compare(b.mod) })
	for _, a := range found {
		if !slices.Contains(c.written, a.path) {
			c.written = append(c.written, a.path)
		}
	}
	return nil
}

// BeginPhase starts the wall clock of a phase (training, fitting).
func (c *Control) BeginPhase() { c.phaseStart = time.Now() }

// WallSeconds is the phase's wall time over every process: PriorSeconds and the
// time since BeginPhase.
func (c *Control) WallSeconds() float64 {
	return c.PriorSeconds + max(time.Since(c.phaseStart).Seconds(), 1e-9)
}

// StampWall records the phase's wall time so far in checkpoint f.
func (c *Control) StampWall(f *safetensors.File) {
	f.Metadata["wall_seconds"] = strconv.FormatFloat(c.WallSeconds(), 'f', 3, 64)
}
