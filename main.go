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
	"ocm/ocm"
	rt "ocm/runtime"
)

// version is the ocm release; set at link time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// usageError is a mistake of the user's: one line, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func userErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// inputErr marks err (a bad file, a bad value) as the user's, keeping its message.
func inputErr(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{msg: err.Error()}
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
			err := deviceFailure(r)
			if err == nil {
				panic(r) // a programming error: keep the trace
			}
			fmt.Fprintf(stderr, "ocm: %v\n", oneLine(err))
			code = 1
		}
	}()
	o, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ocm: %v\n", oneLine(err))
		return 2
	}
	if err := execute(o, stdout, stderr); err != nil {
		var stopped *ocm.Stopped
		if errors.As(err, &stopped) {
			fmt.Fprintf(stderr, "ocm: interrupted at step %d; resume with: %s\n", stopped.Step, resumeCommand(args))
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "ocm: %v\n", oneLine(err))
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// deviceFailure returns the error of a panic raised by the CUDA device (out of device
// memory, a failed CUDA or cuBLAS call, a kernel error), or nil for any other panic.
func deviceFailure(r any) error {
	err, ok := r.(error)
	if !ok {
		return nil
	}
	var oom *cudart.OutOfMemoryError
	var ce *cudart.Error
	if errors.As(err, &oom) || errors.As(err, &ce) {
		return err
	}
	return nil
}

// oneLine keeps an error message on one line and drops the package prefixes of
// wrapped errors ("ocm: … : ocm: mixture: …") that repeat the program's own.
func oneLine(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n", "; ")
	msg = strings.ReplaceAll(msg, ": ocm: ", ": ")
	return strings.TrimPrefix(msg, "ocm: ")
}
