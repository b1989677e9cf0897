package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gauss returns n points of N(mean, sigma² I) in len(mean) dimensions.
func gauss(r *rand.Rand, n int, mean []float64, sigma float64) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		p := make([]float64, len(mean))
		for k := range p {
			p[k] = mean[k] + sigma*r.NormFloat64()
		}
		out[i] = p
	}
	return out
}

// bruteMMD2 transcribes eq. (3) of Gretton et al. (2012) literally.
func bruteMMD2(x, y [][]float64, l float64) float64 {
	k := func(a, b []float64) float64 {
		s := 0.0
		for i := range a {
			s += (a[i] - b[i]) * (a[i] - b[i])
		}
		return math.Exp(-s / (2 * l * l))
	}
	n, m := len(x), len(y)
	var sxx, syy, sxy float64
	for i := range n {
		for j := range n {
			if i != j {
				sxx += k(x[i], x[j])
			}
		}
	}
	for i := range m {
		for j := range m {
			if i != j {
				syy += k(y[i], y[j])
			}
		}
	}
	for i := range n {
		for j := range m {
			sxy += k(x[i], y[j])
		}
	}
	return sxx/float64(n*(n-1)) + syy/float64(m*(m-1)) - 2*sxy/float64(n*m)
}

// TestMMD2Brute compares against the literal formula on small inputs,
// including n ≠ m and d = 1, 3; and checks symmetry in x, y.
func TestMMD2Brute(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ n, m, d int }{{2, 2, 1}, {3, 5, 2}, {7, 4, 3}, {30, 20, 2}} {
		x := gauss(r, c.n, make([]float64, c.d), 1)
		y := gauss(r, c.m, make([]float64, c.d), 1.5)
		for _, l := range []float64{0.3, 1, 4} {
			got, want := MMD2(x, y, l), bruteMMD2(x, y, l)
			// Same terms summed in a different order: rounding ~1e-16 per term.
			if math.Abs(got-want) > 1e-12 {
				t.Errorf("n=%d m=%d d=%d l=%v: MMD2 = %.17g, brute force %.17g", c.n, c.m, c.d, l, got, want)
			}
			if sym := MMD2(y, x, l); math.Abs(sym-got) > 1e-12 {
				t.Errorf("n=%d m=%d: MMD2(y,x) = %.17g, MMD2(x,y) = %.17g", c.n, c.m, sym, got)
			}
		}
	}
}

// populationMMD2 is the exact MMD² between N(0, s²I) and N(δ, s²I) in d
// dimensions with RBF bandwidth l: with c = (l²/(l²+2s²))^(d/2),
// MMD² = 2c (1 - exp(-|δ|²/(2(l²+2s²)))).
func populationMMD2(delta, s, l float64, d int) float64 {
	v := l*l + 2*s*s
	c := math.Pow(l*l/v, float64(d)/2)
	return 2 * c * (1 - math.Exp(-delta*delta/(2*v)))
}

