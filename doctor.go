package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"ocm/assets"
	"ocm/cudart"
	rt "ocm/runtime"
	"ocm/runtime/cpu"
)

// runDoctor is ocm --doctor: the machine as ocm sees it (build, CPU and the kernels it
// uses, GPU and CUDA libraries or why they did not load, embedded models), with a short
// self-test on each device. One item per line on stdout. It returns an error when the
// CPU fails its self-test, when a GPU that loads fails its own, or when an embedded
// model is corrupt; a missing GPU is not an error.
func runDoctor(o *options, stdout io.Writer) error {
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	var failed []string

	fmt.Fprintln(w, doctorBuildLine())

	threads := o.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	for _, line := range cpu.Describe(threads) {
		fmt.Fprintln(w, line)
	}
	cpuDev := rt.NewCPU(rt.CPUOptions{Threads: o.threads})
	res, err := rt.SelfTest(cpuDev, rt.SelfTestOptions{Speed: true})
	fmt.Fprintf(w, "cpu self-test: %s\n", res)
	if err != nil {
		failed = append(failed, "the CPU self-test")
	}
	w.Flush()

	if !cudart.Doctor(w, os.Getenv(cudaPathEnv)) {
		failed = append(failed, "the GPU self-test")
	}
	w.Flush()

	if models, err := assets.Verify(); err != nil {
		fmt.Fprintf(w, "embedded models: FAILED: %v\n", err)
		failed = append(failed, "an embedded model's check")
	} else {
		fmt.Fprintf(w, "embedded models: %s\n", models)
	}

	if len(failed) > 0 {
		return fmt.Errorf("doctor: %s failed (see above)", strings.Join(failed, " and "))
	}
	return nil
}

// doctorBuildLine is "ocm VERSION (go1.26.x linux/amd64, CGO off[, tags …][, commit …])".
func doctorBuildLine() string {
	parts := []string{runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		set := map[string]string{}
		for _, s := range bi.Settings {
			set[s.Key] = s.Value
		}
		switch set["CGO_ENABLED"] {
		case "0":
			parts = append(parts, "CGO off")
		case "1":
			parts = append(parts, "CGO on")
		}
		if t := set["-tags"]; t != "" {
			parts = append(parts, "tags "+t)
		}
		if rev := set["vcs.revision"]; rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if set["vcs.modified"] == "true" {
				rev += "+modified"
			}
			parts = append(parts, "commit "+rev)
		}
	}
	return fmt.Sprintf("ocm %s (%s)", version, strings.Join(parts, ", "))
}

// safely runs f and turns a panic (a failed CUDA call inside a device method panics)
// into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return f()
}
