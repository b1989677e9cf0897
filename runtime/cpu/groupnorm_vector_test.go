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
		var sums [2][4]float64 // Go loops, vector loops
		for i, on := range []bool{false, true} {
			withGNVector(t, on, func() {
				sums[i][0], sums[i][1] = shiftedMoments64(x[:n], x[0])
				sums[i][2], sums[i][3] = sumDot64(d[:n], x, m)
			})
		}
		if sums[0] != sums[1] {
			t.Fatalf("n %d: moments and dot sums %v with the vector loops, %v with the Go loops", n, sums[1], sums[0])
		}
	}
}

// TestGNSumsMatchFloat64 checks shiftedMoments64 and sumDot64 against plain float64
// sums (to a relative 1e-12: the lane order differs).
func TestGNSumsMatchFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 15, 16, 17, 49, 784, 1568} {
		x, d := ktRand(r, n+1), ktRand(r, n+1)
		k, m := x[0], float32(0.25)
		var w1, w2, w3, w4 float64
		for i := range n {
			e := float64(x[i]) - float64(k)
			w1, w2 = w1+e, w2+e*e
			w3, w4 = w3+float64(d[i]), w4+float64(d[i])*(float64(x[i])-float64(m))
		}
		s1, s2 := shiftedMoments64(x[:n], k)
		s3, s4 := sumDot64(d[:n], x, m)
		for i, p := range [][2]float64{{s1, w1}, {s2, w2}, {s3, w3}, {s4, w4}} {
			if math.Abs(p[0]-p[1]) > 1e-12*(1+math.Abs(p[1])) {
				t.Errorf("n %d: sum %d is %v, float64 gives %v", n, i, p[0], p[1])
			}
		}
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
