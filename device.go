package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"ocm/cudart"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// cudaPathEnv names the environment variable that points ocm at CUDA libraries in an
// unusual place (a folder, or the libcudart file itself).
const cudaPathEnv = "OCM_CUDA_PATH"

// openDevice returns the device --device names, and a note on how it was chosen.
// cuda: the GPU or a one-line error; auto: the GPU when its libraries load and it passes
// a self-check against the CPU, else the CPU, saying why; cpu: the CPU.
func openDevice(o *options) (rt.Device, string, error) {
	cpuDev := rt.NewCPU(rt.CPUOptions{Threads: o.threads})
	if o.device == "cpu" {
		return cpuDev, "", nil
	}
	gpu, err := openCUDA(cpuDev)
	if err != nil {
		err = errors.New(strings.TrimPrefix(err.Error(), "cuda: "))
	}
	switch {
	case err == nil:
		return gpu, "", nil
	case o.device == "cuda":
		return nil, "", userErr("--device cuda: %v", err)
	}
	return cpuDev, fmt.Sprintf(" (no CUDA device: %v)", err), nil
}

// openCUDA loads the CUDA libraries, makes the device and checks a few kernels
// against the CPU, so a broken driver or library gives a clear error instead of wrong
// numbers.
func openCUDA(cpuDev rt.Device) (rt.Device, error) {
	lib, err := cudart.Open(cudart.Options{Path: os.Getenv(cudaPathEnv)})
	if err != nil {
		return nil, err
	}
	dev, err := cudart.NewDevice(lib)
	if err != nil {
		return nil, err
	}
	if err := selfCheck(dev, cpuDev); err != nil {
		return nil, fmt.Errorf("%s failed its self-check against the CPU: %v", dev.Name(), err)
	}
	return dev, nil
}

// selfCheck runs a matrix product, a broadcast add, SiLU and a Philox fill on both
// devices and compares them.
func selfCheck(gpu, cpu rt.Device) error {
	key := philox.Key{Seed: 99}
	run := func(d rt.Device) [][]float32 {
		a := rt.Random(d, rt.Uniform, key, 0, 33, 65)
		b := rt.Random(d, rt.Uniform, key.Split(1), 0, 65, 17)
		bias := rt.Random(d, rt.Uniform, key.Split(2), 0, 17)
		y := rt.SiLU(rt.Add(rt.MatMul(a, b, false, false), bias))
		return [][]float32{a.Data(), y.Data()}
	}
	g, c := run(gpu), run(cpu)
	for i := range c {
		for j := range c[i] {
			if d := math.Abs(float64(g[i][j] - c[i][j])); d > 1e-4*(1+math.Abs(float64(c[i][j]))) || math.IsNaN(float64(g[i][j])) {
				return fmt.Errorf("value %d of check %d: GPU %g, CPU %g", j, i, g[i][j], c[i][j])
			}
		}
	}
	return nil
}

// announceDevice says which device runs the work, once the inputs have been read.
func announceDevice(dev rt.Device, note string, o *options, stderr io.Writer) {
	if !o.quiet {
		fmt.Fprintf(stderr, "ocm: device %s%s\n", dev.Name(), note)
	}
}
