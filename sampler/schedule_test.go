package sampler

import (
	"math"
	"strings"
	"testing"
)

// relErr returns |got-want| / |want| (|got-want| when want is 0).
func relErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / math.Abs(want)
}

// TestScheduleReferenceValues checks the table of ocm-math §1.4 (float64
// values computed by the reference Python code). The exact entries match to
// 1e-12 relative: the worst case is the cosine beta[2] = 1 - f2/f1, where a
// 1-ulp error in cos is amplified ~2e4-fold to ~2e-12, which is why the
// schedule uses accurateCos. B[N]/A[N] is given to 7 and 5 digits.
func TestScheduleReferenceValues(t *testing.T) {
	type row struct {
		name      string
		got, want float64
		tol       float64
	}
	const tol = 1e-12 // exact float64 references; see above
	for _, tc := range []struct {
		kind BetaSchedule
		rows func(s *Schedule) []row
	}{
		{Linear, func(s *Schedule) []row {
			return []row{
				{"beta[1]", s.Beta[1], 1.0e-4, tol},
				{"beta[2]", s.Beta[2], 1.1991991991991993e-04, tol},
				{"beta[N]", s.Beta[s.N], 0.02, 0}, // numpy linspace ends exactly at b1
				{"A[100]", s.A[100], 0.89701814567496, tol},
				{"A[500]", s.A[500], 0.07858724288177824, tol},
				{"A[N]", s.A[s.N], 4.035829765375676e-05, tol},
				{"TB(1,2)", s.TB(1, 2), 5.4531876613026055e-05, tol},
				{"B[N]/A[N]", s.B[s.N] / s.A[s.N], 24777.05, 0.005 / 24777.05}, // 7 digits given
			}
		}},
		{Cosine, func(s *Schedule) []row {
			return []row{
				{"beta[1]", s.Beta[1], 4.128422482196914e-05, tol},
				{"beta[2]", s.Beta[2], 4.614175273665033e-05, tol},
				{"beta[N]", s.Beta[s.N], 0.999, 0}, // clipped
				{"A[100]", s.A[100], 0.9720927371139696, tol},
				{"A[500]", s.A[500], 0.4938435904406382, tol},
				{"A[N]", s.A[s.N], 2.4287669070348567e-09, tol},
				{"TB(1,2)", s.TB(1, 2), 2.1789496145705487e-05, tol},
				{"B[N]/A[N]", s.B[s.N] / s.A[s.N], 4.1173e8, 0.00005e8 / 4.1173e8}, // 5 digits given
			}
		}},
	} {
		s, err := NewSchedule(tc.kind, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range tc.rows(s) {
			if e := relErr(r.got, r.want); e > r.tol {
				t.Errorf("%v %s = %.17g, want %.17g (rel err %.3g > %.3g)", tc.kind, r.name, r.got, r.want, e, r.tol)
			}
		}
	}
}

// TestScheduleProperties checks identities that hold for any N.
func TestScheduleProperties(t *testing.T) {
	for kind, ns := range map[BetaSchedule][]int{Linear: {21, 100, 1000, 4000}, Cosine: {2, 10, 1000, 4000}} {
		for _, n := range ns {
			s, err := NewSchedule(kind, n)
			if err != nil {
				t.Fatal(err)
			}
			checkScheduleProperties(t, s)
		}
	}
}

func checkScheduleProperties(t *testing.T, s *Schedule) {
	t.Helper()
	if s.Beta[0] != 0 || s.Alpha[0] != 1 || s.A[0] != 1 || s.B[0] != 0 {
		t.Errorf("%v N=%d: index 0 is not clean data", s.Kind, s.N)
	}
	for n := 1; n <= s.N; n++ {
		if !(s.A[n] < s.A[n-1]) {
			t.Fatalf("%v N=%d: A not strictly decreasing at %d", s.Kind, s.N, n)
		}
		// B is a sum of N positive terms of size <= 1, so it matches 1-A to
		// a few ulps of 1 (absolute).
		if d := math.Abs(s.B[n] - (1 - s.A[n])); d > 1e-12 {
			t.Fatalf("%v N=%d: |B - (1-A)| = %g at %d", s.Kind, s.N, d, n)
		}
		if tb := s.TB(0, n); tb != 0 {
			t.Fatalf("%v N=%d: TB(0,%d) = %g, want 0", s.Kind, s.N, n, tb)
		}
	}
	// The skip quantities at s0 = 0 are the cumulative ones, bit for bit.
	if s.SA(0, s.N) != s.A[s.N] || s.SB(0, s.N) != s.B[s.N] {
		t.Errorf("%v N=%d: SA/SB(0,N) differ from A/B[N]", s.Kind, s.N)
	}
	if s.SA(3%s.N, 3%s.N) != 1 || s.SB(1, 1) != 0 {
		t.Errorf("%v N=%d: SA(t,t) != 1 or SB(t,t) != 0", s.Kind, s.N)
	}
	cx0, cxt := s.DDPMMeanCoef(0, 1)
	if cx0 != 1 || cxt != 0 {
		t.Errorf("%v N=%d: DDPMMeanCoef(0,1) = (%v, %v), want (1, 0)", s.Kind, s.N, cx0, cxt)
	}
}

// TestReverseCoefficients checks the §4 coefficients against independent
// forms: SB = 1 - SA, DDPM tilde-beta as the posterior variance
// SB*B[s]/B[t], and DDIM(eta=1) variance equal to DDPM's small variance.
func TestReverseCoefficients(t *testing.T) {
	s, err := NewSchedule(Linear, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]int{{1, 2}, {1, 112}, {445, 556}, {889, 1000}, {0, 1000}} {
		s0, tt := p[0], p[1]
		sa, sb := s.SA(s0, tt), s.SB(s0, tt)
		if d := math.Abs(sb - (1 - sa)); d > 1e-12 { // absolute, as for B
			t.Errorf("SB(%d,%d) - (1-SA) = %g", s0, tt, d)
		}
		if e := relErr(sa, s.A[tt]/s.A[s0]); e > 1e-12 { // product of <= 1000 roundings
			t.Errorf("SA(%d,%d) rel err %g vs A[t]/A[s]", s0, tt, e)
		}
		// The DDPM mean is the posterior mean of q(x_s|x_t,x_0): with x_t
		// fixed, cx0*x0 + cxt*xt must reproduce x_s's mean for x0 = x_t = 1:
		// sqrt(A[s]) SB/B[t] + sqrt(SA) B[s]/B[t].
		cx0, cxt := s.DDPMMeanCoef(s0, tt)
		want := (math.Sqrt(s.A[s0])*sb + math.Sqrt(sa)*s.B[s0]) / s.B[tt]
		if e := relErr(cx0+cxt, want); e > 1e-12 {
			t.Errorf("DDPMMeanCoef(%d,%d) rel err %g", s0, tt, e)
		}
		if e := relErr(s.DDPMCovWeight(s0, tt), cx0*cx0); e > 1e-12 {
			t.Errorf("DDPMCovWeight(%d,%d) != cx0^2 (rel err %g)", s0, tt, e)
		}
		checkDDIMCoef(t, s, s0, tt)
	}
	cxt, ceps := s.X0Coef(500)
	if e := relErr(cxt*math.Sqrt(s.A[500]), 1); e > 1e-15 {
		t.Errorf("X0Coef cxt rel err %g", e)
	}
	if e := relErr(ceps*ceps, s.B[500]/s.A[500]); e > 1e-15 {
		t.Errorf("X0Coef ceps rel err %g", e)
	}
}

func checkDDIMCoef(t *testing.T, s *Schedule, s0, tt int) {
	t.Helper()
	cx0, ceps, lam2, w := s.DDIMCoef(s0, tt, 0)
	if cx0 != math.Sqrt(s.A[s0]) || ceps != math.Sqrt(s.B[s0]) || lam2 != 0 {
		t.Errorf("DDIMCoef(%d,%d,0) = %v %v %v", s0, tt, cx0, ceps, lam2)
	}
	want := math.Pow(math.Sqrt(s.A[s0])-math.Sqrt(s.B[s0]*s.A[tt]/s.B[tt]), 2)
	if e := relErr(w, want); e > 1e-12 {
		t.Errorf("DDIMCoef(%d,%d,0) covWeight rel err %g", s0, tt, e)
	}
	// eta = 1: lam2 = TB and the DDIM mean/weight equal DDPM's (Song et al.
	// 2021, §4.1): cov weight (sqrt(A_s) - sqrt((B_s-TB) A_t/B_t))^2 = DDPM's.
	_, _, lam2, w = s.DDIMCoef(s0, tt, 1)
	if e := relErr(lam2, s.TB(s0, tt)); e > 1e-15 {
		t.Errorf("DDIMCoef(%d,%d,1) lam2 rel err %g", s0, tt, e)
	}
	// Cancellation of two O(1) square roots: absolute 1e-12 on an O(A_s) value.
	if d := math.Abs(w - s.DDPMCovWeight(s0, tt)); d > 1e-12 {
		t.Errorf("DDIMCoef(%d,%d,1) covWeight %g != DDPM %g", s0, tt, w, s.DDPMCovWeight(s0, tt))
	}
}

func TestClipSigmaThreshold(t *testing.T) {
	s, _ := NewSchedule(Linear, 1000)
	for _, c := range []struct{ p, want float64 }{{1, 9.66272250239075e-05}, {2, 3.8650890009563e-04}} {
		if e := relErr(s.ClipSigmaThreshold(c.p), c.want); e > 1e-14 { // 15 digits given
			t.Errorf("ClipSigmaThreshold(%v) = %.17g, want %v", c.p, s.ClipSigmaThreshold(c.p), c.want)
		}
	}
}

func TestTimeInput(t *testing.T) {
	s, _ := NewSchedule(Cosine, 4000)
	if got := s.TimeInput(4000); got != 1000 {
		t.Errorf("TimeInput(N) = %v, want 1000", got)
	}
	if got := s.TimeInput(1); got != 0.25 {
		t.Errorf("TimeInput(1) = %v, want 0.25", got)
	}
}

func TestParseBetaSchedule(t *testing.T) {
	for _, k := range []BetaSchedule{Linear, Cosine} {
		got, err := ParseBetaSchedule(k.String())
		if err != nil || got != k {
			t.Errorf("ParseBetaSchedule(%q) = %v, %v", k.String(), got, err)
		}
	}
	for _, bad := range []string{"", "Linear", "cosine_1000", "quad"} {
		_, err := ParseBetaSchedule(bad)
		if err == nil {
			t.Errorf("ParseBetaSchedule(%q): no error", bad)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "linear, cosine") {
			t.Errorf("ParseBetaSchedule(%q) error %q does not list the valid names", bad, msg)
		}
	}
	var k BetaSchedule
	if err := k.Set("cosine"); err != nil || k != Cosine {
		t.Errorf("Set(cosine) = %v, %v", k, err)
	}
	if BetaSchedule(7).String() != "BetaSchedule(7)" {
		t.Errorf("out-of-range String = %q", BetaSchedule(7).String())
	}
	if _, err := NewSchedule(Linear, 1); err == nil {
		t.Error("NewSchedule(Linear, 1): no error")
	}
	if _, err := NewSchedule(Linear, 20); err == nil { // beta[20] = 1
		t.Error("NewSchedule(Linear, 20): no error")
	}
	if _, err := NewSchedule(BetaSchedule(9), 10); err == nil {
		t.Error("NewSchedule(9, 10): no error")
	}
}

func TestSchedulePanicsOnBadIndex(t *testing.T) {
	s, _ := NewSchedule(Linear, 10)
	for name, f := range map[string]func(){
		"SB(5,4)":       func() { s.SB(5, 4) },
		"SA(0,11)":      func() { s.SA(0, 11) },
		"DDPM(3,3)":     func() { s.DDPMMeanCoef(3, 3) },
		"DDIM eta=1.5":  func() { s.DDIMCoef(1, 2, 1.5) },
		"DDIM eta=NaN":  func() { s.DDIMCoef(1, 2, math.NaN()) },
		"X0Coef(0)":     func() { s.X0Coef(0) },
		"CovWeight(-1)": func() { s.DDPMCovWeight(-1, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}
