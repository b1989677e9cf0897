// Command ocm trains diffusion models, fits their optimal diagonal covariance with
// Optimal Covariance Matching (Ou et al., ICLR 2025), and samples and scores them.
//
// The story of a run: flags → settings → device → weights → model → covariance
// estimator → sampler → outputs. Run `ocm --help` for the flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"ocm/cudart"
	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/featurenet"
	"ocm/ocm/runguard"
	rt "ocm/runtime"
)

// version is the ocm release; set at link time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// usageError is a mistake of the user's (a flag, a file, a value): one line, exit
// status 2.
type usageError struct{ err error }

// Error is the message of the wrapped error.
func (e *usageError) Error() string { return e.err.Error() }

// Unwrap returns the error the mistake was found by.
func (e *usageError) Unwrap() error { return e.err }

func userErr(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// inputErr marks err (a bad file, a bad value) as the user's, keeping its message.
func inputErr(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1 // the machine failed: a disk, a device, a bug
	exitBadUse  = 2 // the flags or the input are wrong
	// exitInterrupted is the status of a run stopped by SIGINT or SIGTERM.
	exitInterrupted = runguard.ExitInterrupted
)

// exitCode maps the outcome of a run to its exit status: interrupted (after a
// checkpoint), the user's mistake (a bad flag or input, a checkpoint that does not
// fit the run), or a failure.
func exitCode(err error) int {
	var stopped *ocm.Stopped
	var ue *usageError
	var re *ocm.ResumeError
	var fe *safetensors.FormatError
	var me *ocm.MixtureError
	var se *ocm.SkipLimitError
	var bi *featurenet.BadInput
	var fo *runguard.FolderError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &stopped):
		return exitInterrupted
	case errors.As(err, &ue), errors.As(err, &re), errors.As(err, &fe), errors.As(err, &me),
		errors.As(err, &se), errors.As(err, &bi), errors.As(err, &fo), errors.Is(err, ocm.ErrNoCheckpoint):
		return exitBadUse // the input, the flags or the run's settings are wrong
	}
	return exitFailure
}

func main() {
	rt.TuneGC() // fewer garbage collections: see runtime.TuneGC
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can call it: 0 on success, 2 for bad input,
// 130 when interrupted (after a checkpoint), 1 for other failures.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			err := cudart.DeviceFailure(r)
			if err == nil {
				panic(r) // a programming error: keep the trace
			}
			fmt.Fprintf(stderr, "ocm: %v\n", oneLine(err))
			code = exitFailure
		}
	}()
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		err = inputErr(err)
	} else {
		g := runguard.New(stderr, exit)
		err = execute(o, g, stdout, stderr)
		g.Release()
	}
	var stopped *ocm.Stopped
	switch {
	case errors.As(err, &stopped):
		fmt.Fprintf(stderr, "ocm: interrupted at step %d; resume with: %s\n", stopped.Step, resumeCommand(args))
	case err != nil:
		fmt.Fprintf(stderr, "ocm: %v\n", oneLine(err))
	}
	return exitCode(err)
}

// oneLine keeps an error message on one line and drops the package prefixes of
// wrapped errors ("ocm: … : ocm: mixture: …") that repeat the program's own.
func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	msg = strings.ReplaceAll(msg, ": ocm: ", ": ")
	return strings.TrimPrefix(msg, "ocm: ")
}
