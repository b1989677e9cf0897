package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"
)

// progress prints a one-line progress bar with rate and time left to a terminal, and
// nothing when the output is not a terminal or with --quiet.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	on      bool
	task    string
	start   time.Time
	lastOut time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	on := !quiet
	if f, ok := w.(*os.File); ok {
		st, err := f.Stat()
		on = on && err == nil && st.Mode()&os.ModeCharDevice != 0
	} else {
		on = false
	}
	return &progress{w: w, on: on}
}

// progressHook, when set (by tests), hears of every update: a way to act at a known
// point inside a phase.
var progressHook func(task string, done int)

// update reports done of total units of task.
func (p *progress) update(task string, done, total int, loss float64) {
	if progressHook != nil {
		progressHook(task, done)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if task != p.task {
		p.task, p.start = task, now
	}
	if !p.on || (now.Sub(p.lastOut) < 100*time.Millisecond && done < total) {
		return
	}
	p.lastOut = now
	el := now.Sub(p.start).Seconds()
	rate := float64(done) / math.Max(el, 1e-9)
	left := float64(total-done) / math.Max(rate, 1e-9)
	const width = 24
	fill := width * done / max(total, 1)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < fill {
			bar[i] = '#'
		}
	}
	lossText := ""
	if !math.IsNaN(loss) {
		lossText = fmt.Sprintf(" loss %.4g", loss)
	}
	fmt.Fprintf(p.w, "\r%-34s [%s] %d/%d %.0f/s %s left%s   ", task, bar, done, total, rate,
		(time.Duration(left) * time.Second).Round(time.Second), lossText)
}

// done ends the current bar with a summary line (printed even when quiet bars are off,
// unless --quiet).
func (p *progress) done(msg string) {
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "ocm: %s\n", msg)
}

// clear removes an unfinished bar, so that a message can follow on a clean line.
func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on && p.task != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
