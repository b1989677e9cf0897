// Package runguard keeps a run's work safe: it catches signals in every phase
// (a loop that checkpoints stops after its step, anything else removes what it half
// wrote and exits), writes a set of outputs completely or not at all, and locks a
// checkpoint folder against a second run.
package runguard

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ExitInterrupted is the exit status of a run stopped by SIGINT or SIGTERM (128 + 2,
// as shells report Ctrl-C).
const ExitInterrupted = 130

// signalWindow is how long after a counted signal a repeat counts as the same one:
// a process-group signal (Ctrl-C in a shell, timeout -s INT) can arrive twice.
const signalWindow = 500 * time.Millisecond

// Guard catches SIGINT and SIGTERM for the whole run. Inside a loop that checkpoints
// (training, fitting) the first signal asks the loop to stop after its step, with a
// checkpoint; anywhere else (reading input, sampling, evaluating) it removes what the
// run has half written and exits at once with status 130. A second signal exits at
// once in every phase.
type Guard struct {
	mu       sync.Mutex
	stateful int         // loops that checkpoint, running now
	stop     atomic.Bool // the loop should stop at its next step
	last     time.Time   // when the last counted signal came
	undo     []undoEntry // newest last
	nextUndo int
	stderr   io.Writer
	exit     func(code int)
	ch       chan os.Signal
	done     chan struct{}
}

// New installs the handler; release restores the default handling.
func New(stderr io.Writer, exit func(code int)) *Guard {
	g := &Guard{stderr: stderr, exit: exit, ch: make(chan os.Signal, 4), done: make(chan struct{})}
	signal.Notify(g.ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case <-g.ch:
				g.signal(time.Now())
			case <-g.done:
				return
			}
		}
	}()
	return g
}

// Release stops watching signals.
func (g *Guard) Release() {
	signal.Stop(g.ch)
	close(g.done)
}

// signal handles one signal that came at now.
func (g *Guard) signal(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	first := g.last.IsZero()
	if !first && now.Sub(g.last) < signalWindow {
		return
	}
	g.last = now
	if first && g.stateful > 0 {
		g.stop.Store(true)
		return
	}
	for i := len(g.undo) - 1; i >= 0; i-- {
		g.undo[i].f()
	}
	if first {
		fmt.Fprintln(g.stderr, "ocm: interrupted; nothing of this phase was kept")
	}
	g.exit(ExitInterrupted)
}

// Checkpointing marks a loop that stops at a signal with a checkpoint; end marks its
// end.
func (g *Guard) Checkpointing() (end func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stateful++
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.stateful--
	}
}

// StopRequested says whether a signal asked the running loop to stop (Control.Stop).
func (g *Guard) StopRequested() bool { return g.stop.Load() }

// undoEntry is a registered undo.
type undoEntry struct {
	id int
	f  func()
}

// OnInterrupt registers f, which removes a partial output, to run if a signal ends
// the run (the newest first); done unregisters it once the output is complete.
func (g *Guard) OnInterrupt(f func()) (done func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	id := g.nextUndo
	g.nextUndo++
	g.undo = append(g.undo, undoEntry{id, f})
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.undo = slices.DeleteFunc(g.undo, func(e undoEntry) bool { return e.id == id })
	}
}

// RemoveIfMade has g remove the folder dir, if it does not exist now and is empty
// when a signal ends the run.
func (g *Guard) RemoveIfMade(dir string) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		g.OnInterrupt(func() { os.Remove(dir) })
	}
}

// Atomically runs f (putting a complete set of outputs in place) with no signal
// handled in the middle.
func (g *Guard) Atomically(f func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return f()
}
