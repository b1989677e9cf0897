package sampler

import (
	"fmt"
	"math"
	"strings"
)

// BetaSchedule names a noise schedule beta[1..N] (ocm-math §1.2, §1.3).
// It implements flag.Value, so a CLI flag parses straight into it.
type BetaSchedule int

const (
	// Linear is the "linear_1000" schedule of DDPM: beta rises linearly
	// from 1e-4 to 0.02, both scaled by 1000/N (ocm-math §1.2).
	Linear BetaSchedule = iota
	// Cosine is the cosine schedule of Improved DDPM with betas clipped at
	// 0.999 (ocm-math §1.3).
	Cosine
)

// betaScheduleNames holds the CLI names of the BetaSchedule values, in order.
var betaScheduleNames = [...]string{Linear: "linear", Cosine: "cosine"}

// String returns the CLI name of the schedule ("linear" or "cosine").
func (k BetaSchedule) String() string {
	if k < 0 || int(k) >= len(betaScheduleNames) {
		return fmt.Sprintf("BetaSchedule(%d)", int(k))
	}
	return betaScheduleNames[k]
}

// ParseBetaSchedule converts a CLI name into a BetaSchedule. The error for an
// unknown name lists the valid names.
func ParseBetaSchedule(name string) (BetaSchedule, error) {
	for i, n := range betaScheduleNames {
		if n == name {
			return BetaSchedule(i), nil
		}
	}
	return 0, fmt.Errorf("ocm: unknown beta schedule %q (valid: %s)",
		name, strings.Join(betaScheduleNames[:], ", "))
}

