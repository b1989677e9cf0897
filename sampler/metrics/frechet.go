package metrics

import (
	"errors"
	"fmt"
	"math"
)

// Jacobi eigen solver settings.
const (
	// jacobiMaxSweeps bounds the cyclic sweeps; quadratic convergence needs
	// about 6–10 for the matrices here.
	jacobiMaxSweeps = 100
	// jacobiTol is the relative size (Frobenius norm) of the off-diagonal
	// part at which the matrix counts as diagonal.
	jacobiTol = 1e-14
)

// FrechetDistance returns the Fréchet distance between Gaussians fitted to
// the feature sets a (n×d) and b (m×d), as in FID (Heusel et al. 2017):
//
//	‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^½ Σb Σa^½)^½)
//
// with the sample means and the sample covariances (divisor n − 1). The
// matrix square roots come from symmetric eigendecompositions (cyclic Jacobi),
// with eigenvalues that rounding made slightly negative clamped to 0, and a
// result that rounding made slightly negative is returned as 0. Everything is
// float64. It returns an error when a set has fewer than 2 vectors, the
// vectors differ in width, or a value is not finite.
func FrechetDistance(a, b [][]float64) (float64, error) {
	da, err := checkSet("a", a, 2)
	if err != nil {
		return 0, fmt.Errorf("metrics: Fréchet distance: %w", err)
	}
	db, err := checkSet("b", b, 2)
	if err != nil {
		return 0, fmt.Errorf("metrics: Fréchet distance: %w", err)
	}
	if da != db {
		return 0, fmt.Errorf("metrics: Fréchet distance: a has width %d, b has %d", da, db)
	}
	d := da
	mua, covA := meanCov(a, d)
	mub, covB := meanCov(b, d)
	sqrtA, err := symSqrt(covA, d)
	if err != nil {
		return 0, fmt.Errorf("metrics: Fréchet distance: square root of Σa: %w", err)
	}
	// M = Σa^½ Σb Σa^½ is symmetric positive semi-definite, so tr M^½ is the
	// sum of the square roots of its eigenvalues.
	m := matMul(matMul(sqrtA, covB, d), sqrtA, d)
	symmetrize(m, d)
	lam, _, err := jacobiEigen(m, d)
	if err != nil {
		return 0, fmt.Errorf("metrics: Fréchet distance: eigenvalues of Σa^½ Σb Σa^½: %w", err)
	}
	trSqrt := 0.0
	for _, l := range lam {
		trSqrt += math.Sqrt(max(l, 0))
	}
	fd := 0.0
	for i := range d {
		t := mua[i] - mub[i]
		fd += t*t + covA[i*d+i] + covB[i*d+i]
	}
	return max(fd-2*trSqrt, 0), nil
}

// checkSet returns the common width of the vectors of s, or an error when s
// has fewer than minRows vectors, ragged widths, a width of 0 or a value that
// is not finite.
func checkSet(name string, s [][]float64, minRows int) (int, error) {
	if len(s) < minRows {
		return 0, fmt.Errorf("%s has %d vectors, need at least %d", name, len(s), minRows)
	}
	d := len(s[0])
	if d == 0 {
		return 0, fmt.Errorf("%s has vectors of width 0", name)
	}
	for i, row := range s {
		if len(row) != d {
			return 0, fmt.Errorf("%s vector %d has width %d, vector 0 has %d", name, i, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("%s vector %d holds %v at %d", name, i, v, j)
			}
		}
	}
	return d, nil
}

// meanCov returns the mean (d) and the sample covariance (d×d, row-major,
// divisor n − 1) of the rows of s.
func meanCov(s [][]float64, d int) (mu, cov []float64) {
	n := float64(len(s))
	mu = make([]float64, d)
	for _, row := range s {
		for j, v := range row {
			mu[j] += v
		}
	}
	for j := range mu {
		mu[j] /= n
	}
	cov = make([]float64, d*d)
	c := make([]float64, d)
	for _, row := range s {
		for j, v := range row {
			c[j] = v - mu[j]
		}
		for i := range d {
			ci := c[i]
			r := cov[i*d : (i+1)*d]
			for j := i; j < d; j++ {
				r[j] += ci * c[j]
			}
		}
	}
	for i := range d {
		for j := i; j < d; j++ {
			v := cov[i*d+j] / (n - 1)
			cov[i*d+j], cov[j*d+i] = v, v
		}
	}
	return mu, cov
}

// matMul returns the product of the d×d row-major matrices x and y.
func matMul(x, y []float64, d int) []float64 {
	out := make([]float64, d*d)
	for i := range d {
		o := out[i*d : (i+1)*d]
		for k := range d {
			xik := x[i*d+k]
			if xik == 0 {
				continue
			}
			yk := y[k*d : (k+1)*d]
			for j := range d {
				o[j] += xik * yk[j]
			}
		}
	}
	return out
}

