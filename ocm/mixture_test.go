package ocm

import (
	"errors"
	"math"
	"math/rand/v2"
	"ocm/sampler"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// randomMixture returns a k-component mixture in R^d with means ~ N(0, 0.5^2)
// and covariances 0.09 G G^T/d + 0.02 I (G standard normal), so condition
// numbers stay moderate.
func randomMixture(rng *rand.Rand, k, d int) *Mixture {
	w := make([]float64, k)
	means, covs := make([][]float64, k), make([][]float64, k)
	total := 0.0
	for i := range k {
		w[i] = 0.2 + rng.Float64()
		total += w[i]
		means[i] = make([]float64, d)
		g := make([]float64, d*d)
		for j := range means[i] {
			means[i][j] = 0.5 * rng.NormFloat64()
		}
		for j := range g {
			g[j] = rng.NormFloat64()
		}
		c := make([]float64, d*d)
		for r := range d {
			for s := range d {
				for j := range d {
					c[r*d+s] += 0.09 * g[r*d+j] * g[s*d+j] / float64(d)
				}
			}
			c[r*d+r] += 0.02
		}
		covs[i] = c
	}
	for i := range w {
		w[i] /= total
	}
	m, err := NewMixture(w, means, covs)
	if err != nil {
		panic(err)
	}
	return m
}

// testPoints returns n points of p_t (a x0 + sqrt(b) eps with x0 ~ p_0),
// plus two far from the data, where responsibilities saturate.
func testPoints(rng *rand.Rand, m *Mixture, a, b float64, n int) [][]float64 {
	pts := m.Sample(rng, n)
	for _, x := range pts {
		for i := range x {
			x[i] = a*x[i] + math.Sqrt(b)*rng.NormFloat64()
		}
	}
	far1, far2 := make([]float64, m.Dim), make([]float64, m.Dim)
	for i := range far1 {
		far1[i], far2[i] = 3, -2.5+0.1*float64(i)
	}
	return append(pts, far1, far2)
}

// maxAbs returns the largest |v_i|.
func maxAbs(v []float64) float64 {
	mx := 0.0
	for _, x := range v {
		mx = math.Max(mx, math.Abs(x))
	}
	return mx
}

// fdHessian returns the central difference of the score at x, (D*D).
func fdHessian(m *Mixture, x []float64, h float64) []float64 {
	d := m.Dim
	out := make([]float64, d*d)
	xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
	for j := range d {
		xp[j], xm[j] = x[j]+h, x[j]-h
		sp, sm := m.Score(xp), m.Score(xm)
		for i := range d {
			out[i*d+j] = (sp[i] - sm[i]) / (2 * h)
		}
		xp[j], xm[j] = x[j], x[j]
	}
	return out
}

// TestHessianMatchesFiniteDifferences checks Hessian against central
// differences of Score, and Score against central differences of LogPdf,
// in d = 2 (Mog9, Mog40 at several noise levels) and d = 5.
func TestHessianMatchesFiniteDifferences(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	cases := map[string]*Mixture{"random5d": randomMixture(rng, 6, 5)}
	for _, tt := range []int{0, 50, 300, 1000} {
		cases["mog9/t="+strconv.Itoa(tt)] = Mog9().Marginal(math.Sqrt(s.A[tt]), s.B[tt])
		cases["mog40/t="+strconv.Itoa(tt)] = Mog40().Marginal(math.Sqrt(s.A[tt]), s.B[tt])
	}
	for name, m := range cases {
		// Step 1e-3 times the smallest component std (>= 0.01 here):
		// truncation ~ h^2 |d^3 log p| ~ 1e-6 relative, roundoff
		// eps |s| / h ~ 1e-10 relative. Tolerance 1e-5 of the scale.
		h := 1e-3 * math.Sqrt(minEigBound(m))
		for _, x := range testPoints(rng, m, 1, 0, 25) {
			hess := m.Hessian(x)
			fd := fdHessian(m, x, h)
			tol := 1e-5 * math.Max(maxAbs(hess), 1)
			for i := range hess {
				if math.Abs(hess[i]-fd[i]) > tol {
					t.Fatalf("%s x=%v: Hessian[%d] = %g, finite difference %g", name, x, i, hess[i], fd[i])
				}
			}
			checkScoreFD(t, name, m, x, h)
		}
	}
}

func checkScoreFD(t *testing.T, name string, m *Mixture, x []float64, h float64) {
	t.Helper()
	score := m.Score(x)
	tol := 1e-5 * math.Max(maxAbs(score), 1)
	xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
	for i := range x {
		xp[i], xm[i] = x[i]+h, x[i]-h
		fd := (m.LogPdf(xp) - m.LogPdf(xm)) / (2 * h)
		xp[i], xm[i] = x[i], x[i]
		if math.Abs(fd-score[i]) > tol {
			t.Fatalf("%s x=%v: score[%d] = %g, finite difference of LogPdf %g", name, x, i, score[i], fd)
		}
	}
}

// minEigBound returns a lower bound on the smallest covariance eigenvalue
// of any component: the smallest squared Cholesky diagonal.
func minEigBound(m *Mixture) float64 {
	mn := math.Inf(1)
	for _, l := range m.chol {
		for i := range m.Dim {
			mn = math.Min(mn, l[i*m.Dim+i]*l[i*m.Dim+i])
		}
	}
	return mn
}

// TestPosteriorMatchesTweedie checks ocm-math §3.1/§7: the per-component
// posterior equals the second-order Tweedie formula
// Cov[x0|xt] = (b/a^2)(I + b H_t(xt)) and E[x0|xt] = (xt + b s_t(xt))/a,
// along the LS schedule, for Mog9, Mog40 and a random 3-D mixture.
func TestPosteriorMatchesTweedie(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	for name, m := range map[string]*Mixture{"mog9": Mog9(), "mog40": Mog40(), "random3d": randomMixture(rng, 4, 3)} {
		d := m.Dim
		for _, tt := range []int{1, 2, 5, 20, 100, 250, 500, 750, 900, 1000} {
			p := m.DiffuseAt(s, tt)
			a, b := p.Scale, p.NoiseVar
			mean, cov := make([]float64, d), make([]float64, d*d)
			score, hess := make([]float64, d), make([]float64, d*d)
			for _, x := range testPoints(rng, m, a, b, 40) {
				p.PosteriorInto(mean, cov, x)
				p.Marginal.ScoreHessianInto(score, hess, x)
				checkTweedie(t, name, tt, x, a, b, mean, cov, score, hess)
			}
		}
	}
}

func checkTweedie(t *testing.T, name string, tt int, x []float64, a, b float64, mean, cov, score, hess []float64) {
	t.Helper()
	d := len(x)
	// Tweedie's I + bH cancels to O(a^2 S/b) at large t, so its rounding
	// error grows like (b/a^2) * 1e-16 (b/a^2 = 2.5e4 at t = N); the
	// posterior side has no cancellation. Observed worst case ~1e-10 of
	// max|Cov| (at t = N); tolerance 1e-9 of max|Cov|.
	tol := 1e-9 * maxAbs(cov)
	for i := range d {
		for j := range d {
			id := 0.0
			if i == j {
				id = 1
			}
			want := b / (a * a) * (id + b*hess[i*d+j])
			if math.Abs(cov[i*d+j]-want) > tol {
				t.Fatalf("%s t=%d x=%v: Cov[%d,%d] = %.15g, Tweedie %.15g (tol %g)", name, tt, x, i, j, cov[i*d+j], want, tol)
			}
		}
		// (x + b s)/a: x and b s cancel to O(a), error ~ |x| 1e-16 / a.
		want := (x[i] + b*score[i]) / a
		if math.Abs(mean[i]-want) > 1e-12*(1+maxAbs(x)/a) {
			t.Fatalf("%s t=%d x=%v: E[%d] = %.15g, Tweedie %.15g", name, tt, x, i, mean[i], want)
		}
	}
}

// TestPosteriorLimits checks b = 0 (point mass at x_t/a) and the
// convenience Posterior against PosteriorInto.
func TestPosteriorLimits(t *testing.T) {
	m := Mog40()
	x := []float64{0.3, -0.2}
	mean, cov := m.Posterior(x, 1, 0)
	if maxAbs([]float64{mean[0] - x[0], mean[1] - x[1]}) > 1e-15 || maxAbs(cov) > 1e-15 {
		t.Errorf("b=0 posterior = %v, %v; want point mass at %v", mean, cov, x)
	}
	m2, c2 := m.Posterior(x, 0.5, 0.75)
	mean3, cov3 := make([]float64, 2), make([]float64, 4)
	m.Diffuse(0.5, 0.75).PosteriorInto(mean3, cov3, x)
	for i := range cov3 {
		if cov3[i] != c2[i] || mean3[i%2] != m2[i%2] {
			t.Fatalf("Posterior and PosteriorInto differ: %v %v vs %v %v", m2, c2, mean3, cov3)
		}
	}
}

// TestSampleMoments draws from a single anisotropic Gaussian and from
// Mog40 and compares sample mean and covariance with the exact ones
// within 5 standard errors.
func TestSampleMoments(t *testing.T) {
	single, err := NewMixture([]float64{1}, [][]float64{{0.5, -1}}, [][]float64{{0.09, 0.06, 0.06, 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for name, m := range map[string]*Mixture{"single": single, "mog40": Mog40()} {
		const n = 200000
		xs := m.Sample(rng, n)
		d, mean, cov := m.Dim, m.Mean(), m.Cov()
		got := make([]float64, d)
		gotCov := make([]float64, d*d)
		for _, x := range xs {
			for i := range d {
				got[i] += x[i] / n
				for j := range d {
					gotCov[i*d+j] += (x[i] - mean[i]) * (x[j] - mean[j]) / n
				}
			}
		}
		for i := range d {
			if se := math.Sqrt(cov[i*d+i] / n); math.Abs(got[i]-mean[i]) > 5*se {
				t.Errorf("%s: sample mean[%d] = %g, want %g ± %g", name, i, got[i], mean[i], 5*se)
			}
			for j := range d {
				// Var(x_i x_j) <= 3 S_ii S_jj for Gaussians; a loose
				// bound that also holds for these mixtures.
				se := math.Sqrt(3 * cov[i*d+i] * cov[j*d+j] / n)
				if math.Abs(gotCov[i*d+j]-cov[i*d+j]) > 5*se {
					t.Errorf("%s: sample cov[%d,%d] = %g, want %g ± %g", name, i, j, gotCov[i*d+j], cov[i*d+j], 5*se)
				}
			}
		}
	}
}

// TestLogPdfSingleGaussian checks LogPdf against the closed form and that
// the score stays finite far from the data (no 0/0 in the log-sum-exp).
func TestLogPdfSingleGaussian(t *testing.T) {
	m, err := NewMixture([]float64{1}, [][]float64{{1, 2}}, [][]float64{{4, 0, 0, 0.25}})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{2, 1.5}
	want := -math.Log(2*math.Pi) - 0.5*math.Log(1) - 0.5*(1.0/4+0.25/0.25)
	if e := math.Abs(m.LogPdf(x) - want); e > 1e-14 {
		t.Errorf("LogPdf = %.16g, want %.16g", m.LogPdf(x), want)
	}
	far := []float64{1e4, -1e4}
	for _, mm := range []*Mixture{Mog9(), Mog40()} {
		s, h := mm.Score(far), mm.Hessian(far)
		if firstNonFinite(s) >= 0 || firstNonFinite(h) >= 0 || math.IsInf(mm.LogPdf(far), 0) {
			t.Errorf("far point: score %v, Hessian %v, log p %v", s, h, mm.LogPdf(far))
		}
	}
}

func TestToyMixtures(t *testing.T) {
	m9, m40 := Mog9(), Mog40()
	if m9.K() != 9 || m9.Dim != 2 || m40.K() != 40 || m40.Dim != 2 {
		t.Fatalf("Mog9: K=%d D=%d; Mog40: K=%d D=%d", m9.K(), m9.Dim, m40.K(), m40.Dim)
	}
	if mean := m9.Mean(); maxAbs(mean) > 1e-15 {
		t.Errorf("Mog9 mean %v, want 0 (symmetric)", mean)
	}
	again := Mog40()
	minW, maxW := 1.0, 0.0
	for k := range m40.Weights {
		if again.Means[k][0] != m40.Means[k][0] || again.Covs[k][1] != m40.Covs[k][1] {
			t.Fatal("Mog40 is not deterministic")
		}
		if maxAbs(m40.Means[k]) > 0.75 {
			t.Errorf("Mog40 mean %d = %v outside [-0.75, 0.75]^2", k, m40.Means[k])
		}
		minW, maxW = math.Min(minW, m40.Weights[k]), math.Max(maxW, m40.Weights[k])
	}
	if maxW < 1.5*minW {
		t.Errorf("Mog40 weights are nearly equal: %g..%g", minW, maxW)
	}
	// Non-symmetric: the mean is off the origin and the off-diagonal
	// covariance entries are not all zero.
	if maxAbs(m40.Mean()) < 0.01 || math.Abs(m40.Covs[0][1]) < 1e-6 {
		t.Errorf("Mog40 looks symmetric: mean %v, cov[0] %v", m40.Mean(), m40.Covs[0])
	}
}

func TestNewMixtureErrors(t *testing.T) {
	okMean, okCov := [][]float64{{0, 0}}, [][]float64{{1, 0, 0, 1}}
	for _, c := range []struct {
		name  string
		w     []float64
		means [][]float64
		covs  [][]float64
		want  string
	}{
		{"empty", nil, nil, nil, "weights: no components"},
		{"sum", []float64{0.9}, okMean, okCov, "weights: sum to 0.9"},
		{"negative", []float64{1.5, -0.5}, [][]float64{{0, 0}, {1, 1}}, [][]float64{{1, 0, 0, 1}, {1, 0, 0, 1}}, "weights[1]"},
		{"NaN weight", []float64{math.NaN()}, okMean, okCov, "weights[0]"},
		{"counts", []float64{1}, [][]float64{{0}, {1}}, okCov, "1 weights, 2 means and 1 covariances"},
		{"dim 0", []float64{1}, [][]float64{{}}, [][]float64{{}}, "means[0]: empty"},
		{"ragged mean", []float64{0.5, 0.5}, [][]float64{{0, 0}, {1}}, [][]float64{{1, 0, 0, 1}, {1}}, "means[1]: length 1, want 2"},
		{"cov size", []float64{1}, okMean, [][]float64{{1, 0, 1}}, "covariances[0]: 3 entries"},
		{"Inf mean", []float64{1}, [][]float64{{0, math.Inf(1)}}, okCov, "means[0]: entry 1"},
		{"NaN cov", []float64{1}, okMean, [][]float64{{1, math.NaN(), 0, 1}}, "covariances[0]: entry (0,1)"},
		{"asymmetric", []float64{1}, okMean, [][]float64{{1, 0.5, 0.4, 1}}, "covariances[0]: not symmetric"},
		{"not PD", []float64{1}, okMean, [][]float64{{1, 2, 2, 1}}, "covariances[0]: not positive definite"},
		{"singular", []float64{1}, okMean, [][]float64{{1, 1, 1, 1}}, "not positive definite"},
	} {
		_, err := NewMixture(c.w, c.means, c.covs)
		var me *MixtureError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want a *MixtureError mentioning %q", c.name, err, c.want)
		}
	}
}

func TestParseMixtureJSONErrors(t *testing.T) {
	const cov = `[[1,0],[0,1]]`
	for _, c := range []struct{ name, json, want string }{
		{"not object", `[1]`, "json: want a JSON object"},
		{"empty", ``, "json:"},
		{"unknown field", `{"weights":[1],"means":[[0,0]],"covariances":[` + cov + `],"cov":1}`, `cov: unknown field`},
		{"duplicate", `{"weights":[1],"weights":[1],"means":[[0,0]],"covariances":[` + cov + `]}`, "weights: duplicate field"},
		{"missing", `{"weights":[1],"means":[[0,0]]}`, "covariances: missing field"},
		{"NaN", `{"weights":[NaN],"means":[[0,0]],"covariances":[` + cov + `]}`, "weights: invalid JSON at byte"},
		{"overflow", `{"weights":[1],"means":[[1e400,0]],"covariances":[` + cov + `]}`, "means: number 1e400"},
		{"string", `{"weights":["1"],"means":[[0,0]],"covariances":[` + cov + `]}`, "weights: string"},
		{"flat cov", `{"weights":[1],"means":[[0,0]],"covariances":[[1,0,0,1]]}`, "covariances: number"},
		{"trailing", `{"weights":[1],"means":[[0,0]],"covariances":[` + cov + `]} {}`, "json: trailing data"},
		{"truncated", `{"weights":[1],"means":[[0,0]]`, "json:"},
		{"ragged cov", `{"weights":[1],"means":[[0,0]],"covariances":[[[1,0],[0]]]}`, "covariances[0]: row 1 has 1 entries"},
		{"dim mismatch", `{"weights":[1],"means":[[0,0,0]],"covariances":[` + cov + `]}`, "covariances[0]: 4 entries, want 3×3"},
		{"count mismatch", `{"weights":[0.5,0.5],"means":[[0,0]],"covariances":[` + cov + `]}`, "2 weights, 1 means"},
		{"non-PD", `{"weights":[1],"means":[[0,0]],"covariances":[[[1,2],[2,1]]]}`, "covariances[0]: not positive definite"},
		{"weights sum", `{"weights":[0.5,0.6],"means":[[0,0],[1,1]],"covariances":[` + cov + `,` + cov + `]}`, "weights: sum to 1.1"},
	} {
		_, err := ParseMixtureJSON([]byte(c.json))
		var me *MixtureError
		if !errors.As(err, &me) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want a *MixtureError mentioning %q", c.name, err, c.want)
		}
	}
}

// TestMixtureJSONRoundTrip loads testdata/mixture3d.json, checks a few
// values, and checks that MarshalJSON followed by ParseMixtureJSON gives
// the same mixture bit for bit.
func TestMixtureJSONRoundTrip(t *testing.T) {
	path := filepath.Join("testdata", "mixture3d.json")
	m, err := LoadMixtureJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.K() != 3 || m.Dim != 3 || m.Means[2][2] != -0.6 || m.Covs[0][1*3+2] != -0.02 {
		t.Fatalf("loaded %+v", m)
	}
	data, err := m.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	m2, err := ParseMixtureJSON(data)
	if err != nil {
		t.Fatalf("re-parse: %v\n%s", err, data)
	}
	for k := range m.Weights {
		// Renormalising weights that already sum to 1 within an ulp may
		// move them by an ulp.
		if math.Abs(m2.Weights[k]-m.Weights[k]) > 1e-15*math.Abs(m.Weights[k]) {
			t.Errorf("weight %d: %v vs %v", k, m2.Weights[k], m.Weights[k])
		}
		for i := range m.Means[k] {
			if m2.Means[k][i] != m.Means[k][i] {
				t.Errorf("mean %d: %v vs %v", k, m2.Means[k], m.Means[k])
			}
		}
		for i := range m.Covs[k] {
			if m2.Covs[k][i] != m.Covs[k][i] {
				t.Errorf("cov %d: %v vs %v", k, m2.Covs[k], m.Covs[k])
			}
		}
	}
	if _, err := LoadMixtureJSON(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want os.ErrNotExist", err)
	}
}

// TestMixtureHotPathsDoNotAllocate checks the Into variants after warm-up.
func TestMixtureHotPathsDoNotAllocate(t *testing.T) {
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	p := Mog40().DiffuseAt(s, 300)
	x := []float64{0.1, 0.2}
	score, hess, mean, cov := make([]float64, 2), make([]float64, 4), make([]float64, 2), make([]float64, 4)
	for name, f := range map[string]func(){
		"ScoreInto":        func() { p.Marginal.ScoreInto(score, x) },
		"ScoreHessianInto": func() { p.Marginal.ScoreHessianInto(score, hess, x) },
		"LogPdf":           func() { p.Marginal.LogPdf(x) },
		"PosteriorInto":    func() { p.PosteriorInto(mean, cov, x) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}

func BenchmarkMog40(b *testing.B) {
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	p := Mog40().DiffuseAt(s, 300)
	x := []float64{0.1, 0.2}
	score, hess, mean, cov := make([]float64, 2), make([]float64, 4), make([]float64, 2), make([]float64, 4)
	b.Run("ScoreInto", func(b *testing.B) {
		for b.Loop() {
			p.Marginal.ScoreInto(score, x)
		}
	})
	b.Run("ScoreHessianInto", func(b *testing.B) {
		for b.Loop() {
			p.Marginal.ScoreHessianInto(score, hess, x)
		}
	})
	b.Run("PosteriorInto", func(b *testing.B) {
		for b.Loop() {
			p.PosteriorInto(mean, cov, x)
		}
	})
}

// FuzzParseMixtureJSON checks that the parser never panics and that every
// accepted input survives MarshalJSON and a second parse. Seeded from
// testdata; skipped under -short.
func FuzzParseMixtureJSON(f *testing.F) {
	if testing.Short() {
		f.Skip("fuzz seeds skipped under -short")
	}
	seed, err := os.ReadFile(filepath.Join("testdata", "mixture3d.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"weights":[1],"means":[[0]],"covariances":[[[1]]]}`))
	f.Add([]byte(`{"weights":[0.5,0.5],"means":[[0,0],[1,1]],"covariances":[[[1,0],[0,1]],[[1,0.5],[0.5,1]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 { // keep each case fast
			return
		}
		m, err := ParseMixtureJSON(data)
		if err != nil {
			return
		}
		out, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseMixtureJSON(out); err != nil {
			t.Fatalf("accepted %q but not its re-encoding %q: %v", data, out, err)
		}
	})
}
