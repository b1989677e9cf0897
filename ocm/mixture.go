package ocm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"ocm/sampler"
	"sync"
)

// Mixture is a Gaussian mixture p(x) = sum_k w_k N(x; mu_k, S_k) in R^D with
// exact log-density, score, Hessian and (through Diffused) the exact
// posterior of x0 under the forward process (ocm-math §7).
//
// Build it with NewMixture (or Mog9, Mog40, ParseMixtureJSON): the exported
// fields are read-only afterwards, since the cached factors derive from them.
// A Mixture is safe for concurrent use.
type Mixture struct {
	Dim     int         // D
	Weights []float64   // (K) positive, summing to 1
	Means   [][]float64 // (K)(D)
	Covs    [][]float64 // (K)(D*D) row-major, symmetric positive definite

	chol    [][]float64 // (K)(D*D) lower Cholesky factor L_k of Covs[k]
	prec    [][]float64 // (K)(D*D) Covs[k]^{-1}
	logNorm []float64   // (K) log w_k - log det(S_k)/2 - D log(2 pi)/2
	scratch *sync.Pool  // of *mixScratch, so hot calls do not allocate
}

// mixScratch is per-call workspace for a mixture with K components in R^D.
type mixScratch struct {
	r []float64 // (K) responsibilities r_k(x)
	g []float64 // (K*D) g_k = -S_k^{-1}(x - mu_k)
	u []float64 // (K*D) per-component posterior means
	s []float64 // (D) score
	v []float64 // (D) temporary
}

// weightSumTol is how far the input weights may sum from 1 before
// NewMixture refuses them; within it they are renormalised. It admits
// weights printed with ~7 significant digits.
const weightSumTol = 1e-6

// symTol is the relative asymmetry NewMixture accepts in a covariance
// (then symmetrised): a few ulps of rounding from computing R D R^T.
const symTol = 1e-12

// NewMixture validates and copies a mixture definition. Weights must be
// finite and positive and sum to 1 within 1e-6 (they are renormalised);
// all means must have the same length D >= 1; covs[k] is row-major D×D,
// finite, symmetric and positive definite. Errors are *MixtureError values
// naming the component and the problem.
func NewMixture(weights []float64, means [][]float64, covs [][]float64) (*Mixture, error) {
	if err := checkMixtureShapes(weights, means, covs); err != nil {
		return nil, err
	}
	k, d := len(weights), len(means[0])
	m := &Mixture{Dim: d, Weights: make([]float64, k), Means: make([][]float64, k), Covs: make([][]float64, k)}
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	if math.Abs(sum-1) > weightSumTol {
		return nil, &MixtureError{Field: "weights", Component: -1,
			Problem: fmt.Sprintf("sum to %v, want 1 within %g", sum, weightSumTol)}
	}
	for i := range k {
		m.Weights[i] = weights[i] / sum
		m.Means[i] = append([]float64(nil), means[i]...)
		m.Covs[i] = symmetrised(covs[i], d)
	}
	if err := m.factor(); err != nil {
		return nil, err
	}
	return m, nil
}

// checkMixtureShapes checks counts, lengths, finiteness, positivity of the
// weights and symmetry of the covariances.
func checkMixtureShapes(weights []float64, means [][]float64, covs [][]float64) error {
	k := len(weights)
	if k == 0 {
		return &MixtureError{Field: "weights", Component: -1, Problem: "no components"}
	}
	if len(means) != k || len(covs) != k {
		return &MixtureError{Field: "means", Component: -1, Problem: fmt.Sprintf(
			"%d weights, %d means and %d covariances; want equal counts", k, len(means), len(covs))}
	}
	d := len(means[0])
	if d == 0 {
		return &MixtureError{Field: "means", Component: 0, Problem: "empty mean (dimension 0)"}
	}
	for i := range k {
		if w := weights[i]; !(w > 0) || math.IsInf(w, 1) {
			return &MixtureError{Field: "weights", Component: i, Problem: fmt.Sprintf("weight %v is not finite and positive", w)}
		}
		if len(means[i]) != d {
			return &MixtureError{Field: "means", Component: i, Problem: fmt.Sprintf("length %d, want %d", len(means[i]), d)}
		}
		if len(covs[i]) != d*d {
			return &MixtureError{Field: "covariances", Component: i, Problem: fmt.Sprintf("%d entries, want %d×%d", len(covs[i]), d, d)}
		}
		if j := firstNonFinite(means[i]); j >= 0 {
			return &MixtureError{Field: "means", Component: i, Problem: fmt.Sprintf("entry %d is %v", j, means[i][j])}
		}
		if j := firstNonFinite(covs[i]); j >= 0 {
			return &MixtureError{Field: "covariances", Component: i, Problem: fmt.Sprintf("entry (%d,%d) is %v", j/d, j%d, covs[i][j])}
		}
		if err := checkSymmetric(covs[i], d); err != "" {
			return &MixtureError{Field: "covariances", Component: i, Problem: err}
		}
	}
	return nil
}

