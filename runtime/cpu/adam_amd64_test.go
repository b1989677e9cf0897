//go:build !purego

package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamAVX512MatchesGo checks that the assembly loop is bitwise equal to
// the portable one, tails included.
func TestAdamAVX512MatchesGo(t *testing.T) {
	if adamAVX512 == nil {
		t.Skip("no AVX-512F")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 15, 16, 17, 33, 100, 1027} {
		mk := func(scale float32, pos bool) []float32 {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(r.NormFloat64()) * scale
				if pos {
					s[i] *= s[i]
				}
			}
			return s
		}
		p, g, m, v := mk(1, false), mk(0.1, false), mk(0.01, false), mk(0.01, true)
		p2, m2, v2 := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
		c := adamConsts{0.01, 0.9, 1 - float32(0.9), 0.999, 1 - float32(0.999), 1e-3 / 0.19, 1.7, 1e-8}
		adamLoop(p, g, m, v, &c)
		adamAVX512(p2, g, m2, v2, &c)
		for i := range p {
			if math.Float32bits(p[i]) != math.Float32bits(p2[i]) || m[i] != m2[i] || v[i] != v2[i] {
				t.Fatalf("n=%d i=%d: go (%v %v %v) asm (%v %v %v)", n, i, p[i], m[i], v[i], p2[i], m2[i], v2[i])
			}
		}
	}
}
