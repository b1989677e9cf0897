package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
)

// exitInterrupted is the exit status of a run stopped by SIGINT or SIGTERM (128 + 2,
// as shells report Ctrl-C).
const exitInterrupted = 130

// exit ends the process; tests replace it.
var exit = os.Exit

// watchSignals catches SIGINT and SIGTERM while training or fitting. The first one
// makes stop report true (the loops then finish their step, write a checkpoint and
// return); a second one exits at once with status 130. release restores the default
// handling.
func watchSignals() (stop func() bool, release func()) {
	var stopped atomic.Bool
	ch := make(chan os.Signal, 2)
	done := make(chan struct{})
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		for {
			select {
			case <-ch:
				if stopped.Swap(true) {
					exit(exitInterrupted)
					return
				}
			case <-done:
				return
			}
		}
	}()
	return stopped.Load, func() {
		signal.Stop(ch)
		close(done)
	}
}

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
