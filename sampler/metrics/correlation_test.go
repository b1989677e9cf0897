package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
)

// directCorrelation is the two-pass float64 computation: the means first, then the
// centred sums.
func directCorrelation(x, y []float64) (r, ratio float64) {
	mx, my := 0.0, 0.0
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	sxx, syy, sxy := 0.0, 0.0, 0.0
	for i := range x {
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
		sxy += (x[i] - mx) * (y[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy), mx / my
}

// TestCorrelationMatchesTwoPass: the streaming accumulator agrees with the direct
// computation on random data of several sizes, correlations and offsets (the offset
// 1e4 with spread 1e-2 is where raw sums Σx² − n x̄² lose every digit).
func TestCorrelationMatchesTwoPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		n              int
		rho            float64
		offset, spread float64
	}{{2, 0.5, 0, 1}, {7, 0, 0.3, 1}, {1000, 0.8, 1, 0.5}, {50000, -0.3, 0.01, 0.01}, {20000, 0.6, 1e4, 1e-2}} {
		x, y := make([]float64, c.n), make([]float64, c.n)
		var acc Correlation
		for i := range x {
			a, b := rng.NormFloat64(), rng.NormFloat64()
			x[i] = c.offset + c.spread*a
			y[i] = 2*c.offset + c.spread*(c.rho*a+math.Sqrt(1-c.rho*c.rho)*b)
			acc.Add(x[i], y[i])
		}
		r, ratio := directCorrelation(x, y)
		if acc.N() != c.n || math.Abs(acc.Pearson()-r) > 1e-9 || math.Abs(acc.MeanRatio()-ratio) > 1e-12*math.Abs(ratio) {
			t.Errorf("n=%d offset %g: streaming r %.15g ratio %.15g (N %d), direct r %.15g ratio %.15g",
				c.n, c.offset, acc.Pearson(), acc.MeanRatio(), acc.N(), r, ratio)
		}
		if mx, _ := acc.Means(); math.Abs(mx*float64(c.n)/sum(x)-1) > 1e-12 {
			t.Errorf("n=%d: mean of x %.15g, direct %.15g", c.n, mx, sum(x)/float64(c.n))
		}
	}
}

// TestCorrelationConstant: a constant x (an isotropic covariance) has no correlation,
// exactly, whatever its value; an empty accumulator has no ratio.
func TestCorrelationConstant(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var acc Correlation
	for range 10000 {
		acc.Add(0.0123456789, rng.Float64())
	}
	if r := acc.Pearson(); !math.IsNaN(r) {
		t.Errorf("constant x: correlation %v, want NaN", r)
	}
	if mx, my := acc.Means(); acc.MeanRatio() != mx/my || mx != 0.0123456789 {
		t.Errorf("constant x: mean %.17g, ratio %v", mx, acc.MeanRatio())
	}
	var empty Correlation
	if !math.IsNaN(empty.MeanRatio()) || !math.IsNaN(empty.Pearson()) {
		t.Errorf("empty: ratio %v, correlation %v", empty.MeanRatio(), empty.Pearson())
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}
