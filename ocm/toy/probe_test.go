package toy

import (
	"math"
	"ocm/ocm"
	"testing"
)

// TestCovErrorsHasOCMProbe: the covariance-error table has the head-free ocm-probe
// column; on the exact score its only error is the probes' Monte Carlo noise, a
// small fraction of the squared true variance.
func TestCovErrorsHasOCMProbe(t *testing.T) {
	m := smallModel(t)
	m.MsEps, m.ExactMsEps = make([]float64, m.Sched.N+1), make([]float64, m.Sched.N+1)
	rows, err := CovErrors(dev, m, []int{30, 300}, 128, 1, ocm.DefaultProbes, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		ex, okE := r.Exact["ocm-probe"]
		le, okL := r.Learned["ocm-probe"]
		t.Logf("t=%d: true var %.3g, ocm-probe error %.3g (exact score) %.3g (learned), analytic %.3g", r.T, r.TrueVar, ex, le, r.Exact["analytic"])
		if !okE || !okL || math.IsNaN(le) || !(ex > 0) || ex > 1e-3*r.TrueVar*r.TrueVar {
			t.Errorf("t=%d: ocm-probe error %g on the exact score (true variance %g), %g on the learned", r.T, ex, r.TrueVar, le)
		}
	}
}
