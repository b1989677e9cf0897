package ocm

import (
	"fmt"
	"math"
	"slices"
	"strings"

	ad "ocm/autodiff"
	"ocm/nn"
	rt "ocm/runtime"
	"ocm/sampler"
)

// Covariance names an estimator of the reverse-step variance (ocm-math §4.2, §4.3).
type Covariance int

// Covariance estimators. Small and Large are the fixed DDPM variances; the others
// estimate c_t = diag Cov[x0|x_t] and use the optimal variance formula.
const (
	CovSmall     Covariance = iota // σ² = T̃B(s,t)
	CovLarge                       // σ² = SB(s,t)
	CovOCM                         // c = (B/A)(1 + h), h the OCM head
	CovSN                          // c = (B/A)(h − ε̂²), h the SN head
	CovNPR                         // c = (B/A)·h, h the NPR head
	CovAnalytic                    // c = (B/A)(1 − ms_eps[t]), isotropic (Analytic-DPM)
	CovExactDiag                   // c = diag Cov[x0|x_t] of a Gaussian mixture, with the exact mean
	CovExactFull                   // the full Cov[x0|x_t] of a Gaussian mixture, with the exact mean
	CovOCMProbe                    // c = (B/A)(1 + B·diag H), diag H from fresh Rademacher probes (no head)
	numCovariances
)

var covNames = [numCovariances]string{"small", "large", "ocm", "sn", "npr", "analytic", "exact-diag", "exact-full", "ocm-probe"}

// String is the estimator's name, as --variance-type takes it.
func (c Covariance) String() string {
	if c >= 0 && c < numCovariances {
		return covNames[c]
	}
	return fmt.Sprintf("Covariance(%d)", int(c))
}

// ParseCovariance reads a covariance name; diffusers' fixed_small and fixed_large are
// accepted for small and large.
func ParseCovariance(name string) (Covariance, error) {
	switch name {
	case "fixed_small":
		return CovSmall, nil
	case "fixed_large":
		return CovLarge, nil
	}
	if i := slices.Index(covNames[:], name); i >= 0 {
		return Covariance(i), nil
	}
	return 0, fmt.Errorf("unknown variance type %q (valid: %s)", name, strings.Join(covNames[:], ", "))
}

// Set implements flag.Value.
func (c *Covariance) Set(name string) error {
	v, err := ParseCovariance(name)
	if err == nil {
		*c = v
	}
	return err
}

// Optimal reports whether the estimator supplies c_t (the optimal-variance family).
func (c Covariance) Optimal() bool { return c.Variance().Optimal() }

// Variance is the sampler's variance family for the estimator.
func (c Covariance) Variance() sampler.Variance {
	switch c {
	case CovSmall:
		return sampler.Small
	case CovLarge:
		return sampler.Large
	case CovExactFull:
		return sampler.OptimalFull
	}
	return sampler.Optimal
}

// Sampling is how a sampling run steps back from noise: the reverse process, DDIM's
// η, the number of steps K and their spacing, and the covariance estimator.
type Sampling struct {
	Method  sampler.Method
	Eta     float64
	K       int
	Spacing sampler.TimestepSpacing
	Cov     Covariance
	Probes  int // Rademacher probes per denoiser call of ocm-probe (0: DefaultProbes)
}

// Variances maps each estimator to its sampler variance family.
func Variances(cs []Covariance) []sampler.Variance {
	vs := make([]sampler.Variance, len(cs))
	for i, c := range cs {
		vs[i] = c.Variance()
	}
	return vs
}

// Predictor is the sampler.Denoiser of a teacher (network or exact mixture) with a covariance
// estimator.
type Predictor struct {
	Teacher Teacher
	Sched   *sampler.Schedule
	Cov     Covariance
	Head    *Head           // for OCM, SN, NPR
	MsEps   []float64       // (N+1) for Analytic
	Exact   *MixtureTeacher // for ExactDiag, ExactFull
	// CovMax clamps c_t to at most CovMax (0: no upper clamp); c_t ≥ 0 always. The
	// reference code's clip_cov_x0 is CovMax = 1 for data in [−1, 1] (ocm-math §4.5).
	CovMax float64
	// Probes is the number M of Rademacher probes per call of ocm-probe
	// (0: DefaultProbes), Seed keys them (ProbeKey).
	Probes int
	Seed   uint64
}

// Predict evaluates the teacher and the covariance estimator at step t.
func (p *Predictor) Predict(x *rt.Tensor, t int) (*sampler.Prediction, error) {
	n := make([]int, x.Dim(0))
	for i := range n {
		n[i] = t
	}
	eps, features, _ := p.Teacher.Predict(x, n, nil)
	pr := &sampler.Prediction{Eps: eps}
	ratio := float32(p.Sched.B[t] / p.Sched.A[t])
	var c *rt.Tensor
	switch p.Cov {
	case CovSmall, CovLarge:
		return pr, nil
	case CovOCM, CovSN, CovNPR:
		if p.Head == nil || p.Head.Kind != headOf(p.Cov) {
			return nil, fmt.Errorf("ocm: %v covariance needs a fitted %v head", p.Cov, headOf(p.Cov))
		}
		h := p.Head.Forward(nn.Eval(), ad.Const(features), p.Sched.TimeInputs(n)).Value
		c = covFromHead(p.Cov, h, eps, ratio)
	case CovAnalytic:
		if len(p.MsEps) != p.Sched.N+1 {
			return nil, fmt.Errorf("ocm: analytic covariance needs an ms_eps table of %d values", p.Sched.N+1)
		}
		c = rt.Full(x.Device(), ratio*float32(1-p.MsEps[t]), x.Shape()...)
	case CovOCMProbe:
		c = rt.Affine(p.probeDiag(x, n), ratio, ratio)
	case CovExactDiag, CovExactFull:
		if p.Exact == nil {
			return nil, fmt.Errorf("ocm: %v covariance needs a Gaussian-mixture data set", p.Cov)
		}
		return p.exact(x, t, pr), nil
	default:
		return nil, fmt.Errorf("ocm: unknown covariance %v", p.Cov)
	}
	hi := float32(3.4e38)
	if p.CovMax > 0 {
		hi = float32(p.CovMax)
	}
	pr.CovDiag = rt.Clamp(c, 0, hi)
	return pr, nil
}

