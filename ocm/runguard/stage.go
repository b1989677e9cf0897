package runguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stage is a folder where a set of outputs is written before it is put in place
// together: a run stopped half way leaves none of them, nor an output folder it made.
type Stage struct {
	Dir     string // where the outputs are written: a hidden folder inside Out
	Out     string // where they go
	made    bool   // Out did not exist before
	guard   *Guard
	undoReg func()
}

// NewStage makes the staging folder inside out (and out itself when missing) and
// has g remove both if a signal ends the run first.
func NewStage(out string, g *Guard) (*Stage, error) {
	_, err := os.Stat(out)
	made := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("output folder %s: %w", out, err)
	}
	dir, err := os.MkdirTemp(out, ".ocm-partial-"+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("output folder %s: %w", out, err)
	}
	s := &Stage{Dir: dir, Out: out, made: made, guard: g}
	s.undoReg = g.OnInterrupt(s.discard)
	return s, nil
}

// discard removes the staging folder, and the output folder when the stage made it
// and it is empty.
func (s *Stage) discard() {
	os.RemoveAll(s.Dir)
	if s.made {
		os.Remove(s.Out) // only when empty
	}
}

// Abandon removes what was staged (after a failure).
func (s *Stage) Abandon() {
	s.undoReg()
	s.discard()
}

// Commit moves every staged file into the output folder, replacing files of the same
// names, with no signal handled in the middle, and removes the staging folder. It
// returns paths with the staging folder replaced by the output folder.
func (s *Stage) Commit(paths []string) ([]string, error) {
	entries, err := os.ReadDir(s.Dir)
	if err != nil {
		return nil, err
	}
	err = s.guard.Atomically(func() error {
		for _, e := range entries {
			if err := os.Rename(filepath.Join(s.Dir, e.Name()), filepath.Join(s.Out, e.Name())); err != nil {
				return err
			}
		}
		return nil
	})
	s.undoReg()
	os.RemoveAll(s.Dir)
	if err != nil {
		return nil, fmt.Errorf("output folder %s: %w", s.Out, err)
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = strings.Replace(p, s.Dir, s.Out, 1)
	}
	return out, nil
}

// FolderError is an output folder that cannot be made: the user's to fix.
type FolderError struct{ Err error }

// Error is the message of the wrapped error.
func (e *FolderError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *FolderError) Unwrap() error { return e.Err }

// WriteSet runs write, which writes a set of outputs to the folder it is given, in a
// stage inside out, and puts the set in place only when it is complete; it returns
// the paths write returned, in out. A folder that cannot be made is a *FolderError.
func WriteSet(out string, g *Guard, write func(dir string) ([]string, error)) ([]string, error) {
	st, err := NewStage(out, g)
	if err != nil {
		return nil, &FolderError{err}
	}
	paths, err := write(st.Dir)
	if err != nil {
		st.Abandon()
		return nil, err
	}
	return st.Commit(paths)
}
