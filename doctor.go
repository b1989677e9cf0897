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

	if !doctorGPU(w, os.Getenv(cudaPathEnv)) {
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

// doctorGPU reports the CUDA libraries and device, or why they did not load, and
// self-tests the device (runtime.SelfTest). It returns false only when a GPU loaded
// and then failed.
func doctorGPU(w io.Writer, cudaPath string) bool {
	lib, err := cudart.Open(cudart.Options{Path: cudaPath})
	if err != nil {
		fmt.Fprintf(w, "gpu: not available: %s\n", strings.TrimPrefix(err.Error(), "cuda: "))
		return true
	}
	// Describe: "CUDA driver … (file), runtime … (file), cuBLAS … (file); N device(s);
	// device 0: name, sm_XY, N SMs, M GiB": one line per part.
	for _, part := range strings.Split(lib.Describe(), "; ") {
		fmt.Fprintf(w, "gpu: %s\n", part)
	}
	if files := cudart.LoadedFiles(); len(files) > 0 {
		fmt.Fprintf(w, "gpu library files: %s\n", strings.Join(files, ", "))
	}
	var dev *cudart.Device
	err = safely(func() error {
		var err error
		dev, err = cudart.NewDevice(lib)
		return err
	})
	if err != nil {
		fmt.Fprintf(w, "gpu self-test: FAILED: cannot set up device 0: %s\n", strings.TrimPrefix(err.Error(), "cuda: "))
		return false
	}
	if free, total, err := memInfo(dev); err == nil {
		fmt.Fprintf(w, "gpu memory: %.1f GiB free of %.1f GiB\n", float64(free)/(1<<30), float64(total)/(1<<30))
	}
	for _, m := range dev.ModuleErrors() {
		fmt.Fprintf(w, "gpu kernels: %s (its ops run on the host: slow)\n", m)
	}
	report, err := rt.SelfTest(dev, rt.SelfTestOptions{Speed: true})
	if err != nil {
		fmt.Fprintf(w, "gpu self-test: %s\n", report)
		return false
	}
	s := dev.Stats()
	fmt.Fprintf(w, "gpu self-test: %s (%d kernel launches, %d cuBLAS GEMMs, %d ops on the host fallback)\n",
		report, s.Launches, s.Gemms, s.Fallbacks)
	return true
}

func memInfo(dev *cudart.Device) (free, total int64, err error) {
	err = safely(func() error {
		free, total = dev.MemInfo()
		return nil
	})
	return
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