// factor fills the Cholesky factors, inverses and normalisers.
func (m *Mixture) factor() error {
	k, d := len(m.Weights), m.Dim
	m.chol, m.prec, m.logNorm = make([][]float64, k), make([][]float64, k), make([]float64, k)
	for i := range k {
		l, ok := cholLower(m.Covs[i], d)
		if !ok {
			return &MixtureError{Field: "covariances", Component: i, Problem: "not positive definite"}
		}
		m.chol[i] = l
		m.prec[i] = cholInverse(l, d)
		logDet := 0.0
		for j := range d {
			logDet += 2 * math.Log(l[j*d+j])
		}
		m.logNorm[i] = math.Log(m.Weights[i]) - logDet/2 - float64(d)*math.Log(2*math.Pi)/2
	}
	m.scratch = &sync.Pool{New: func() any {
		return &mixScratch{r: make([]float64, k), g: make([]float64, k*d),
			u: make([]float64, k*d), s: make([]float64, d)}
	}}
	return nil
}

// MixtureError reports an invalid mixture definition or mixture file.
type MixtureError struct {
	Field     string // "weights", "means", "covariances", or "json" for the file syntax
	Component int    // component index, or -1 if the problem is not about one component
	Problem   string
}

// Error implements error, e.g. "ocm: mixture: covariances[2]: not positive definite".
func (e *MixtureError) Error() string {
	if e.Component < 0 {
		return fmt.Sprintf("ocm: mixture: %s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("ocm: mixture: %s[%d]: %s", e.Field, e.Component, e.Problem)
}

// K returns the number of components.
func (m *Mixture) K() int { return len(m.Weights) }

// Mean returns the mixture mean sum_k w_k mu_k, (D).
func (m *Mixture) Mean() []float64 {
	mean := make([]float64, m.Dim)
	for k, w := range m.Weights {
		for i, v := range m.Means[k] {
			mean[i] += w * v
		}
	}
	return mean
}

// Cov returns the mixture covariance sum_k w_k (S_k + (mu_k-mu)(mu_k-mu)^T), (D*D).
func (m *Mixture) Cov() []float64 {
	d, mean := m.Dim, m.Mean()
	cov := make([]float64, d*d)
	for k, w := range m.Weights {
		for i := range d {
			di := m.Means[k][i] - mean[i]
			for j := range d {
				cov[i*d+j] += w * (m.Covs[k][i*d+j] + di*(m.Means[k][j]-mean[j]))
			}
		}
	}
	return cov
}

// Sample draws n points, (n)(D), from the mixture using rng (math/rand/v2).
// The points share one backing array.
func (m *Mixture) Sample(rng *rand.Rand, n int) [][]float64 {
	d := m.Dim
	slab := make([]float64, n*d)
	out := make([][]float64, n)
	z := make([]float64, d)
	for i := range out {
		x := slab[i*d : (i+1)*d : (i+1)*d]
		k := m.pickComponent(rng.Float64())
		for j := range z {
			z[j] = rng.NormFloat64()
		}
		l := m.chol[k]
		for r := range d {
			acc := m.Means[k][r]
			for c := 0; c <= r; c++ {
				acc += l[r*d+c] * z[c]
			}
			x[r] = acc
		}
		out[i] = x
	}
	return out
}

// pickComponent returns the component whose cumulative weight interval holds u in [0,1).
func (m *Mixture) pickComponent(u float64) int {
	last := len(m.Weights) - 1
	for k, w := range m.Weights[:last] {
		if u < w {
			return k
		}
		u -= w
	}
	return last
}

// Marginal returns p_t for x_t = a x_0 + sqrt(b) eps: the mixture with
// means a mu_k and covariances a^2 S_k + b I (ocm-math §7), with its own
// cached factors. Use a = sqrt(A[t]), b = B[t]. It panics if a or b is not
// finite, b < 0, or (a, b) = (0, 0).
func (m *Mixture) Marginal(a, b float64) *Mixture {
	if math.IsNaN(a) || math.IsInf(a, 0) || !(b >= 0) || math.IsInf(b, 1) || (a == 0 && b == 0) {
		panic(fmt.Sprintf("ocm: mixture: Marginal(a=%v, b=%v): need finite a, b >= 0, not both 0", a, b))
	}
	k, d := m.K(), m.Dim
	means, covs := make([][]float64, k), make([][]float64, k)
	for i := range k {
		means[i] = make([]float64, d)
		covs[i] = make([]float64, d*d)
		for r := range d {
			means[i][r] = a * m.Means[i][r]
			for c := range d {
				covs[i][r*d+c] = a * a * m.Covs[i][r*d+c]
			}
			covs[i][r*d+r] += b
		}
	}
	mt, err := NewMixture(m.Weights, means, covs)
	if err != nil {
		panic(fmt.Sprintf("ocm: mixture: Marginal(a=%v, b=%v): %v", a, b, err))
	}
	return mt
}

// resp fills sc.r with the responsibilities r_k(x) and sc.g with
// g_k = -S_k^{-1}(x - mu_k), and returns log p(x) (stable log-sum-exp).
func (m *Mixture) resp(sc *mixScratch, x []float64) float64 {
	d := m.Dim
	if len(x) != d {
		panic(fmt.Sprintf("ocm: mixture: point has length %d, want %d", len(x), d))
	}
	maxL := math.Inf(-1)
	for k, mu := range m.Means {
		p, g := m.prec[k], sc.g[k*d:(k+1)*d]
		q := 0.0
		for r := range d {
			acc := 0.0
			for c := range d {
				acc += p[r*d+c] * (x[c] - mu[c])
			}
			g[r] = -acc
			q += acc * (x[r] - mu[r])
		}
		sc.r[k] = m.logNorm[k] - q/2 // log of the k-th term of p(x)
		maxL = math.Max(maxL, sc.r[k])
	}
	sum := 0.0
	for k, l := range sc.r {
		sc.r[k] = math.Exp(l - maxL)
		sum += sc.r[k]
	}
	for k := range sc.r {
		sc.r[k] /= sum
	}
	return maxL + math.Log(sum)
}

// LogPdf returns log p(x) for x of length D.
func (m *Mixture) LogPdf(x []float64) float64 {
	sc := m.scratch.Get().(*mixScratch)
	defer m.scratch.Put(sc)
	return m.resp(sc, x)
}

// Score returns grad log p(x) = sum_k r_k(x) g_k(x), (D).
func (m *Mixture) Score(x []float64) []float64 {
	dst := make([]float64, m.Dim)
	m.ScoreInto(dst, x)
	return dst
}

// ScoreInto writes grad log p(x) into dst (D) without allocating and
// returns log p(x).
func (m *Mixture) ScoreInto(dst, x []float64) float64 {
	sc := m.scratch.Get().(*mixScratch)
	defer m.scratch.Put(sc)
	lp := m.resp(sc, x)
	m.weightedScore(dst, sc)
	return lp
}

// weightedScore writes sum_k r_k g_k into dst from a filled scratch.
func (m *Mixture) weightedScore(dst []float64, sc *mixScratch) {
	d := m.Dim
	clear(dst[:d])
	for k, r := range sc.r {
		for i, g := range sc.g[k*d : (k+1)*d] {
			dst[i] += r * g
		}
	}
}

// Hessian returns the Hessian of log p at x, (D*D) row-major (ocm-math §7).
func (m *Mixture) Hessian(x []float64) []float64 {
	dst := make([]float64, m.Dim*m.Dim)
	m.ScoreHessianInto(nil, dst, x)
	return dst
}

// ScoreHessianInto writes the score (D) into score, unless it is nil, and the
// Hessian of log p (D*D) into hess, and returns log p(x). It uses the
// centred form of ocm-math §7's
//
//	H = sum_k r_k (g_k g_k^T - S_k^{-1}) - s s^T = sum_k r_k ((g_k-s)(g_k-s)^T - S_k^{-1}),
//
// which avoids cancelling two large terms far from the data.
func (m *Mixture) ScoreHessianInto(score, hess, x []float64) float64 {
	sc := m.scratch.Get().(*mixScratch)
	defer m.scratch.Put(sc)
	d := m.Dim
	lp := m.resp(sc, x)
	m.weightedScore(sc.s, sc)
	clear(hess[:d*d])
	for k, r := range sc.r {
		g, p := sc.g[k*d:(k+1)*d], m.prec[k]
		for i := range d {
			gi := r * (g[i] - sc.s[i])
			for j := range d {
				hess[i*d+j] += gi*(g[j]-sc.s[j]) - r*p[i*d+j]
			}
		}
	}
	if score != nil {
		copy(score, sc.s)
	}
	return lp
}

// symmetrised returns a copy of the d×d matrix c with c_ij and c_ji
// replaced by their mean.
func symmetrised(c []float64, d int) []float64 {
	out := make([]float64, d*d)
	for i := range d {
		for j := range d {
			out[i*d+j] = (c[i*d+j] + c[j*d+i]) / 2
		}
	}
	return out
}

// checkSymmetric returns "" if the d×d matrix c is symmetric to symTol
// relative to its largest diagonal entry, else a description.
func checkSymmetric(c []float64, d int) string {
	scale := 0.0
	for i := range d {
		scale = math.Max(scale, math.Abs(c[i*d+i]))
	}
	for i := range d {
		for j := range i {
			if math.Abs(c[i*d+j]-c[j*d+i]) > symTol*scale {
				return fmt.Sprintf("not symmetric: entry (%d,%d) = %v but (%d,%d) = %v", i, j, c[i*d+j], j, i, c[j*d+i])
			}
		}
	}
	return ""
}

// firstNonFinite returns the index of the first NaN or Inf in v, or -1.
func firstNonFinite(v []float64) int {
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return i
		}
	}
	return -1
}

