package sampler

import (
	"fmt"
	"math"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Method names a reverse process.
type Method int

// Reverse processes.
const (
	DDPM Method = iota // ancestral sampling, ocm-math §4.1/§4.3
	DDIM               // DDIM(η), ocm-math §4.1/§4.4
)

// String is the method's name (ddpm, ddim).
func (m Method) String() string {
	if m == DDIM {
		return "ddim"
	}
	return "ddpm"
}

// ParseMethod reads "ddpm" or "ddim".
func ParseMethod(s string) (Method, error) {
	switch s {
	case "ddpm":
		return DDPM, nil
	case "ddim":
		return DDIM, nil
	}
	return 0, fmt.Errorf("unknown sampler %q (valid: ddpm, ddim)", s)
}

// Set implements flag.Value.
func (m *Method) Set(s string) error {
	v, err := ParseMethod(s)
	if err == nil {
		*m = v
	}
	return err
}

// Options configures a sampling run.
type Options struct {
	Method   Method
	Eta      float64  // DDIM's η (0 = deterministic with fixed variances)
	Steps    []int    // increasing timesteps ns (Timesteps): ns[0] = 1, or [N] for one jump
	Variance Variance // which variance family; the Denoiser supplies c_t for the optimal ones
	ClipX0   bool     // clamp x̂0 to [−1, 1] (images)
	// ClipSigmaIdx k > 0 caps σ² at ClipSigmaThreshold(ClipPixel) in transitions with
	// s ≤ timesteps[k] (timesteps = [0] + Steps), ocm-math §4.5; 0 disables it.
	ClipSigmaIdx int
	ClipPixel    float64
	Key          philox.Key // the noise: transition k draws from Key.Split(k)
	Offset       int        // index of the batch's first sample in the whole run
}

// Step is what the observer sees after each transition.
type Step struct {
	Index, Of int        // transition number (1-based) and how many there are
	S, T      int        // the transition t → s
	X         *rt.Tensor // x_s
}

// Sample runs the reverse process from x (x_N, usually standard normal noise) down to
// x_0 and returns x_0. obs, when not nil, is called after every transition. The last
// transition, ns[0] → 0, returns its mean x̂0 without noise; with one step (K = 1,
// ns = [N]) that is the whole process.
func Sample(m Denoiser, s *Schedule, x *rt.Tensor, o *Options, obs func(Step)) (*rt.Tensor, error) {
	if len(o.Steps) == 0 || o.Steps[0] < 1 || o.Steps[len(o.Steps)-1] > s.N {
		return nil, fmt.Errorf("sampler: timesteps must lie in 1..%d", s.N)
	}
	if err := checkIncreasing(o.Steps); err != nil {
		return nil, fmt.Errorf("sampler: %w", err)
	}
	if o.Method == DDIM && o.Variance == Large {
		return nil, fmt.Errorf("sampler: DDIM has no large variance (use small or an optimal covariance)")
	}
	times := append([]int{0}, o.Steps...)
	perSample := x.Len() / x.Dim(0)
	for k := len(times) - 1; k >= 1; k-- {
		sPrev, t := times[k-1], times[k]
		pr, err := m.Predict(x, t)
		if err != nil {
			return nil, fmt.Errorf("sampler: step %d: %w", t, err)
		}
		mu, sigma2 := transition(s, o, x, pr, sPrev, t)
		if sPrev == 0 {
			x = mu
		} else {
			if o.ClipSigmaIdx > 0 && sPrev <= times[o.ClipSigmaIdx] {
				sigma2.capAt(s.ClipSigmaThreshold(o.ClipPixel))
			}
			z := rt.Random(x.Device(), rt.Normal, o.Key.Split(uint64(k)), uint64(o.Offset*perSample), x.Shape()...)
			x = rt.Add(mu, sigma2.applySqrt(z))
		}
		if obs != nil {
			obs(Step{Index: len(times) - k, Of: len(times) - 1, S: sPrev, T: t, X: x})
		}
	}
	return x, nil
}

// x0Estimate returns x̂0: the exact mean when the prediction has one, else
// x_t/√A − √(B/A)·ε̂; clamped to [−1, 1] with ClipX0.
func x0Estimate(s *Schedule, o *Options, x *rt.Tensor, pr *Prediction, t int) *rt.Tensor {
	x0 := pr.X0
	if x0 == nil {
		cxt, ceps := s.X0Coef(t)
		x0 = rt.Sub(rt.Scale(x, float32(cxt)), rt.Scale(pr.Eps, float32(ceps)))
	}
	if o.ClipX0 {
		x0 = rt.Clamp(x0, -1, 1)
	}
	return x0
}

// transition returns the mean and variance of p(x_s | x_t).
func transition(s *Schedule, o *Options, x *rt.Tensor, pr *Prediction, sPrev, t int) (*rt.Tensor, *variance) {
	x0 := x0Estimate(s, o, x, pr, t)
	v := &variance{}
	var weight float64
	var mu *rt.Tensor
	if o.Method == DDPM {
		cx0, cxt := s.DDPMMeanCoef(sPrev, t)
		mu = rt.Add(rt.Scale(x0, float32(cx0)), rt.Scale(x, float32(cxt)))
		v.base, weight = s.TB(sPrev, t), s.DDPMCovWeight(sPrev, t)
		if o.Variance == Large {
			v.base = s.SB(sPrev, t)
		}
	} else {
		cx0, ceps, lam2, w := s.DDIMCoef(sPrev, t, o.Eta)
		mu = rt.Add(rt.Scale(x0, float32(cx0)), rt.Scale(pr.Eps, float32(ceps)))
		v.base, weight = lam2, w
	}
	if o.Variance.Optimal() {
		v.weight = weight
		v.diag = pr.CovDiag
		v.full = pr.CovFull
		v.dim = x.Len() / x.Dim(0)
	}
	return mu, v
}

// variance is σ² = base + weight·c_t, with c_t diagonal (diag) or full (full, host).
type variance struct {
	base, weight float64
	diag         *rt.Tensor
	full         []float64
	dim          int
	cap          float64   // 0: none
	host         []float64 // diag on the host, filled on first use by the ELBO
}

func (v *variance) capAt(c float64) { v.cap = c }

// diagTensor returns σ² as a tensor shaped like z (diagonal covariances).
func (v *variance) diagTensor(z *rt.Tensor) *rt.Tensor {
	var s2 *rt.Tensor
	if v.diag == nil {
		s2 = rt.Full(z.Device(), float32(v.base), z.Shape()...)
	} else {
		s2 = rt.Affine(v.diag, float32(v.weight), float32(v.base))
	}
	if v.cap > 0 {
		s2 = rt.Clamp(s2, 0, float32(v.cap))
	}
	return s2
}

// applySqrt returns Σ^{1/2}·z (the Cholesky factor for full covariances).
func (v *variance) applySqrt(z *rt.Tensor) *rt.Tensor {
	if v.full == nil {
		return rt.Mul(rt.Sqrt(v.diagTensor(z)), z)
	}
	d := v.dim
	zs := z.Data()
	out := make([]float32, len(zs))
	sig := make([]float64, d*d)
	for i := range len(zs) / d {
		v.sigmaFull(sig, i)
		l := cholesky(sig, d)
		for a := range d {
			acc := 0.0
			for b := 0; b <= a; b++ {
				acc += l[a*d+b] * float64(zs[i*d+b])
			}
			out[i*d+a] = float32(acc)
		}
	}
	return rt.FromSlice(z.Device(), out, z.Shape()...)
}

// sigmaFull writes Σ_i = base·I + weight·C_i for sample i.
func (v *variance) sigmaFull(dst []float64, i int) {
	d := v.dim
	for a := range d * d {
		dst[a] = v.weight * v.full[i*d*d+a]
	}
	for a := range d {
		dst[a*d+a] += v.base
	}
}

// cholesky returns the lower factor of a symmetric positive semi-definite d×d matrix,
// with tiny negative pivots (rounding) treated as zero.
func cholesky(a []float64, d int) []float64 {
	l := make([]float64, d*d)
	for i := range d {
		for j := 0; j <= i; j++ {
			s := a[i*d+j]
			for k := range j {
				s -= l[i*d+k] * l[j*d+k]
			}
			if i == j {
				l[i*d+i] = math.Sqrt(max(s, 0))
			} else if l[j*d+j] > 0 {
				l[i*d+j] = s / l[j*d+j]
			}
		}
	}
	return l
}
