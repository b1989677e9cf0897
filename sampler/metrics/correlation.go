package metrics

import "math"

// Correlation accumulates pairs (x, y) one at a time for their Pearson correlation
// and the ratio of their means: the count, both means and the centred second moments
// in float64, updated as Welford's algorithm does (Welford 1962; the co-moment as in
// Chan, Golub and LeVeque 1983). Centred moments need no subtraction of two large
// sums, so a constant x has a variance of exactly zero and its correlation is
// undefined (NaN), never rounding noise. The zero value is empty and ready to use.
type Correlation struct {
	n            float64
	meanX, meanY float64
	m2X, m2Y     float64 // Σ(x − x̄)², Σ(y − ȳ)²
	cXY          float64 // Σ(x − x̄)(y − ȳ)
}

// Add adds the pair (x, y).
func (c *Correlation) Add(x, y float64) {
	c.n++
	dx := x - c.meanX
	c.meanX += dx / c.n
	dy := y - c.meanY
	c.meanY += dy / c.n
	c.m2X += dx * (x - c.meanX)
	c.m2Y += dy * (y - c.meanY)
	c.cXY += dx * (y - c.meanY)
}

// N is the number of pairs added.
func (c *Correlation) N() int { return int(c.n) }

// Means returns the means of x and of y (NaN when empty).
func (c *Correlation) Means() (x, y float64) {
	if c.n == 0 {
		return math.NaN(), math.NaN()
	}
	return c.meanX, c.meanY
}

// Pearson returns Σ(x − x̄)(y − ȳ) / √(Σ(x − x̄)² Σ(y − ȳ)²), or NaN when x or y
// is constant (fewer than two pairs included).
func (c *Correlation) Pearson() float64 {
	if c.m2X <= 0 || c.m2Y <= 0 {
		return math.NaN()
	}
	return max(-1, min(1, c.cXY/math.Sqrt(c.m2X*c.m2Y)))
}

// MeanRatio returns x̄/ȳ (NaN when empty, ±Inf when ȳ = 0 and x̄ ≠ 0).
func (c *Correlation) MeanRatio() float64 {
	if c.n == 0 {
		return math.NaN()
	}
	return c.meanX / c.meanY
}