// TestMMD2Gaussians checks the null case (≈ 0, sometimes negative), the
// closed form for shifted Gaussians, and growth with the shift.
func TestMMD2Gaussians(t *testing.T) {
	const nNull, reps, nAlt, l = 400, 20, 1000, 1.0
	r := rand.New(rand.NewPCG(7, 8))
	var null []float64
	negative := 0
	for range reps {
		v := MMD2(gauss(r, nNull, []float64{0, 0}, 1), gauss(r, nNull, []float64{0, 0}, 1), l)
		null = append(null, v)
		if v < 0 {
			negative++
		}
	}
	mean, sd := meanSD(null)
	// Unbiased: the replicate mean is within 4 standard errors of 0.
	if math.Abs(mean) > 4*sd/math.Sqrt(reps) {
		t.Errorf("null MMD2 mean %.3g, sd %.3g over %d reps: not ≈ 0", mean, sd, reps)
	}
	if negative == 0 || negative == reps {
		t.Errorf("null MMD2 was negative in %d of %d reps; an unbiased estimate takes both signs", negative, reps)
	}
	prev := 0.0
	for _, shift := range []float64{0.5, 1, 2, 3} {
		x := gauss(r, nAlt, []float64{0, 0}, 1)
		y := gauss(r, nAlt, []float64{shift, 0}, 1)
		got := MMD2(x, y, l)
		want := populationMMD2(shift, 1, l, 2)
		// Measured estimator sd at n = 300 was 0.0085, 0.020, 0.024, 0.030
		// for these shifts; at n = 1000 that is ≤ 0.017, so 0.05 is ~3-6 sd.
		if math.Abs(got-want) > 0.05 {
			t.Errorf("shift %v: MMD2 = %.4f, population %.4f", shift, got, want)
		}
		if got < 8*sd || got <= prev {
			t.Errorf("shift %v: MMD2 = %.4g, want > 8 null sd = %.3g and > previous %.3g", shift, got, 8*sd, prev)
		}
		prev = got
	}
}

func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(v)-1))
}

// TestMedianBandwidth checks the heuristic on a case with a known answer and
// on large Gaussian samples: for N(0, I_d) pooled, |p-q|² ~ 2χ²_d, whose
// median for d = 2 is 2·2 ln 2, so l = sqrt(2 ln 2).
func TestMedianBandwidth(t *testing.T) {
	// Points 0, 1, 3 on a line: squared distances 1, 4, 9 → median 4, l = sqrt 2.
	if got := MedianBandwidth([][]float64{{0}, {1}}, [][]float64{{3}}); math.Abs(got-math.Sqrt2) > 1e-15 {
		t.Errorf("MedianBandwidth(0,1 | 3) = %v, want sqrt(2)", got)
	}
	if got := MedianBandwidth([][]float64{{1, 1}, {1, 1}}, [][]float64{{1, 1}}); got != 1 {
		t.Errorf("MedianBandwidth of identical points = %v, want the fallback 1", got)
	}
	r := rand.New(rand.NewPCG(3, 4))
	x := gauss(r, 2500, []float64{0, 0}, 1) // subsampled to 1000
	y := gauss(r, 1500, []float64{0, 0}, 1)
	got := MedianBandwidth(x, y)
	want := math.Sqrt(2 * math.Ln2)
	// Sample median of ~2e6 correlated pairs from 2000 points: ~1% error.
	if math.Abs(got-want) > 0.03*want {
		t.Errorf("MedianBandwidth of N(0,I) = %.4f, want %.4f", got, want)
	}
	if again := MedianBandwidth(x, y); again != got {
		t.Errorf("MedianBandwidth not deterministic: %v then %v", got, again)
	}
}

// TestMMD2Panics checks that misuse panics with a message.
func TestMMD2Panics(t *testing.T) {
	ok := [][]float64{{0, 0}, {1, 1}}
	cases := map[string]func(){
		"one point":     func() { MMD2([][]float64{{0, 0}}, ok, 1) },
		"dimension":     func() { MMD2(ok, [][]float64{{0}, {1}}, 1) },
		"ragged":        func() { MMD2([][]float64{{0, 0}, {1}}, ok, 1) },
		"bandwidth 0":   func() { MMD2(ok, ok, 0) },
		"bandwidth NaN": func() { MMD2(ok, ok, math.NaN()) },
	}
	for name, f := range cases {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkMMD2(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := gauss(r, 2000, []float64{0, 0}, 1)
	y := gauss(r, 2000, []float64{0.1, 0}, 1)
	for b.Loop() {
		MMD2(x, y, 1)
	}
}

func BenchmarkMedianBandwidth(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := gauss(r, 2000, []float64{0, 0}, 1)
	y := gauss(r, 2000, []float64{0.1, 0}, 1)
	for b.Loop() {
		MedianBandwidth(x, y)
	}
}
