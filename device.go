package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"ocm/cudart"
	rt "ocm/runtime"
)

// cudaPathEnv names the environment variable that points ocm at CUDA libraries in an
// unusual place (a folder, or the libcudart file itself).
const cudaPathEnv = "OCM_CUDA_PATH"

// openDevice returns the device --device names, and a note on how it was chosen.
// cuda: the GPU or a one-line error; auto: the GPU when its libraries load and it passes
// its self-test (runtime.SelfTest), else the CPU, saying why; cpu: the CPU.
func openDevice(o *options) (rt.Device, string, error) {
	cpuDev := rt.NewCPU(rt.CPUOptions{Threads: o.threads})
	if o.device == "cpu" {
		return cpuDev, "", nil
	}
	gpu, err := openCUDA()
	if err != nil {
		err = errors.New(strings.TrimPrefix(err.Error(), "cuda: "))
	}
	switch {
	case err == nil:
		return gpu, "", nil
	case o.device == "cuda":
		return nil, "", userErr("--device cuda: %v", err)
	}
	return cpuDev, fmt.Sprintf("; no GPU (%s, see --doctor)", shortReason(err)), nil
}

// shortReason is the gist of a device error for the one device line: a CUDA error
// code when the message has one, else its head, at most 40 characters.
func shortReason(err error) string {
	msg := err.Error()
	name := cudaStatus.FindString(msg)
	switch {
	case strings.Contains(msg, "self-test") && name != "":
		return "self-test: " + name
	case strings.Contains(msg, "self-test"):
		return "failed its self-test"
	case name != "":
		return name
	}
	for _, sep := range []string{" (", " with "} {
		if head, _, ok := strings.Cut(msg, sep); ok && head != "" {
			msg = head
		}
	}
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg[i+2:], "CUDA_ERROR") {
		msg = msg[i+2:]
	}
	if r := []rune(msg); len(r) > 40 {
		msg = string(r[:39]) + "…"
	}
	return msg
}

// cudaStatus finds the name of a CUDA, CUDA runtime or cuBLAS status in a message.
var cudaStatus = regexp.MustCompile(`CUDA_ERROR_[A-Z_]+|cudaError[A-Za-z]+|CUBLAS_STATUS_[A-Z_]+`)

// openCUDA loads the CUDA libraries, makes the device and self-tests its kernels
// (runtime.SelfTest), so a broken driver or library gives a clear error instead of wrong
// numbers.
func openCUDA() (rt.Device, error) {
	lib, err := cudart.Open(cudart.Options{Path: os.Getenv(cudaPathEnv)})
	if err != nil {
		return nil, err
	}
	return selfTested(func() (rt.Device, error) { return cudart.NewDevice(lib) })
}

// selfTested makes a device with newDevice and returns it when it passes
// runtime.SelfTest. A panic on the way (a failed CUDA call panics) is an error, so
// --device auto can fall back to the CPU.
func selfTested(newDevice func() (rt.Device, error)) (rt.Device, error) {
	var dev rt.Device
	err := safely(func() error {
		var err error
		if dev, err = newDevice(); err != nil {
			return err
		}
		if _, err := rt.SelfTest(dev, rt.SelfTestOptions{}); err != nil {
			return fmt.Errorf("%s failed its self-test: %v", dev.Name(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dev, nil
}

// announceDevice says which device runs the work, once the inputs have been read.
func announceDevice(dev rt.Device, note string, o *options, stderr io.Writer) {
	if !o.quiet {
		fmt.Fprintf(stderr, "ocm: device %s%s\n", dev.Name(), note)
	}
}
