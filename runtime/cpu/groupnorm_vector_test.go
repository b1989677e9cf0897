package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// withGNVector runs f with the vector GroupNorm loops on or off.
func withGNVector(t *testing.T, on bool, f func()) {
	t.Helper()
	saved := gnVector
	gnVector = on
	defer func() { gnVector = saved }()
	f()
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v with the vector loops, %v with the Go loops", what, i, got[i], want[i])
		}
	}
}

// TestGNVectorLoopsMatchGo checks that the vector gnScale and gnCombine give the Go
// loops' bits at every length around the 16-wide step (tails included), and that the
// values past n are left alone.
func TestGNVectorLoopsMatchGo(t *testing.T) {
	if !gnVector {
		t.Skip("no AVX-512 GroupNorm loops on this machine or build")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 15, 16, 17, 31, 32, 33, 49, 784} {
		x, d := ktRand(r, n+5), ktRand(r, n+5)
		m, a, b, c := float32(0.3), float32(1.7), float32(-0.2), float32(0.05)
		var want, got, wantC, gotC []float32
		withGNVector(t, false, func() {
			want, wantC = ktRand(r, n+5), ktRand(r, n+5)
			got, gotC = append([]float32(nil), want...), append([]float32(nil), wantC...)
			gnScale(want[:n], x[:n], m, a, b)
			gnCombine(wantC[:n], d[:n], x[:n], m, a, b, c)
		})
		withGNVector(t, true, func() {
			gnScale(got[:n], x[:n], m, a, b)
			gnCombine(gotC[:n], d[:n], x[:n], m, a, b, c)
		})
		sameBits(t, "gnScale", got, want)
		sameBits(t, "gnCombine", gotC, wantC)
	}
}

// TestGroupNormVectorMatchesGo checks whole GroupNorm + SiLU forward, backward and
// tangent passes bit for bit with the vector loops on and off.
func TestGroupNormVectorMatchesGo(t *testing.T) {
	if !gnVector {
		t.Skip("no AVX-512 GroupNorm loops on this machine or build")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, s := range gnShapes {
		n, c, hw, g := s.n, s.c, s.hw, s.groups
		x, gamma, beta := ktRand(r, n*c*hw), ktRand(r, c), ktRand(r, c)
		dy, tx, tg, tb := ktRand(r, n*c*hw), ktRand(r, n*c*hw), ktRand(r, c), ktRand(r, c)
		run := func() [][]float32 {
			y, mean, rstd := make([]float32, n*c*hw), make([]float32, n*g), make([]float32, n*g)
			dx, dg, db, ty := make([]float32, n*c*hw), make([]float32, c), make([]float32, c), make([]float32, n*c*hw)
			GroupNormSiLUForward(y, mean, rstd, x, gamma, beta, n, c, hw, g, gnEps)
			GroupNormSiLUBackward(dx, dg, db, dy, x, mean, rstd, gamma, beta, n, c, hw, g)
			GroupNormSiLUTangent(ty, tx, tg, tb, x, mean, rstd, gamma, beta, n, c, hw, g)
			return [][]float32{y, dx, dg, db, ty}
		}
		var want, got [][]float32
		withGNVector(t, false, func() { want = run() })
		withGNVector(t, true, func() { got = run() })
		for i, name := range []string{"y", "dx", "dgamma", "dbeta", "ty"} {
			sameBits(t, name, got[i], want[i])
		}
	}
}
