package cudart

import (
	"fmt"
	"io"
	"strings"

	rt "ocm/runtime"
)

// Doctor reports (ocm --doctor) the CUDA libraries and device, or why they did not load, and
// self-tests the device (runtime.SelfTest). It returns false only when a GPU loaded
// and then failed.
func Doctor(w io.Writer, cudaPath string) bool {
	lib, err := Open(Options{Path: cudaPath})
	if err != nil {
		fmt.Fprintf(w, "gpu: not available: %s\n", strings.TrimPrefix(err.Error(), "cuda: "))
		return true
	}
	// Describe: "CUDA driver … (file), runtime … (file), cuBLAS … (file); N device(s);
	// device 0: name, sm_XY, N SMs, M GiB": one line per part.
	for _, part := range strings.Split(lib.Describe(), "; ") {
		fmt.Fprintf(w, "gpu: %s\n", part)
	}
	if files := LoadedFiles(); len(files) > 0 {
		fmt.Fprintf(w, "gpu library files: %s\n", strings.Join(files, ", "))
	}
	var dev *Device
	err = safely(func() error {
		var err error
		dev, err = NewDevice(lib)
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

func memInfo(dev *Device) (free, total int64, err error) {
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