// symmetrize replaces the d×d matrix a by (a + aᵀ)/2 in place.
func symmetrize(a []float64, d int) {
	for i := range d {
		for j := i + 1; j < d; j++ {
			v := (a[i*d+j] + a[j*d+i]) / 2
			a[i*d+j], a[j*d+i] = v, v
		}
	}
}

// symSqrt returns the square root V diag(√max(λ, 0)) Vᵀ of the symmetric
// positive semi-definite d×d matrix a = V diag(λ) Vᵀ.
func symSqrt(a []float64, d int) ([]float64, error) {
	lam, v, err := jacobiEigen(a, d)
	if err != nil {
		return nil, err
	}
	out := make([]float64, d*d)
	for k, l := range lam {
		s := math.Sqrt(max(l, 0))
		if s == 0 {
			continue
		}
		for i := range d {
			vik := v[i*d+k] * s
			if vik == 0 {
				continue
			}
			for j := range d {
				out[i*d+j] += vik * v[j*d+k]
			}
		}
	}
	symmetrize(out, d)
	return out, nil
}

// jacobiEigen returns the eigenvalues λ and the eigenvectors (the columns of
// the d×d row-major v) of the symmetric d×d matrix a, so that
// a = v diag(λ) vᵀ, by the cyclic Jacobi method: sweeps of plane rotations
// that each zero one off-diagonal entry, until the off-diagonal part is below
// jacobiTol relative to the whole matrix (Golub and Van Loan, Matrix
// Computations, §8.5). Only the upper triangle of a is read; a is not
// changed. The eigenvalues are in no particular order.
func jacobiEigen(a []float64, d int) (lam, v []float64, err error) {
	w := make([]float64, d*d)
	for i := range d {
		for j := i; j < d; j++ {
			w[i*d+j], w[j*d+i] = a[i*d+j], a[i*d+j]
		}
	}
	v = make([]float64, d*d)
	for i := range d {
		v[i*d+i] = 1
	}
	total := 0.0
	for _, x := range w {
		total += x * x
	}
	for range jacobiMaxSweeps {
		off := 0.0
		for i := range d {
			for j := i + 1; j < d; j++ {
				off += 2 * w[i*d+j] * w[i*d+j]
			}
		}
		if off <= jacobiTol*jacobiTol*total {
			lam = make([]float64, d)
			for i := range d {
				lam[i] = w[i*d+i]
			}
			return lam, v, nil
		}
		for p := range d {
			for q := p + 1; q < d; q++ {
				rotate(w, v, d, p, q)
			}
		}
	}
	return nil, nil, errors.New("Jacobi eigen solver did not converge")
}

// rotate applies the Jacobi rotation that zeroes w[p][q] (p < q) to the
// symmetric d×d matrix w (w ← Jᵀ w J) and accumulates it into v (v ← v J).
func rotate(w, v []float64, d, p, q int) {
	apq := w[p*d+q]
	if apq == 0 {
		return
	}
	app, aqq := w[p*d+p], w[q*d+q]
	if g := 100 * math.Abs(apq); math.Abs(app)+g == math.Abs(app) && math.Abs(aqq)+g == math.Abs(aqq) {
		// Below the rounding of both diagonal entries: the rotation would not
		// change them (Numerical Recipes' jacobi), so the entry is dropped.
		w[p*d+q], w[q*d+p] = 0, 0
		return
	}
	// t = tan θ is the smaller root of t² + 2τt − 1 = 0, τ = (aqq − app)/(2 apq),
	// which keeps the rotation angle below π/4.
	tau := (aqq - app) / (2 * apq)
	var t float64
	if math.IsInf(tau*tau, 0) {
		t = 1 / (2 * tau) // τ huge: t ≈ 1/(2τ)
	} else if tau >= 0 {
		t = 1 / (tau + math.Sqrt(1+tau*tau))
	} else {
		t = -1 / (-tau + math.Sqrt(1+tau*tau))
	}
	c := 1 / math.Sqrt(1+t*t)
	s := t * c
	for k := range d {
		wkp, wkq := w[k*d+p], w[k*d+q]
		w[k*d+p] = c*wkp - s*wkq
		w[k*d+q] = s*wkp + c*wkq
	}
	for k := range d {
		wpk, wqk := w[p*d+k], w[q*d+k]
		w[p*d+k] = c*wpk - s*wqk
		w[q*d+k] = s*wpk + c*wqk
	}
	w[p*d+q], w[q*d+p] = 0, 0
	for k := range d {
		vkp, vkq := v[k*d+p], v[k*d+q]
		v[k*d+p] = c*vkp - s*vkq
		v[k*d+q] = s*vkp + c*vkq
	}
}
