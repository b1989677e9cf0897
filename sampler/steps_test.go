package sampler

import (
	"slices"
	"strings"
	"testing"
)

// TestTimestepsReference checks the lists of ocm-math §5 (N = 1000), typed
// in from the spec.
func TestTimestepsReference(t *testing.T) {
	for _, tc := range []struct {
		spacing TimestepSpacing
		k       int
		want    []int
	}{
		{Even, 10, []int{1, 112, 223, 334, 445, 556, 667, 778, 889, 1000}},
		{Even, 25, []int{1, 43, 84, 126, 168, 209, 251, 292, 334, 376, 417, 459, 500, 542, 584, 625, 667, 709,
			750, 792, 834, 875, 917, 958, 1000}},
		{Even, 50, []int{1, 21, 42, 62, 83, 103, 123, 144, 164, 184, 205, 225, 246, 266, 286, 307, 327, 348, 368,
			388, 409, 429, 450, 470, 490, 511, 531, 551, 572, 592, 613, 633, 653, 674, 694, 715, 735, 755, 776, 796,
			817, 837, 857, 878, 898, 918, 939, 959, 980, 1000}},
		{Even, 100, []int{1, 11, 21, 31, 41, 51, 62, 72, 82, 92, 102, 112, 122, 132, 142, 152, 162, 173, 183, 193,
			203, 213, 223, 233, 243, 253, 263, 273, 284, 294, 304, 314, 324, 334, 344, 354, 364, 374, 384, 395, 405,
			415, 425, 435, 445, 455, 465, 475, 485, 495, 506, 516, 526, 536, 546, 556, 566, 576, 586, 596, 606, 617,
			627, 637, 647, 657, 667, 677, 687, 697, 707, 717, 728, 738, 748, 758, 768, 778, 788, 798, 808, 818, 828,
			839, 849, 859, 869, 879, 889, 899, 909, 919, 929, 939, 950, 960, 970, 980, 990, 1000}},
		{Quadratic, 10, []int{1, 10, 40, 89, 159, 247, 356, 484, 633, 801}},
	} {
		got, err := Timesteps(tc.spacing, 1000, tc.k)
		if err != nil {
			t.Fatalf("%v K=%d: %v", tc.spacing, tc.k, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%v K=%d:\n got %v\nwant %v", tc.spacing, tc.k, got, tc.want)
		}
	}
}

// TestTimestepsInvariants runs every K for a few N: strictly increasing,
// starting at 1, ending at N (even) or int(0.8N)+1 (quadratic).
func TestTimestepsInvariants(t *testing.T) {
	for _, n := range []int{2, 7, 100, 1000, 4000} {
		for k := 1; k <= n; k++ {
			ns, err := Timesteps(Even, n, k)
			if err != nil {
				t.Fatalf("even N=%d K=%d: %v", n, k, err)
			}
			if len(ns) != k || ns[k-1] != n || (k > 1 && ns[0] != 1) {
				t.Fatalf("even N=%d K=%d: got %v", n, k, ns)
			}
		}
		for k := 2; k <= n; k++ {
			ns, err := Timesteps(Quadratic, n, k)
			if err != nil {
				// Repeats appear exactly when the first step (sqrt(0.8N)/(K-1))^2 < 1.
				if float64((k-1)*(k-1)) <= 0.8*float64(n) {
					t.Fatalf("quadratic N=%d K=%d: unexpected %v", n, k, err)
				}
				continue
			}
			if len(ns) != k || ns[0] != 1 || ns[k-1] != int(0.8*float64(n)+1e-9)+1 {
				t.Fatalf("quadratic N=%d K=%d: got %v", n, k, ns)
			}
		}
	}
	if ns, _ := Timesteps(Quadratic, 1000, 1); !slices.Equal(ns, []int{801}) {
		t.Errorf("quadratic K=1: got %v, want [801]", ns)
	}
}

func TestTimestepsErrors(t *testing.T) {
	for _, c := range []struct {
		spacing TimestepSpacing
		n, k    int
		msg     string
	}{
		{Even, 1000, 0, "1 <= k <= n"},
		{Even, 1000, 1001, "1 <= k <= n"},
		{Quadratic, 1000, 100, "repeats step"},
		{TimestepSpacing(5), 1000, 10, "unknown spacing"},
	} {
		_, err := Timesteps(c.spacing, c.n, c.k)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Timesteps(%v, %d, %d) error = %v, want it to mention %q", c.spacing, c.n, c.k, err, c.msg)
		}
	}
}

func TestParseTimestepSpacing(t *testing.T) {
	for _, p := range []TimestepSpacing{Even, Quadratic} {
		got, err := ParseTimestepSpacing(p.String())
		if err != nil || got != p {
			t.Errorf("ParseTimestepSpacing(%q) = %v, %v", p.String(), got, err)
		}
	}
	_, err := ParseTimestepSpacing("linear")
	if err == nil || !strings.Contains(err.Error(), "even, quadratic") {
		t.Errorf("ParseTimestepSpacing(linear) error = %v, want the valid names listed", err)
	}
	var p TimestepSpacing
	if err := p.Set("quadratic"); err != nil || p != Quadratic {
		t.Errorf("Set(quadratic) = %v, %v", p, err)
	}
	if err := p.Set("x"); err == nil {
		t.Error("Set(x): no error")
	}
}
