package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// adamRef64 transcribes torch.optim.Adam's single-tensor step (amsgrad off,
// maximize off, L2 weight decay) in float64.
func adamRef64(p, g, m, v []float64, lr, b1, b2, eps, wd float64, step int) {
	bc1 := 1 - math.Pow(b1, float64(step))
	bc2 := 1 - math.Pow(b2, float64(step))
	stepSize := lr / bc1
	bc2Sqrt := math.Sqrt(bc2)
	for i := range p {
		grad := g[i]
		if wd != 0 {
			grad += wd * p[i]
		}
		m[i] += (grad - m[i]) * (1 - b1) // exp_avg.lerp_(grad, 1-beta1)
		v[i] = v[i]*b2 + (1-b2)*grad*grad
		denom := math.Sqrt(v[i])/bc2Sqrt + eps
		p[i] -= stepSize * m[i] / denom
	}
}

func TestAdamStep(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, c := range []struct {
		n                   int
		lr, b1, b2, eps, wd float32
	}{
		{7, 1e-3, 0.9, 0.999, 1e-8, 0},
		{33, 1e-2, 0.9, 0.999, 1e-8, 0.01},
		{5, 0.1, 0.8, 0.99, 1e-6, 0.5},
		{100000, 1e-3, 0.9, 0.999, 1e-8, 1e-4}, // parallel path
	} {
		name := fmt.Sprintf("%+v", c)
		p := ktRand(r, c.n)
		m, v := make([]float32, c.n), make([]float32, c.n)
		p64, m64, v64 := kt64(p), make([]float64, c.n), make([]float64, c.n)
		for step := 1; step <= 5; step++ {
			g := ktRand(r, c.n)
			if step == 3 {
				g[0] = 0 // a zero gradient after nonzero ones
			}
			g0 := append([]float32(nil), g...)
			AdamStep(p, g, m, v, c.lr, c.b1, c.b2, c.eps, c.wd, step)
			adamRef64(p64, kt64(g), m64, v64, float64(c.lr), float64(c.b1), float64(c.b2), float64(c.eps), float64(c.wd), step)
			for i := range g {
				if g[i] != g0[i] {
					t.Fatalf("%s: AdamStep modified g", name)
				}
			}
			// p moves by about lr per step; allow float32 rounding of
			// p itself plus a small relative error in the update.
			if i := ktClose(p, p64, 1e-6*(1+ktMaxAbs(p64))+float64(c.lr)*1e-4*float64(step)); i >= 0 {
				t.Fatalf("%s step %d: p[%d] = %v, want %v", name, step, i, p[i], p64[i])
			}
			if i := ktClose(m, m64, 1e-5*(1+ktMaxAbs(m64))); i >= 0 {
				t.Fatalf("%s step %d: m[%d] = %v, want %v", name, step, i, m[i], m64[i])
			}
			if i := ktClose(v, v64, 1e-5*(1+ktMaxAbs(v64))); i >= 0 {
				t.Fatalf("%s step %d: v[%d] = %v, want %v", name, step, i, v[i], v64[i])
			}
		}
	}
}

func TestAdamStepPanics(t *testing.T) {
	b := make([]float32, 4)
	ktPanics(t, "cpu: AdamStep: length mismatch", func() { AdamStep(b, b[:3], b, b, 1, 0.9, 0.999, 1e-8, 0, 1) })
	ktPanics(t, "cpu: AdamStep: step < 1", func() { AdamStep(b, b, b, b, 1, 0.9, 0.999, 1e-8, 0, 0) })
}
