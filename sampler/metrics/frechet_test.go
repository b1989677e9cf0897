package metrics

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// gaussianSet returns n points x = mu + L·z, z standard normal, L (d×d,
// row-major) a mixing matrix (nil for the identity).
func gaussianSet(r *rand.Rand, n int, mu, l []float64) [][]float64 {
	d := len(mu)
	out := make([][]float64, n)
	z := make([]float64, d)
	for i := range out {
		for k := range z {
			z[k] = r.NormFloat64()
		}
		row := make([]float64, d)
		for j := range row {
			row[j] = mu[j]
			if l == nil {
				row[j] += z[j]
				continue
			}
			for k := range d {
				row[j] += l[j*d+k] * z[k]
			}
		}
		out[i] = row
	}
	return out
}

// randomMatrix returns a d×d matrix with standard normal entries.
func randomMatrix(r *rand.Rand, d int) []float64 {
	m := make([]float64, d*d)
	for i := range m {
		m[i] = r.NormFloat64()
	}
	return m
}

func fd(t *testing.T, a, b [][]float64) float64 {
	t.Helper()
	v, err := FrechetDistance(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkRel(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g (tolerance %g)", what, got, want, tol)
	}
}

func TestJacobiEigen(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const d = 12
	g := randomMatrix(r, d)
	sym := make([]float64, d*d)
	for i := range d {
		for j := range d {
			sym[i*d+j] = g[i*d+j] + g[j*d+i]
		}
	}
	// Repeated eigenvalues: the identity plus a rank-one term (eigenvalues 1
	// eleven times and 1 + |u|²).
	u := randomMatrix(r, d)[:d]
	rep := make([]float64, d*d)
	for i := range d {
		rep[i*d+i] = 1
		for j := range d {
			rep[i*d+j] += u[i] * u[j]
		}
	}
	for name, a := range map[string][]float64{"random": sym, "repeated": rep, "zero": make([]float64, d*d)} {
		lam, v, err := jacobiEigen(a, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		norm := 0.0
		for _, x := range a {
			norm = math.Max(norm, math.Abs(x))
		}
		for i := range d {
			for j := range d {
				rec, dot := 0.0, 0.0
				for k := range d {
					rec += v[i*d+k] * lam[k] * v[j*d+k]
					dot += v[k*d+i] * v[k*d+j]
				}
				if math.Abs(rec-a[i*d+j]) > 1e-12*math.Max(norm, 1) {
					t.Fatalf("%s: (V Λ Vᵀ)[%d][%d] = %g, want %g", name, i, j, rec, a[i*d+j])
				}
				if want := float64(b2i(i == j)); math.Abs(dot-want) > 1e-12 {
					t.Fatalf("%s: (VᵀV)[%d][%d] = %g, want %g", name, i, j, dot, want)
				}
			}
		}
	}
	// The trace is the sum of the eigenvalues.
	lam, _, _ := jacobiEigen(rep, d)
	sum, uu := 0.0, 0.0
	for k := range d {
		sum += lam[k]
		uu += u[k] * u[k]
	}
	checkRel(t, "Σλ of I + uuᵀ", sum, d+uu, 1e-12)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFrechetIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	mu := []float64{1, -2, 3, 0, 0.5, 7, -1, 2}
	a := gaussianSet(r, 300, mu, randomMatrix(r, 8))
	if v := fd(t, a, a); v > 1e-9 {
		t.Errorf("FD(a, a) = %g, want 0", v)
	}
	// Fewer vectors than dimensions: singular covariances still work.
	s := gaussianSet(r, 4, make([]float64, 10), nil)
	if v := fd(t, s, s); v > 1e-9 {
		t.Errorf("FD(s, s) with singular covariance = %g, want 0", v)
	}
}

// factorial returns the 2^d points with coordinates mu_j ± sigma_j (every sign
// pattern), reps times: centred orthogonal columns, so the sample mean is mu
// and the sample covariance is exactly diagonal.
func factorial(mu, sigma []float64, reps int) [][]float64 {
	d := len(mu)
	var out [][]float64
	for range reps {
		for p := range 1 << d {
			row := make([]float64, d)
			for j := range d {
				s := 1.0
				if p>>j&1 == 1 {
					s = -1
				}
				row[j] = mu[j] + s*sigma[j]
			}
			out = append(out, row)
		}
	}
	return out
}

// sampleVar returns the mean and sample variance (n − 1) of coordinate j.
func sampleVar(s [][]float64, j int) (mean, v float64) {
	for _, row := range s {
		mean += row[j]
	}
	mean /= float64(len(s))
	for _, row := range s {
		v += (row[j] - mean) * (row[j] - mean)
	}
	return mean, v / float64(len(s)-1)
}

func TestFrechetDiagonal(t *testing.T) {
	a := factorial([]float64{0, 1, -2, 3}, []float64{1, 2, 0.5, 3}, 1)
	b := factorial([]float64{1, 1, 0, -1}, []float64{0.25, 2, 4, 1}, 2)
	want := 0.0
	for j := range 4 {
		ma, va := sampleVar(a, j)
		mb, vb := sampleVar(b, j)
		want += (ma-mb)*(ma-mb) + va + vb - 2*math.Sqrt(va*vb)
	}
	// Σ (mean difference)² = 1 + 0 + 4 + 16 = 21, and the variances are
	// σ²·16/15 and σ²·32/31.
	checkRel(t, "FD of diagonal sets", fd(t, a, b), want, 1e-12)
	if want < 21 {
		t.Fatalf("closed form %g below the mean term 21", want)
	}

	// Random independent coordinates: the sample statistics are close to the
	// population ones, μ = 0, 1 vs 0, 3 and σ = 1, 2 vs 3, 2.
	r := rand.New(rand.NewPCG(5, 6))
	x := gaussianSet(r, 20000, []float64{0, 1}, []float64{1, 0, 0, 2})
	y := gaussianSet(r, 20000, []float64{0, 3}, []float64{3, 0, 0, 2})
	checkRel(t, "FD of independent Gaussians", fd(t, x, y), 4+(1-3)*(1-3), 0.05)
}

// cov2 returns the sample mean and covariance [sxx sxy syy] of 2-D points.
func cov2(s [][]float64) (mx, my, sxx, sxy, syy float64) {
	n := float64(len(s))
	for _, p := range s {
		mx += p[0] / n
		my += p[1] / n
	}
	for _, p := range s {
		dx, dy := p[0]-mx, p[1]-my
		sxx += dx * dx / (n - 1)
		sxy += dx * dy / (n - 1)
		syy += dy * dy / (n - 1)
	}
	return
}

func TestFrechet2x2(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := range 5 {
		a := gaussianSet(r, 50+trial, []float64{r.NormFloat64(), r.NormFloat64()}, randomMatrix(r, 2))
		b := gaussianSet(r, 70, []float64{r.NormFloat64(), r.NormFloat64()}, randomMatrix(r, 2))
		ax, ay, axx, axy, ayy := cov2(a)
		bx, by, bxx, bxy, byy := cov2(b)
		// ΣaΣb has the eigenvalues of Σa^½ Σb Σa^½ (they are similar), so
		// tr (Σa^½ Σb Σa^½)^½ = √λ1 + √λ2 = √(tr M + 2√det M), M = ΣaΣb.
		m00 := axx*bxx + axy*bxy
		m11 := axy*bxy + ayy*byy
		det := (axx*ayy - axy*axy) * (bxx*byy - bxy*bxy)
		trSqrt := math.Sqrt(m00 + m11 + 2*math.Sqrt(det))
		want := (ax-bx)*(ax-bx) + (ay-by)*(ay-by) + axx + ayy + bxx + byy - 2*trSqrt
		checkRel(t, "FD of 2-D sets", fd(t, a, b), want, 1e-10)
	}
}

func TestFrechetTranslationAndScaling(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const d = 10
	a := gaussianSet(r, 400, make([]float64, d), randomMatrix(r, d))
	shift := make([]float64, d)
	norm2 := 0.0
	for j := range shift {
		shift[j] = r.NormFloat64()
		norm2 += shift[j] * shift[j]
	}
	b := make([][]float64, len(a))
	c := make([][]float64, len(a))
	tr := 0.0
	for j := range d {
		_, v := sampleVar(a, j)
		tr += v
	}
	mean := make([]float64, d)
	for j := range d {
		mean[j], _ = sampleVar(a, j)
	}
	const k = 2.5
	for i, row := range a {
		b[i] = make([]float64, d)
		c[i] = make([]float64, d)
		for j := range d {
			b[i][j] = row[j] + shift[j]
			c[i][j] = mean[j] + k*(row[j]-mean[j])
		}
	}
	// Same covariance: only the means differ.
	checkRel(t, "FD(a, a + c)", fd(t, a, b), norm2, 1e-9)
	// Σc = k²Σa, same mean: tr(Σ + k²Σ − 2kΣ) = (1 − k)² tr Σ.
	checkRel(t, "FD(a, scaled a)", fd(t, a, c), (1-k)*(1-k)*tr, 1e-9)
}

func TestFrechetSymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const d = 16
	a := gaussianSet(r, 200, make([]float64, d), randomMatrix(r, d))
	mu := make([]float64, d)
	mu[3] = 2
	b := gaussianSet(r, 150, mu, randomMatrix(r, d))
	ab, ba := fd(t, a, b), fd(t, b, a)
	checkRel(t, "FD(b, a)", ba, ab, 1e-9)
	if ab <= 4 {
		t.Errorf("FD = %g, want more than the mean term 4", ab)
	}
}

func TestFrechetErrors(t *testing.T) {
	ok := [][]float64{{1, 2}, {3, 4}, {5, 7}}
	cases := []struct {
		name string
		a, b [][]float64
		want string
	}{
		{"one vector", [][]float64{{1, 2}}, ok, "a has 1 vectors"},
		{"empty b", ok, nil, "b has 0 vectors"},
		{"widths", ok, [][]float64{{1, 2, 3}, {4, 5, 6}}, "a has width 2, b has 3"},
		{"ragged", ok, [][]float64{{1, 2}, {4}}, "b vector 1 has width 1"},
		{"zero width", [][]float64{{}, {}}, [][]float64{{}, {}}, "width 0"},
		{"nan", ok, [][]float64{{1, 2}, {math.NaN(), 5}}, "NaN"},
		{"inf", [][]float64{{1, 2}, {math.Inf(1), 5}}, ok, "+Inf"},
	}
	for _, c := range cases {
		_, err := FrechetDistance(c.a, c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "metrics: Fréchet distance: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
