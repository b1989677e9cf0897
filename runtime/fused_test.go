package runtime

import (
	"math"
	"testing"

	"ocm/runtime/philox"
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

// TestFusedOpsEqualComposition checks GroupNormSiLU (forward, backward, tangent),
// Conv2dBias and Conv2dBiasAdd on the CPU device's fused kernels against the same functions on a
// device without them, bit for bit.
func TestFusedOpsEqualComposition(t *testing.T) {
	plain := plainDevice{testDev}
	x, gamma, beta := randomT(1, 3, 8, 5, 7), randomT(2, 8), randomT(3, 8)
	px, pg, pb := onDevice(plain, x), onDevice(plain, gamma), onDevice(plain, beta)
	r := GroupNormSiLU(x, gamma, beta, 4, 1e-6)
	pr := GroupNormSiLU(px, pg, pb, 4, 1e-6)
	if r.Z != nil || pr.Z == nil {
		t.Fatalf("fused result keeps z: %v, composed keeps z: %v", r.Z != nil, pr.Z != nil)
	}
	sameBits(t, "forward", r.Y, pr.Y)
	dy := randomT(4, x.shape...)
	dx, dg, db := GroupNormSiLUBackward(r, dy, x, gamma, beta)
	pdx, pdg, pdb := GroupNormSiLUBackward(pr, onDevice(plain, dy), px, pg, pb)
	sameBits(t, "dx", dx, pdx)
	sameBits(t, "dgamma", dg, pdg)
	sameBits(t, "dbeta", db, pdb)
	tx, tg, tb := randomT(5, x.shape...), randomT(6, 8), randomT(7, 8)
	ty := GroupNormSiLUTangent(r, tx, tg, tb, x, gamma, beta)
	pty := GroupNormSiLUTangent(pr, onDevice(plain, tx), onDevice(plain, tg), onDevice(plain, tb), px, pg, pb)
	sameBits(t, "tangent", ty, pty)

	w := randomT(8, 6, 8, 3, 3)
	for _, b := range []*Tensor{randomT(9, 6), randomT(10, 3, 6)} {
		y := Conv2dBias(x, w, b, 1, 1)
		py := Conv2dBias(px, onDevice(plain, w), onDevice(plain, b), 1, 1)
		sameBits(t, "conv2d+bias", y, py)
		res := randomT(11, y.shape...)
		sameBits(t, "conv2d+bias+residual", Conv2dBiasAdd(x, w, b, res, 1, 1),
			Conv2dBiasAdd(px, onDevice(plain, w), onDevice(plain, b), onDevice(plain, res), 1, 1))
	}
	res := randomT(12, 3, 6, 5, 7)
	sameBits(t, "conv2d+residual", Conv2dBiasAdd(x, w, nil, res, 1, 1),
		Conv2dBiasAdd(px, onDevice(plain, w), nil, onDevice(plain, res), 1, 1))
}

// TestDropoutMaskEqualsThreshold checks the one-pass dropout mask of the CPU device
// against a Uniform draw thresholded by the DropMask op (the path of a device
// without it), bit for bit, on a size that is split across cores.
func TestDropoutMaskEqualsThreshold(t *testing.T) {
	key := philox.Key{Seed: 3, Stream: 7}
	got := DropoutMask(testDev, 0.3, key, 5, 70001)
	want := DropoutMask(plainDevice{testDev}, 0.3, key, 5, 70001)
	sameBits(t, "mask", got, want)
	zeros := 0
	for _, v := range got.Data() {
		if v == 0 {
			zeros++
		}
	}
	if f := float64(zeros) / float64(got.Len()); f < 0.29 || f > 0.31 {
		t.Errorf("%.4f of the mask is zero, want about 0.3", f)
	}
}