// cholLower returns the lower Cholesky factor L (d×d, row-major) of the
// symmetric matrix a = L L^T, and false if a is not positive definite.
func cholLower(a []float64, d int) ([]float64, bool) {
	l := make([]float64, d*d)
	for j := range d {
		s := a[j*d+j]
		for k := range j {
			s -= l[j*d+k] * l[j*d+k]
		}
		if !(s > 0) {
			return nil, false
		}
		l[j*d+j] = math.Sqrt(s)
		for i := j + 1; i < d; i++ {
			s := a[i*d+j]
			for k := range j {
				s -= l[i*d+k] * l[j*d+k]
			}
			l[i*d+j] = s / l[j*d+j]
		}
	}
	return l, true
}

// cholInverse returns (L L^T)^{-1} (d×d, symmetrised) from the lower
// Cholesky factor l, by forward and back substitution on each unit vector.
func cholInverse(l []float64, d int) []float64 {
	inv := make([]float64, d*d)
	y := make([]float64, d)
	for col := range d {
		for i := range d { // L y = e_col
			s := 0.0
			if i == col {
				s = 1
			}
			for k := range i {
				s -= l[i*d+k] * y[k]
			}
			y[i] = s / l[i*d+i]
		}
		for i := d - 1; i >= 0; i-- { // L^T x = y
			s := y[i]
			for k := i + 1; k < d; k++ {
				s -= l[k*d+i] * inv[k*d+col]
			}
			inv[i*d+col] = s / l[i*d+i]
		}
	}
	return symmetrised(inv, d)
}

