package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func softmaxRef(x []float64, rows, cols int) []float64 {
	y := make([]float64, len(x))
	for r := range rows {
		xr, yr := x[r*cols:(r+1)*cols], y[r*cols:(r+1)*cols]
		mx := math.Inf(-1)
		for _, v := range xr {
			mx = max(mx, v)
		}
		var s float64
		for j, v := range xr {
			yr[j] = math.Exp(v - mx)
			s += yr[j]
		}
		for j := range yr {
			yr[j] /= s
		}
	}
	return y
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, sh := range [][2]int{{1, 1}, {3, 5}, {7, 1}, {4, 100}, {2, 1000}, {600, 64}} {
		rows, cols := sh[0], sh[1]
		for _, scale := range []float32{1, 10, 1e4} {
			name := fmt.Sprintf("%dx%d/scale=%v", rows, cols, scale)
			x := ktRand(r, rows*cols)
			for i := range x {
				x[i] *= scale
				if i%3 == 0 && scale == 1e4 {
					x[i] += 1e4 // large common offset on some entries
				}
			}
			y := ktNaN(len(x))
			Softmax(y, x, rows, cols)
			want := softmaxRef(kt64(x), rows, cols)
			if i := ktClose(y, want, 1e-6); i >= 0 {
				t.Fatalf("%s: y[%d] = %v, want %v", name, i, y[i], want[i])
			}
			for rr := range rows {
				var s float64
				for _, v := range y[rr*cols : (rr+1)*cols] {
					if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
						t.Fatalf("%s: row %d not finite", name, rr)
					}
					s += float64(v)
				}
				if math.Abs(s-1) > 1e-6*(1+math.Sqrt(float64(cols))) {
					t.Fatalf("%s: row %d sums to %v", name, rr, s)
				}
			}
			Softmax(x, x, rows, cols)
			for i := range x {
				if x[i] != y[i] {
					t.Fatalf("%s: in-place differs at %d", name, i)
				}
			}
		}
	}
	// Extremes in one row.
	y := make([]float32, 4)
	Softmax(y, []float32{1e4, -1e4, 0, 1e4 - 1}, 1, 4)
	e := math.Exp(-1)
	want := []float64{1 / (1 + e), 0, 0, e / (1 + e)}
	if i := ktClose(y, want, 1e-7); i >= 0 {
		t.Fatalf("extreme row: y = %v, want %v", y, want)
	}
}

func TestSoftmaxBackwardFD(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	for _, sh := range [][2]int{{1, 1}, {3, 5}, {2, 17}, {1, 64}} {
		rows, cols := sh[0], sh[1]
		name := fmt.Sprintf("%dx%d", rows, cols)
		x := ktRand(r, rows*cols)
		y := make([]float32, len(x))
		Softmax(y, x, rows, cols)
		x64 := kt64(x)
		const h = 1e-6

		// Reverse mode: gradient of Σ w*softmax(x).
		w := ktRand(r, len(x))
		dx := ktNaN(len(x))
		SoftmaxBackward(dx, y, w, rows, cols)
		want := make([]float64, len(x))
		for i := range x64 {
			o := x64[i]
			x64[i] = o + h
			p := softmaxRef(x64, rows, cols)
			x64[i] = o - h
			m := softmaxRef(x64, rows, cols)
			x64[i] = o
			for j := range p {
				want[i] += float64(w[j]) * (p[j] - m[j]) / (2 * h)
			}
		}
		if i := ktClose(dx, want, 1e-5*(1+ktMaxAbs(want))); i >= 0 {
			t.Errorf("%s: dx[%d] = %v, finite difference %v", name, i, dx[i], want[i])
		}

		// Forward mode: tangent along tx, computed in place (dx aliases g).
		tx := ktRand(r, len(x))
		xp, xm := kt64(x), kt64(x)
		for i := range xp {
			xp[i] += h * float64(tx[i])
			xm[i] -= h * float64(tx[i])
		}
		p, m := softmaxRef(xp, rows, cols), softmaxRef(xm, rows, cols)
		for i := range p {
			want[i] = (p[i] - m[i]) / (2 * h)
		}
		SoftmaxBackward(tx, y, tx, rows, cols)
		if i := ktClose(tx, want, 1e-5*(1+ktMaxAbs(want))); i >= 0 {
			t.Errorf("%s: tangent[%d] = %v, finite difference %v", name, i, tx[i], want[i])
		}
	}
}

func TestSoftmaxPanics(t *testing.T) {
	b := make([]float32, 6)
	ktPanics(t, "cpu: Softmax: y too short", func() { Softmax(b[:5], b, 2, 3) })
	ktPanics(t, "cpu: Softmax: invalid shape", func() { Softmax(b, b, 2, 0) })
	ktPanics(t, "cpu: SoftmaxBackward: g too short", func() { SoftmaxBackward(b, b, b[:1], 2, 3) })
}

func TestSoftmaxExp(t *testing.T) {
	worst := 0.0
	check := func(x float32) {
		got, want := float64(expNonPos32(x)), math.Exp(float64(x))
		if want < 0x1p-126 {
			if got > 0x1p-126 || got < 0 {
				t.Fatalf("exp(%v) = %v, want %v", x, got, want)
			}
			return
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
		if rel > 3e-7 {
			t.Fatalf("exp(%v) = %v, want %v (rel %v)", x, got, want, rel)
		}
	}
	for i := range 200000 {
		check(-float32(i) * 90 / 200000)
	}
	r := rand.New(rand.NewPCG(25, 26))
	for range 100000 {
		check(-float32(r.ExpFloat64()))
	}
	for _, x := range []float32{0, -0x1p-30, -87.33, -87.34, -88, -1e4, float32(math.Inf(-1))} {
		check(x)
	}
	if v := expNonPos32(float32(math.NaN())); !math.IsNaN(float64(v)) {
		t.Errorf("exp(NaN) = %v", v)
	}
	t.Logf("worst relative error %.3g", worst)
}