func headOf(c Covariance) HeadKind {
	switch c {
	case CovSN:
		return HeadSN
	case CovNPR:
		return HeadNPR
	}
	return HeadOCM
}

// covFromHead turns a head output h into c_t (ocm-math §4.2), before clamping.
func covFromHead(c Covariance, h, eps *rt.Tensor, ratio float32) *rt.Tensor {
	switch c {
	case CovOCM:
		return rt.Affine(h, ratio, ratio)
	case CovSN:
		return rt.Scale(rt.Sub(h, rt.Square(eps)), ratio)
	}
	return rt.Scale(h, ratio)
}

// exact fills the exact posterior mean and covariance of a mixture.
func (p *Predictor) exact(x *rt.Tensor, t int, pr *sampler.Prediction) *sampler.Prediction {
	d := p.Exact.Mix.Dim
	post := p.Exact.At(t)
	xs := x.Data()
	nb := x.Dim(0)
	mean, diag := make([]float32, len(xs)), make([]float32, len(xs))
	full := make([]float64, nb*d*d)
	mu, cov := make([]float64, d), make([]float64, d*d)
	for i := range nb {
		post.PosteriorInto(mu, cov, rt.Widen(xs[i*d:(i+1)*d]))
		for a := range d {
			mean[i*d+a] = float32(mu[a])
			diag[i*d+a] = float32(cov[a*d+a])
		}
		copy(full[i*d*d:], cov)
	}
	pr.X0 = rt.FromSlice(x.Device(), mean, x.Shape()...)
	pr.CovDiag = rt.FromSlice(x.Device(), diag, x.Shape()...)
	if p.Cov == CovExactFull {
		pr.CovFull = full
	}
	return pr
}

// MsEpsStepsPerBatch is how many diffusion steps one batch of MsEps covers: its
// batches hold MsEpsStepsPerBatch·perStep examples, which data must have.
const MsEpsStepsPerBatch = 4

// MsEps computes Analytic-DPM's table ms_eps[n] = E[mean over values of ε̂(x_n, n)²]
// for n = 1..N, from perStep fresh examples per step (ocm-math §4.2); ms_eps[0] = 0.
// The values are rounded to float32, the precision bundles store, so that a model
// used right after fitting gives the numbers of the same model saved and loaded.
// watch, when not nil, hears of each batch and can stop the work: then MsEps
// returns nil.
func MsEps(dev rt.Device, teacher Teacher, s *sampler.Schedule, data DataSource, perStep int, seed uint64, watch *Watch) []float64 {
	ms := make([]float64, s.N+1)
	for n0 := 1; n0 <= s.N; n0 += MsEpsStepsPerBatch {
		if watch.stopped(n0-1, s.N) {
			return nil
		}
		k := min(MsEpsStepsPerBatch, s.N+1-n0)
		ns := make([]int, 0, k*perStep)
		for j := range k {
			for range perStep {
				ns = append(ns, n0+j)
			}
		}
		x := noisyAt(dev, data, s, seed, n0, ns)
		eps, _, _ := teacher.Predict(x, ns, nil)
		sq := rt.Square(eps).Data()
		per := len(sq) / len(ns)
		for i, ni := range ns {
			sum := 0.0
			for _, v := range sq[i*per : (i+1)*per] {
				sum += float64(v)
			}
			ms[ni] += sum / float64(per) / float64(perStep)
		}
	}
	for i, v := range ms {
		ms[i] = float64(float32(v))
	}
	watch.stopped(s.N, s.N)
	return ms
}

// Watch lets a long computation without checkpoints report its progress and be
// stopped between its parts.
type Watch struct {
	Task     string   // the name progress reports
	Progress Progress // nil: none
	Stop     func() bool
}

// stopped reports done of total parts and says whether to stop.
func (w *Watch) stopped(done, total int) bool {
	if w == nil {
		return false
	}
	if w.Progress != nil {
		w.Progress(w.Task, done, total, math.NaN())
	}
	return w.Stop != nil && w.Stop()
}

// noisyAt draws x_n for the given steps, from batch `batch` of data and fresh noise.
func noisyAt(dev rt.Device, data DataSource, s *sampler.Schedule, seed uint64, batch int, ns []int) *rt.Tensor {
	x0 := data.Batch(dev, batch, len(ns))
	sa, sb := make([]float64, len(ns)), make([]float64, len(ns))
	for i, n := range ns {
		sa[i], sb[i] = sqrt(s.A[n]), sqrt(s.B[n])
	}
	eps := rt.Random(dev, rt.Normal, keyFor(seed, batch), 0, x0.Shape()...)
	return rt.Add(rt.Mul(x0, perExample(dev, sa, x0.Rank())), rt.Mul(eps, perExample(dev, sb, x0.Rank())))
}