// Diffused is a mixture p_0 seen through the forward process
// x_t = a x_0 + sqrt(b) eps (a = sqrt(A[t]), b = B[t]): it holds the
// marginal p_t and the per-component posterior covariances of x_0, so
// that Posterior costs one pass over the components (ocm-math §7).
// It is safe for concurrent use.
type Diffused struct {
	Data     *Mixture // p_0
	Marginal *Mixture // p_t: means a mu_k, covariances C_k = a^2 S_k + b I
	Scale    float64  // a
	NoiseVar float64  // b

	postCov [][]float64 // (K)(D*D) P_k = (S_k^{-1} + (a^2/b) I)^{-1} = b S_k C_k^{-1}
}

// Diffuse returns the mixture diffused to x_t = a x_0 + sqrt(b) eps. It
// panics on the same (a, b) as Marginal. b = 0 is allowed: then the
// posterior is a point mass at x_0 = x_t / a.
func (m *Mixture) Diffuse(a, b float64) *Diffused {
	mt := m.Marginal(a, b)
	k, d := m.K(), m.Dim
	post := make([][]float64, k)
	for i := range k {
		// S C^{-1} is symmetric since S and C = a^2 S + b I commute; this
		// form has no cancellation, unlike S - a^2 S C^{-1} S.
		p := make([]float64, d*d)
		s, ci := m.Covs[i], mt.prec[i]
		for r := range d {
			for c := range d {
				acc := 0.0
				for j := range d {
					acc += s[r*d+j] * ci[j*d+c]
				}
				p[r*d+c] = b * acc
			}
		}
		post[i] = symmetrised(p, d)
	}
	return &Diffused{Data: m, Marginal: mt, Scale: a, NoiseVar: b, postCov: post}
}

