package main

import "ocm/ocm/cli"

// progress is the run's progress line (cli.Progress: width-aware, rates from the
// second update on, training losses per value), under the names the modes call.
type progress struct{ *cli.Progress }

// progressHook, when set (by tests), hears of every update: a way to act at a known
// point inside a phase.
var progressHook func(task string, done int)

// update reports done of total units of task.
func (p *progress) update(task string, done, total int, loss float64) {
	if progressHook != nil {
		progressHook(task, done)
	}
	p.Update(task, done, total, loss)
}

// done ends the current bar with a summary line.
func (p *progress) done(msg string) { p.Done(msg) }

// clear removes an unfinished bar.
func (p *progress) clear() { p.Clear() }
