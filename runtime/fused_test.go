package runtime

import (
	"math"
	"testing"
)

// plainDevice is the CPU device seen only through the Device interface: it has none
// of the optional fused kernels, so the runtime composes them from the basic ops (as
// it does on a device that lacks them).
type plainDevice struct{ Device }

func onDevice(d Device, t *Tensor) *Tensor {
	return &Tensor{shape: t.shape, dev: d, buf: t.buf}
}

func sameBits(t *testing.T, what string, got, want *Tensor) {
	t.Helper()
	g, w := got.Data(), want.Data()
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(w))
	}
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Fatalf("%s: value %d = %g, composed %g", what, i, g[i], w[i])
		}
	}
}

// TestFusedOpsEqualComposition checks Conv2dBias on the CPU device's fused kernels
// against the same function on a device without them, bit for bit.
func TestFusedOpsEqualComposition(t *testing.T) {
	plain := plainDevice{testDev}
	x := randomT(1, 3, 8, 5, 7)
	px := onDevice(plain, x)
	w := randomT(8, 6, 8, 3, 3)
	for _, b := range []*Tensor{randomT(9, 6), randomT(10, 3, 6)} {
		y := Conv2dBias(x, w, b, 1, 1)
		py := Conv2dBias(px, onDevice(plain, w), onDevice(plain, b), 1, 1)
		sameBits(t, "conv2d+bias", y, py)
	}
}
