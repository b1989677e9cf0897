package metrics

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// maxMedianPoints caps each sample in MedianBandwidth (1000 + 1000 points
// give about 2·10^6 pairwise distances).
const maxMedianPoints = 1000

// MMD2 returns the unbiased estimate of the squared maximum mean discrepancy
// between samples x (n×d) and y (m×d) with the RBF kernel
// k(a,b) = exp(-|a-b|²/(2 l²)), l = bandwidth (Gretton et al. 2012, eq. 3).
// Rows are points. It panics if n < 2, m < 2, rows differ in length, or
// bandwidth is not positive and finite.
func MMD2(x, y [][]float64, bandwidth float64) float64 {
	d := checkSample("MMD2", "x", x, 2)
	if dy := checkSample("MMD2", "y", y, 2); dy != d {
		panic(fmt.Sprintf("metrics: MMD2: x has dimension %d, y has %d", d, dy))
	}
	if !(bandwidth > 0) || math.IsInf(bandwidth, 0) {
		panic(fmt.Sprintf("metrics: MMD2: bandwidth %v is not positive and finite", bandwidth))
	}
	gamma := 1 / (2 * bandwidth * bandwidth)
	xs, ys := flatten(x, d), flatten(y, d)
	n, m := float64(len(x)), float64(len(y))
	kxx := 2 * kernelSum(xs, xs, d, gamma, true) // Σ_{i<j} doubled = Σ_{i≠j}
	kyy := 2 * kernelSum(ys, ys, d, gamma, true)
	kxy := kernelSum(xs, ys, d, gamma, false)
	return kxx/(n*(n-1)) + kyy/(m*(m-1)) - 2*kxy/(n*m)
}

// MedianBandwidth returns the median heuristic l = sqrt(median/2), where
// median is the median of the squared distances |p_i - p_j|², i < j, over
// the pooled points of x and y (for an even count, the mean of the two
// middle values). A sample with more than 1000 points is first subsampled
// deterministically to the 1000 rows with indices floor(k·n/1000),
// k = 0..999. It returns 1 if the median is 0 (more than half the pairs
// coincide), since any positive bandwidth is then as good. It panics on
// ragged rows, differing dimensions or fewer than two pooled points.
func MedianBandwidth(x, y [][]float64) float64 {
	pool := slices.Concat(subsample(x, maxMedianPoints), subsample(y, maxMedianPoints))
	d := checkSample("MedianBandwidth", "pooled x, y", pool, 2)
	ps := flatten(pool, d)
	np := len(pool)
	dist := make([]float64, 0, np*(np-1)/2)
	for i := range np {
		a := ps[i*d : (i+1)*d]
		for j := i + 1; j < np; j++ {
			dist = append(dist, sqDist(a, ps[j*d:(j+1)*d]))
		}
	}
	slices.Sort(dist)
	h := len(dist) / 2
	med := dist[h]
	if len(dist)%2 == 0 {
		med = (dist[h-1] + dist[h]) / 2
	}
	if med == 0 {
		return 1
	}
	return math.Sqrt(med / 2)
}

// subsample returns s itself if it has at most k rows, else the k rows with
// indices floor(i·len(s)/k).
func subsample(s [][]float64, k int) [][]float64 {
	if len(s) <= k {
		return s
	}
	out := make([][]float64, k)
	for i := range out {
		out[i] = s[i*len(s)/k]
	}
	return out
}

// checkSample panics unless s has at least minRows rows of one length, and
// returns that length.
func checkSample(op, name string, s [][]float64, minRows int) int {
	if len(s) < minRows {
		panic(fmt.Sprintf("metrics: %s: %s has %d points, need at least %d", op, name, len(s), minRows))
	}
	d := len(s[0])
	for i, row := range s {
		if len(row) != d {
			panic(fmt.Sprintf("metrics: %s: %s row %d has length %d, row 0 has %d", op, name, i, len(row), d))
		}
	}
	return d
}

// flatten copies the rows of s into one contiguous slice (N·D).
func flatten(s [][]float64, d int) []float64 {
	out := make([]float64, 0, len(s)*d)
	for _, row := range s {
		out = append(out, row...)
	}
	return out
}

// sqDist returns |a-b|².
func sqDist(a, b []float64) float64 {
	s := 0.0
	for k := range a {
		t := a[k] - b[k]
		s += t * t
	}
	return s
}

// kernelSum returns Σ_i Σ_j exp(-gamma |a_i - b_j|²) over rows of a and b
// (both flattened with row length d); with upper set, a and b are the same
// sample and only pairs j > i are summed. Rows of a are shared among
// goroutines; per-row sums are added in row order for a deterministic result.
func kernelSum(a, b []float64, d int, gamma float64, upper bool) float64 {
	na, nb := len(a)/d, len(b)/d
	rows := make([]float64, na)
	row := func(i int) {
		ai := a[i*d : (i+1)*d]
		start := 0
		if upper {
			start = i + 1
		}
		s := 0.0
		for j := start; j < nb; j++ {
			s += math.Exp(-gamma * sqDist(ai, b[j*d:(j+1)*d]))
		}
		rows[i] = s
	}
	workers := min(runtime.GOMAXPROCS(0), na)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < na; i += workers { // interleaved: balances the triangle
				row(i)
			}
		}()
	}
	wg.Wait()
	total := 0.0
	for _, s := range rows {
		total += s
	}
	return total
}