// Set implements flag.Value.
func (k *BetaSchedule) Set(name string) error {
	v, err := ParseBetaSchedule(name)
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// cosineBetaClip is the upper clip of the cosine schedule's betas
// (Improved DDPM, Nichol & Dhariwal 2021; ocm-math §1.3).
const cosineBetaClip = 0.999

// Schedule is the discrete forward process of ocm-math §1.1, in float64.
// Every slice has length N+1 and index 0 is clean data
// (Beta[0] = 0, Alpha[0] = A[0] = 1, B[0] = 0).
type Schedule struct {
	Kind BetaSchedule
	N    int // number of diffusion steps (T in the package legend)
	// TimeShift is s in the network's time input (n − s)·1000/N: 0 for ocm's
	// models, 1 for published models trained that way (see TimeInput).
	TimeShift int
	Beta      []float64 // (N+1) variance of q(x_n | x_{n-1})
	Alpha     []float64 // (N+1) 1 - Beta
	A         []float64 // (N+1) prod_{k<=n} Alpha[k]: x_n = sqrt(A[n]) x_0 + sqrt(B[n]) eps
	B         []float64 // (N+1) 1 - A[n], by the recursion B[n] = B[n-1]*Alpha[n] + Beta[n]
}

// NewSchedule builds the schedule kind with n >= 2 diffusion steps. Every
// beta[1..n] must lie in (0, 1), so Linear needs n > 20 (its last beta is
// 20/n).
func NewSchedule(kind BetaSchedule, n int) (*Schedule, error) {
	if n < 2 {
		return nil, fmt.Errorf("ocm: schedule needs at least 2 steps, got %d", n)
	}
	var beta []float64
	switch kind {
	case Linear:
		beta = linearBetas(n)
	case Cosine:
		beta = cosineBetas(n)
	default:
		return nil, fmt.Errorf("ocm: unknown beta schedule %v", kind)
	}
	for k := 1; k <= n; k++ {
		if !(beta[k] > 0 && beta[k] < 1) {
			// Linear ends at 0.02*1000/n, so it needs n > 20.
			return nil, fmt.Errorf("ocm: %v schedule with %d steps has beta[%d] = %v outside (0, 1)", kind, n, k, beta[k])
		}
	}
	s := &Schedule{Kind: kind, N: n, Beta: beta,
		Alpha: make([]float64, n+1), A: make([]float64, n+1), B: make([]float64, n+1)}
	s.Alpha[0], s.A[0] = 1, 1
	for k := 1; k <= n; k++ {
		s.Alpha[k] = 1 - beta[k]
		s.A[k] = s.A[k-1] * s.Alpha[k]
		s.B[k] = s.B[k-1]*s.Alpha[k] + beta[k]
	}
	return s, nil
}

// linearBetas returns [0, linspace(1e-4*1000/n, 0.02*1000/n, n)...] with
// numpy's linspace semantics: b0 + i*step, last element exactly b1.
func linearBetas(n int) []float64 {
	scale := 1000 / float64(n)
	b0, b1 := scale*1e-4, scale*0.02
	step := (b1 - b0) / float64(n-1)
	beta := make([]float64, n+1)
	for i := 0; i < n; i++ {
		beta[i+1] = float64(i)*step + b0
	}
	beta[n] = b1
	return beta
}

// cosineBetas returns [0, beta_1..beta_n] with
// beta_{i+1} = min(1 - f((i+1)/n)/f(i/n), 0.999) and
// f(u) = cos((u+0.008)/1.008 * pi/2)^2.
func cosineBetas(n int) []float64 {
	f := func(u float64) float64 {
		c := accurateCos((u + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	beta := make([]float64, n+1)
	for i := 0; i < n; i++ {
		b := 1 - f(float64(i+1)/float64(n))/f(float64(i)/float64(n))
		beta[i+1] = math.Min(b, cosineBetaClip)
	}
	return beta
}

// accurateCos returns cos(x), computed as 1 - 2 sin^2(x/2) for |x| < 0.5.
// There this is within rounding of the correctly rounded value, whereas
// math.Cos can be 1 ulp off; the cosine betas at small n are differences
// 1 - f2/f1 ~ 4e-5 that amplify such an error 2e4-fold, and the reference
// values of ocm-math §1.4 come from glibc's correctly rounded cos.
func accurateCos(x float64) float64 {
	if math.Abs(x) >= 0.5 {
		return math.Cos(x)
	}
	h := math.Sin(x / 2)
	return 1 - 2*h*h
}

// checkPair panics unless 0 <= s0 <= t <= N.
func (s *Schedule) checkPair(s0, t int) {
	if s0 < 0 || s0 > t || t > s.N {
		panic(fmt.Sprintf("ocm: schedule: need 0 <= s <= t <= %d, got s=%d t=%d", s.N, s0, t))
	}
}

// SA returns prod_{k=s0+1..t} Alpha[k] (1 when s0 == t), the signal
// coefficient squared of q(x_t | x_s0).
func (s *Schedule) SA(s0, t int) float64 {
	s.checkPair(s0, t)
	p := 1.0
	for k := s0 + 1; k <= t; k++ {
		p *= s.Alpha[k]
	}
	return p
}

// SB returns 1 - SA(s0, t), the variance of q(x_t | x_s0), computed by the
// recursion SB = SB*Alpha[k] + Beta[k] for k = s0+1..t (not as 1 - SA, which
// loses relative precision for short skips).
func (s *Schedule) SB(s0, t int) float64 {
	s.checkPair(s0, t)
	sb := 0.0
	for k := s0 + 1; k <= t; k++ {
		sb = sb*s.Alpha[k] + s.Beta[k]
	}
	return sb
}

// TB returns tilde_beta(s0, t) = SB(s0,t) * B[s0] / B[t], the variance of
// q(x_s0 | x_t, x_0). TB(0, t) = 0 and TB(t-1, t) is DDPM's beta_tilde.
// It needs t >= 1.
func (s *Schedule) TB(s0, t int) float64 {
	return s.SB(s0, t) * s.B[s0] / s.B[t]
}

// TimeInput returns the network time input for step n, (n − TimeShift)·1000/N.
//
// With TimeShift 0 (ocm's models and the CIFAR-10 ones of the paper) the network
// sees 1..1000 for n = 1..N; published models of other data sets were trained with
// TimeShift 1 (docs/method.md, "time input"). Training and sampling must both use
// the model's convention.
func (s *Schedule) TimeInput(n int) float64 {
	return float64(n-s.TimeShift) * 1000 / float64(s.N)
}

// TimeInputs returns the network time inputs of steps n, one per example.
func (s *Schedule) TimeInputs(n []int) []float64 {
	t := make([]float64, len(n))
	for i, ni := range n {
		t[i] = s.TimeInput(ni)
	}
	return t
}

// checkStep panics unless 0 <= s0 < t <= N, a valid reverse transition.
func (s *Schedule) checkStep(s0, t int) {
	if s0 < 0 || s0 >= t || t > s.N {
		panic(fmt.Sprintf("ocm: schedule: reverse step needs 0 <= s < t <= %d, got s=%d t=%d", s.N, s0, t))
	}
}

// DDPMMeanCoef returns the coefficients of the DDPM reverse mean for the
// transition t -> s0 (ocm-math §4.1):
//
//	mu = cx0*x0hat + cxt*x_t,  cx0 = SB(s,t) sqrt(A[s]) / B[t],  cxt = sqrt(SA(s,t)) B[s] / B[t].
//
// For (s0, t) = (0, 1) they are exactly (1, 0).
func (s *Schedule) DDPMMeanCoef(s0, t int) (cx0, cxt float64) {
	s.checkStep(s0, t)
	sb := s.SB(s0, t)
	cx0 = sb * math.Sqrt(s.A[s0]) / s.B[t]
	cxt = math.Sqrt(s.SA(s0, t)) * s.B[s0] / s.B[t]
	return cx0, cxt
}

// DDPMCovWeight returns A[s] SB(s,t)^2 / B[t]^2, the weight of c_t (the
// diagonal of Cov[x0|x_t]) in the optimal DDPM variance (ocm-math §4.3):
//
//	sigma2 = TB(s,t) + DDPMCovWeight(s,t) * c_t.
func (s *Schedule) DDPMCovWeight(s0, t int) float64 {
	s.checkStep(s0, t)
	r := s.SB(s0, t) / s.B[t]
	return s.A[s0] * r * r
}

// DDIMCoef returns the DDIM(eta) reverse-step coefficients for t -> s0
// (ocm-math §4.1, §4.4), with 0 <= eta <= 1:
//
//	lam2      = eta^2 TB(s,t)
//	mu        = cx0*x0hat + ceps*epshat,  cx0 = sqrt(A[s]),  ceps = sqrt(B[s] - lam2)
//	sigma2    = lam2 + covWeight*c_t,     covWeight = (sqrt(A[s]) - sqrt((B[s]-lam2) A[t]/B[t]))^2
//
// epshat is the unclipped network output and x0hat the clipped estimate.
// With eta = 0 and c_t > 0 the step is still stochastic.
func (s *Schedule) DDIMCoef(s0, t int, eta float64) (cx0, ceps, lam2, covWeight float64) {
	s.checkStep(s0, t)
	if !(eta >= 0 && eta <= 1) {
		panic(fmt.Sprintf("ocm: schedule: DDIM eta must be in [0, 1], got %v", eta))
	}
	lam2 = eta * eta * s.TB(s0, t)
	rest := math.Max(s.B[s0]-lam2, 0) // >= 0 in exact arithmetic since TB <= B[s]
	cx0 = math.Sqrt(s.A[s0])
	ceps = math.Sqrt(rest)
	w := cx0 - math.Sqrt(rest*s.A[t]/s.B[t])
	return cx0, ceps, lam2, w * w
}

// X0Coef returns the coefficients of the clean-data estimate at step t >= 1
// (ocm-math §2): x0hat = cxt*x_t - ceps*epshat, with cxt = 1/sqrt(A[t]) and
// ceps = sqrt(B[t]/A[t]). Clipping to [-1, 1] is the caller's job.
func (s *Schedule) X0Coef(t int) (cxt, ceps float64) {
	s.checkStep(0, t)
	return 1 / math.Sqrt(s.A[t]), math.Sqrt(s.B[t] / s.A[t])
}

// ClipSigmaThreshold returns the variance cap (p * (2/255) * sqrt(pi/2))^2
// applied by clip_sigma_idx / clip_pixel p (ocm-math §4.5): the cap makes
// E|N(0, sigma2)| = sigma sqrt(2/pi) at most p pixel bins of width 2/255.
// It does not depend on the schedule.
func (s *Schedule) ClipSigmaThreshold(pixels float64) float64 {
	v := pixels * (2.0 / 255) * math.Sqrt(math.Pi/2)
	return v * v
}