// DiffuseAt returns m.Diffuse(sqrt(s.A[t]), s.B[t]), the mixture at step t of s.
func (m *Mixture) DiffuseAt(s *sampler.Schedule, t int) *Diffused {
	return m.Diffuse(math.Sqrt(s.A[t]), s.B[t])
}

// Posterior returns the mean E[x0|x_t] (D) and covariance Cov[x0|x_t]
// (D*D) of x_0 given x_t = a x_0 + sqrt(b) eps. It builds the Diffused
// mixture on every call; use Diffuse(a, b).PosteriorInto in loops.
func (m *Mixture) Posterior(xt []float64, a, b float64) (mean []float64, cov []float64) {
	return m.Diffuse(a, b).Posterior(xt)
}

// Posterior returns E[x0|x_t] (D) and Cov[x0|x_t] (D*D).
func (p *Diffused) Posterior(xt []float64) (mean []float64, cov []float64) {
	d := p.Data.Dim
	mean, cov = make([]float64, d), make([]float64, d*d)
	p.PosteriorInto(mean, cov, xt)
	return mean, cov
}

// PosteriorInto writes E[x0|x_t] into mean (D) and Cov[x0|x_t] into cov
// (D*D), unless cov is nil, without allocating. With r_k the
// responsibilities under p_t (ocm-math §7),
//
//	muhat_k = mu_k + a S_k C_k^{-1} (x_t - a mu_k)
//	E       = sum_k r_k muhat_k
//	Cov     = sum_k r_k (P_k + (muhat_k - E)(muhat_k - E)^T)
//
// which equals (b/a^2)(I + b H_t(x_t)) and E = (x_t + b score_t(x_t))/a.
func (p *Diffused) PosteriorInto(mean, cov, xt []float64) {
	mt, m := p.Marginal, p.Data
	sc := mt.scratch.Get().(*mixScratch)
	defer mt.scratch.Put(sc)
	d := m.Dim
	mt.resp(sc, xt)
	clear(mean[:d])
	for k, r := range sc.r {
		// sc.g[k] = -C_k^{-1}(x_t - a mu_k), so muhat_k = mu_k - a S_k g_k.
		g, s, u := sc.g[k*d:(k+1)*d], m.Covs[k], sc.u[k*d:(k+1)*d]
		for i := range d {
			acc := 0.0
			for j := range d {
				acc += s[i*d+j] * g[j]
			}
			u[i] = m.Means[k][i] - p.Scale*acc
			mean[i] += r * u[i]
		}
	}
	if cov == nil {
		return
	}
	clear(cov[:d*d])
	for k, r := range sc.r {
		u, pk := sc.u[k*d:(k+1)*d], p.postCov[k]
		for i := range d {
			ui := r * (u[i] - mean[i])
			for j := range d {
				cov[i*d+j] += r*pk[i*d+j] + ui*(u[j]-mean[j])
			}
		}
	}
}

