package ocm

import (
	"fmt"
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
		if err := PruneCheckpoints(c.Dir, c.Keep); err != nil {
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
		return WriteCheckpoint(c.Dir, CheckpointName(PhaseTrain, tr.Step), f)
	}
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
