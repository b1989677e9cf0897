package cudart

import (
	"math/rand/v2"
	"testing"

	"ocm/runtime"
)

// chain runs a small model-like computation through the runtime's tensor API on dev.
func chain(dev runtime.Device, r *rand.Rand) []float32 {
	a := runtime.FromSlice(dev, randn(r, 3*4, 1), 3, 4)
	b := runtime.FromSlice(dev, randn(r, 4*5, 1), 4, 5)
	bias := runtime.FromSlice(dev, randn(r, 5, 1), 5)
	h := runtime.SiLU(runtime.Add(runtime.MatMul(a, b, false, false), bias))
	h = runtime.Softmax(runtime.Transpose(h))
	x := runtime.FromSlice(dev, randn(r, 2*3*6*6, 1), 2, 3, 6, 6)
	w := runtime.FromSlice(dev, randn(r, 4*3*3*3, 1), 4, 3, 3, 3)
	y := runtime.Upsample2x(runtime.Conv2d(x, w, 2, 1))
	s := runtime.Sum(y, false, 1, 3)
	return append(h.Data(), s.Data()...)
}

// The runtime's tensor API on the device agrees with the CPU (fake device here; the
// real one under OCM_CUDA_TEST=1).
func TestFakeDeviceTensorAPI(t *testing.T) {
	testTensorAPI(t, newFakeDevice(t))
}

func TestGPUTensorAPI(t *testing.T) {
	testTensorAPI(t, gpu(t))
}

func testTensorAPI(t *testing.T, d *Device) {
	got := chain(d, rand.New(rand.NewPCG(1, 1)))
	want := chain(cpuDev, rand.New(rand.NewPCG(1, 1)))
	p := pair{g: d.Alloc(len(got), false), c: cpuDev.Alloc(len(want), false), n: len(got)}
	d.Upload(p.g, got)
	cpuDev.Upload(p.c, want)
	compare(t, "tensor chain", d, p, 1e-4, 1e-4)
}
