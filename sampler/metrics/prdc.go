package metrics

import (
	"fmt"
	"runtime"
	"sync"
)

// maxPRWorkers bounds the goroutines of PrecisionRecall.
const maxPRWorkers = 2

// PrecisionRecall returns the improved precision and recall of Kynkäänniemi,
// Karras, Laine, Lehtinen and Aila, "Improved Precision and Recall Metric for
// Assessing Generative Models", NeurIPS 2019. The manifold of a set is the
// union of the closed balls around its points, each with radius the Euclidean
// distance to the point's k-th nearest other point of the same set.
// Precision is the fraction of the fake points inside the real manifold (are
// the samples realistic?), recall the fraction of the real points inside the
// fake manifold (is the data covered?). Distances are computed exactly, in
// O((n+m)²·d) time on at most two goroutines; the result does not depend on
// their number. It returns an error when k < 1, when k is not below the size
// of both sets, when the vectors differ in width or when a value is not
// finite.
func PrecisionRecall(real, fake [][]float64, k int) (precision, recall float64, err error) {
	if k < 1 {
		return 0, 0, fmt.Errorf("metrics: precision/recall: k = %d, need k ≥ 1", k)
	}
	dr, err := checkSet("real", real, k+1)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: precision/recall with k = %d: %w", k, err)
	}
	df, err := checkSet("fake", fake, k+1)
	if err != nil {
		return 0, 0, fmt.Errorf("metrics: precision/recall with k = %d: %w", k, err)
	}
	if dr != df {
		return 0, 0, fmt.Errorf("metrics: precision/recall: real has width %d, fake has %d", dr, df)
	}
	d := dr
	rs, fs := flatten(real, d), flatten(fake, d)
	rr := kthNeighbourSqDist(rs, d, k)
	fr := kthNeighbourSqDist(fs, d, k)
	precision = coveredFraction(fs, rs, rr, d)
	recall = coveredFraction(rs, fs, fr, d)
	return precision, recall, nil
}

// parallelRows calls row(i) for every i in [0, n) on at most maxPRWorkers
// goroutines.
func parallelRows(n int, row func(i int)) {
	workers := min(maxPRWorkers, runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				row(i)
			}
		}()
	}
	wg.Wait()
}

// kthNeighbourSqDist returns, for each point of s (flattened, width d), the
// squared distance to its k-th nearest other point (k < number of points).
func kthNeighbourSqDist(s []float64, d, k int) []float64 {
	n := len(s) / d
	out := make([]float64, n)
	parallelRows(n, func(i int) {
		// best holds the k smallest distances seen so far, ascending.
		best := make([]float64, 0, k)
		a := s[i*d : (i+1)*d]
		for j := range n {
			if j == i {
				continue
			}
			dist := sqDist(a, s[j*d:(j+1)*d])
			if len(best) == k && dist >= best[k-1] {
				continue
			}
			if len(best) < k {
				best = append(best, dist)
			} else {
				best[k-1] = dist
			}
			for p := len(best) - 1; p > 0 && best[p] < best[p-1]; p-- {
				best[p], best[p-1] = best[p-1], best[p]
			}
		}
		out[i] = best[k-1]
	})
	return out
}

// coveredFraction returns the fraction of the points of q (flattened, width
// d) within the closed ball of squared radius radii[j] around some point j of
// s.
func coveredFraction(q, s, radii []float64, d int) float64 {
	nq, ns := len(q)/d, len(s)/d
	in := make([]bool, nq)
	parallelRows(nq, func(i int) {
		a := q[i*d : (i+1)*d]
		for j := range ns {
			if sqDist(a, s[j*d:(j+1)*d]) <= radii[j] {
				in[i] = true
				return
			}
		}
	})
	c := 0
	for _, v := range in {
		if v {
			c++
		}
	}
	return float64(c) / float64(nq)
}