// Mog9 returns the nine-component 2-D toy mixture (the "symmetric" toy of
// ocm-math §7/§8.4, configuration chosen here since the paper's is not
// known): equal weights 1/9, means on the grid {-0.6, 0, 0.6}^2 and
// isotropic covariances 0.01 I (std 0.1). The data lies in [-0.9, 0.9]^2
// up to 3 std, and neighbouring modes are 6 std apart.
func Mog9() *Mixture {
	const spacing, std = 0.6, 0.1
	var w []float64
	var means, covs [][]float64
	for _, x := range []float64{-spacing, 0, spacing} {
		for _, y := range []float64{-spacing, 0, spacing} {
			w = append(w, 1.0/9)
			means = append(means, []float64{x, y})
			covs = append(covs, []float64{std * std, 0, 0, std * std})
		}
	}
	m, err := NewMixture(w, means, covs)
	if err != nil {
		panic(err) // the constants above are valid
	}
	return m
}

// Mog40 seeds: PCG (math/rand/v2) state of the 40-component toy.
const mog40Seed1, mog40Seed2 = 2025, 40

// Mog40 returns the 40-component 2-D toy mixture with non-symmetric means
// (the rebuttal toy of ocm-math §8.4, configuration chosen here). It is
// drawn from rand.NewPCG(2025, 40), using only Uint64 and
// u = (x>>11) * 2^-53 in [0,1) so it never changes with Go's
// float/normal samplers. Per component, in this order:
//
//	mean     = (-0.75 + 1.5u, -0.75 + 1.5u)
//	weight   ∝ 0.5 + u                       (unequal, normalised)
//	std      = (0.03 + 0.07u, 0.01 + 0.03u)  (along the rotated axes)
//	angle    = pi u;   S = R diag(std^2) R^T
//
// so the data lies roughly in [-1, 1]^2 and covariances are rotated and
// anisotropic (axis ratio up to 10).
func Mog40() *Mixture {
	const k = 40
	rng := rand.New(rand.NewPCG(mog40Seed1, mog40Seed2))
	unif := func() float64 { return float64(rng.Uint64()>>11) * 0x1p-53 }
	w := make([]float64, k)
	means, covs := make([][]float64, k), make([][]float64, k)
	total := 0.0
	for i := range k {
		means[i] = []float64{-0.75 + 1.5*unif(), -0.75 + 1.5*unif()}
		w[i] = 0.5 + unif()
		total += w[i]
		s1, s2 := 0.03+0.07*unif(), 0.01+0.03*unif()
		sin, cos := math.Sincos(math.Pi * unif())
		v1, v2 := s1*s1, s2*s2
		off := cos * sin * (v1 - v2)
		covs[i] = []float64{cos*cos*v1 + sin*sin*v2, off, off, sin*sin*v1 + cos*cos*v2}
	}
	for i := range w {
		w[i] /= total
	}
	m, err := NewMixture(w, means, covs)
	if err != nil {
		panic(err) // positive definite by construction
	}
	return m
}

// VarianceBound returns R², with R the half-width of the box centred at 0 that holds
// every component's mean ± 3 standard deviations in every coordinate: a bound on the
// variance of the data's bulk, so on Cov[x0|x_t]. It plays the role of the reference
// code's clip_cov_x0 bound 1 for data in [−1, 1] (ocm-math §4.5).
func (m *Mixture) VarianceBound() float64 {
	r := 0.0
	for k, mu := range m.Means {
		for i, v := range mu {
			r = math.Max(r, math.Abs(v)+3*math.Sqrt(m.Covs[k][i*m.Dim+i]))
		}
	}
	return r * r
}
