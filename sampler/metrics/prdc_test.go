package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func pr(t *testing.T, real, fake [][]float64, k int) (float64, float64) {
	t.Helper()
	p, r, err := PrecisionRecall(real, fake, k)
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

// line returns 1-D points.
func line(xs ...float64) [][]float64 {
	out := make([][]float64, len(xs))
	for i, x := range xs {
		out[i] = []float64{x}
	}
	return out
}

func TestPrecisionRecallByHand(t *testing.T) {
	real := line(0, 1, 2, 3, 10)
	fake := line(0.25, 0.5, 0.75, 50, 51)
	// k = 1: real radii 1, 1, 1, 1, 7; fake radii ¼, ¼, ¼, 1, 1.
	// Precision: 0.25, 0.5, 0.75 lie within 1 of 0; 50 and 51 are 40+ from 10.
	// Recall: 0 and 1 lie exactly ¼ from 0.25 and 0.75 (the balls are
	// closed); 2, 3 and 10 are outside every fake ball.
	p, r := pr(t, real, fake, 1)
	if p != 0.6 || r != 0.4 {
		t.Errorf("k = 1: precision %v recall %v, want 0.6 0.4", p, r)
	}
	// k = 2: the radius of 50 is 49.25, so its ball covers every real point.
	p, r = pr(t, real, fake, 2)
	if p != 0.6 || r != 1 {
		t.Errorf("k = 2: precision %v recall %v, want 0.6 1", p, r)
	}
}

func TestPrecisionRecallIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, d := range []int{2, 16} {
		a := gaussianSet(r, 300, make([]float64, d), nil)
		for _, k := range []int{1, 3, 10} {
			if p, rc := pr(t, a, a, k); p != 1 || rc != 1 {
				t.Errorf("d %d k %d: identical sets give precision %v recall %v, want 1 1", d, k, p, rc)
			}
		}
	}
}

func TestPrecisionRecallDisjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	a := gaussianSet(r, 200, []float64{0, 0, 0}, nil)
	b := gaussianSet(r, 150, []float64{100, 0, 0}, nil)
	if p, rc := pr(t, a, b, 3); p != 0 || rc != 0 {
		t.Errorf("far-apart sets: precision %v recall %v, want 0 0", p, rc)
	}
}

func TestPrecisionRecallHalfModes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	// Real: two clusters 100 apart. Fake: only the first, drawn afresh.
	real := append(gaussianSet(r, 200, []float64{0, 0}, nil), gaussianSet(r, 200, []float64{100, 0}, nil)...)
	fake := gaussianSet(r, 300, []float64{0, 0}, nil)
	p, rc := pr(t, real, fake, 3)
	t.Logf("precision %.3f recall %.3f", p, rc)
	if p < 0.95 {
		t.Errorf("precision %.3f, want ≈ 1 (every fake point is in a real mode)", p)
	}
	if rc > 0.5 || rc < 0.45 {
		t.Errorf("recall %.3f, want ≈ 0.5 (half the real points are in the missed mode)", rc)
	}
	// Swapping the roles swaps the metrics' meaning: the two-mode set is only
	// half realistic with respect to the one-mode set, and covers all of it.
	p2, rc2 := pr(t, fake, real, 3)
	if p2 > 0.5 || p2 < 0.45 || rc2 < 0.95 {
		t.Errorf("swapped: precision %.3f recall %.3f, want ≈ 0.5 and ≈ 1", p2, rc2)
	}
}

func TestKthNeighbour(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const n, d = 40, 3
	s := flatten(gaussianSet(r, n, make([]float64, d), nil), d)
	// Duplicate a point: its nearest neighbour is at distance 0.
	copy(s[5*d:6*d], s[7*d:8*d])
	for _, k := range []int{1, 2, 5, n - 1} {
		got := kthNeighbourSqDist(s, d, k)
		for i := range n {
			var ds []float64
			for j := range n {
				if j != i {
					ds = append(ds, sqDist(s[i*d:(i+1)*d], s[j*d:(j+1)*d]))
				}
			}
			slices.Sort(ds)
			if got[i] != ds[k-1] {
				t.Fatalf("k %d point %d: %g, want %g", k, i, got[i], ds[k-1])
			}
		}
		if k == 1 && (got[5] != 0 || got[7] != 0) {
			t.Errorf("duplicated points: nearest distances %g %g, want 0", got[5], got[7])
		}
	}
}

func TestPrecisionRecallErrors(t *testing.T) {
	three := line(0, 1, 2)
	cases := []struct {
		name       string
		real, fake [][]float64
		k          int
		want       string
	}{
		{"k zero", three, three, 0, "k = 0"},
		{"k = len(real)", three, line(0, 1, 2, 3), 3, "real has 3 vectors, need at least 4"},
		{"k = len(fake)", line(0, 1, 2, 3), three, 3, "fake has 3 vectors, need at least 4"},
		{"widths", three, [][]float64{{1, 2}, {3, 4}, {5, 6}}, 1, "real has width 1, fake has 2"},
		{"ragged", three, [][]float64{{1}, {3, 4}, {5}}, 1, "fake vector 1 has width 2"},
		{"nan", line(0, math.NaN(), 2), three, 1, "NaN"},
	}
	for _, c := range cases {
		_, _, err := PrecisionRecall(c.real, c.fake, c.k)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "metrics: precision/recall") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}
