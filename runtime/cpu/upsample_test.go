package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestUpsample2x(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, sh := range [][3]int{{1, 1, 1}, {5, 3, 7}, {2, 7, 1}, {64, 28, 28}} {
		nc, h, w := sh[0], sh[1], sh[2]
		name := fmt.Sprintf("nc=%d h=%d w=%d", nc, h, w)
		src := ktRand(r, nc*h*w)
		dst := ktNaN(4*len(src) + 3)
		Upsample2x(dst, src, nc, h, w)
		for p := range nc {
			for i := range 2 * h {
				for j := range 2 * w {
					got, want := dst[(p*2*h+i)*2*w+j], src[(p*h+i/2)*w+j/2]
					if got != want {
						t.Fatalf("%s: dst[%d,%d,%d] = %v, want %v", name, p, i, j, got, want)
					}
				}
			}
		}
		for _, v := range dst[4*len(src):] {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("%s: wrote past dst", name)
			}
		}

		ddst := ktRand(r, 4*len(src))
		dsrc := ktNaN(len(src))
		Upsample2xBackward(dsrc, ddst, nc, h, w)
		for p := range nc {
			for i := range h {
				for j := range w {
					at := func(a, b int) float64 { return float64(ddst[(p*2*h+2*i+a)*2*w+2*j+b]) }
					want := at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)
					if got := float64(dsrc[(p*h+i)*w+j]); math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
						t.Fatalf("%s: dsrc[%d,%d,%d] = %v, want %v", name, p, i, j, got, want)
					}
				}
			}
		}
		// Adjoint identity <U x, y> == <x, Uᵀ y>.
		lhs, rhs := ktDot(dst[:len(ddst)], ddst), ktDot(src, dsrc)
		if math.Abs(lhs-rhs) > 1e-5*(1+math.Abs(lhs)+math.Sqrt(float64(len(ddst)))) {
			t.Fatalf("%s: <Ux, y> = %v, <x, Uᵀy> = %v", name, lhs, rhs)
		}
	}
}

func TestUpsample2xPanics(t *testing.T) {
	b := make([]float32, 16)
	ktPanics(t, "cpu: Upsample2x: dst too short", func() { Upsample2x(b[:15], b, 1, 2, 2) })
	ktPanics(t, "cpu: Upsample2xBackward: ddst too short", func() { Upsample2xBackward(b, b[:15], 1, 2, 2) })
}
