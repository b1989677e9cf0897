package sampler

import (
	"fmt"
	"math"
	"testing"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// fakeDenoiser returns a fixed ε̂ (or a fixed x̂0) and a fixed diagonal covariance per
// step, and records the x_t it is given.
type fakeDenoiser struct {
	name string
	eps  []float32             // ε̂, one value per value of the batch
	x0   []float32             // when set, the exact mean E[x0|x_t] instead of ε̂
	cov  func(t int) []float32 // c_t before clamping; nil: no covariance
	seen map[int][]float64     // t → x_t received
	log  *[]call               // shared call log
	err  func(t int) error     // optional failure
	// oracle, when set, makes ε̂ near-exact: the noise that produced x_t from oracle
	// (the clean batch) plus 0.1·eps, so that every term is of moderate size.
	oracle []float64
	sched  *Schedule
	epsAt  map[int][]float32 // t → ε̂ returned
}

// call is one Predict call: which denoiser, which tensor, which step.
type call struct {
	who string
	x   *rt.Tensor
	t   int
}

func (f *fakeDenoiser) Predict(x *rt.Tensor, t int) (*Prediction, error) {
	if f.err != nil {
		if err := f.err(t); err != nil {
			return nil, err
		}
	}
	if f.seen == nil {
		f.seen, f.epsAt = map[int][]float64{}, map[int][]float32{}
	}
	xs := x.Float64s()
	f.seen[t] = xs
	if f.log != nil {
		*f.log = append(*f.log, call{f.name, x, t})
	}
	eps := f.eps
	if f.oracle != nil {
		eps = make([]float32, len(xs))
		for i, v := range xs {
			eps[i] = float32((v-math.Sqrt(f.sched.A[t])*f.oracle[i])/math.Sqrt(f.sched.B[t]) + 0.1*float64(f.eps[i]))
		}
	}
	f.epsAt[t] = eps
	pr := &Prediction{Eps: rt.FromSlice(x.Device(), eps, x.Shape()...)}
	if f.x0 != nil {
		pr.X0 = rt.FromSlice(x.Device(), f.x0, x.Shape()...)
	}
	if f.cov != nil {
		pr.CovDiag = rt.FromSlice(x.Device(), f.cov(t), x.Shape()...)
	}
	return pr, nil
}

// Two 1×3×3 images on the 256-level grid, as integer levels u: x = 2u/255 − 1. Both
// edges (0 and 255) and interior levels next to them appear.
var testLevels = []int{
	0, 255, 1, 127, 128, 254, 64, 200, 3,
	255, 0, 10, 245, 0, 255, 100, 155, 30,
}

// gridImages returns the test images as a (2, 1, 3, 3) tensor.
func gridImages() *rt.Tensor {
	x := make([]float32, len(testLevels))
	for i, u := range testLevels {
		x[i] = float32(2*float64(u)/255 - 1)
	}
	return rt.FromSlice(dev, x, 2, 1, 3, 3)
}

// fixedEps is a fixed ε̂ pattern of n values in [−1.3, 1.3].
func fixedEps(n int) []float32 {
	e := make([]float32, n)
	for i := range e {
		e[i] = float32(1.3 * math.Sin(1.7*float64(i)+0.4))
	}
	return e
}

// fixedCov is a fixed c_t pattern of n values in [lo, lo+span), depending on t.
func fixedCov(n int, lo, span float64) func(t int) []float32 {
	return func(t int) []float32 {
		c := make([]float32, n)
		for i := range c {
			f := 0.37*float64(i) + 0.011*float64(t)
			c[i] = float32(lo + span*(f-math.Floor(f)))
		}
		return c
	}
}

// refSchedule is the test's own cumulative schedule: abar[t] = Π_{k≤t}(1 − β_k).
func refSchedule(beta []float64) []float64 {
	abar := make([]float64, len(beta))
	abar[0] = 1
	for k := 1; k < len(beta); k++ {
		abar[k] = abar[k-1] * (1 - beta[k])
	}
	return abar
}

// refPhi is the tanh approximation of the standard normal CDF (ocm-math §6).
func refPhi(z float64) float64 {
	c := math.Sqrt(2) / math.SqrtPi
	return (1 + math.Tanh(c*(z+0.044715*z*z*z))) / 2
}

// refLogBin is log P(x's bin) under N(mu, v) on the 256-level grid; the first and last
// levels extend to −∞ and +∞.
func refLogBin(x, mu, v float64) float64 {
	u := int(math.Round((x + 1) * 255 / 2))
	lo, hi := (x-mu-1.0/255)/math.Sqrt(v), (x-mu+1.0/255)/math.Sqrt(v)
	cLo, cHi := refPhi(lo), refPhi(hi)
	if u == 0 {
		cLo = 0
	}
	if u == 255 {
		cHi = 1
	}
	return math.Log(math.Max(cHi-cLo, 1e-12))
}

// refKL is KL(N(m1, v1) ‖ N(m2, v2)) for scalars.
func refKL(m1, v1, m2, v2 float64) float64 {
	return math.Log(math.Sqrt(v2)/math.Sqrt(v1)) + (v1+(m1-m2)*(m1-m2))/(2*v2) - 0.5
}

// refNELBO is an independent float64 implementation of ocm-math §6 (and of the
// continuous decoder when !discrete), from the x_t the fake denoiser saw.
func refNELBO(beta []float64, x0 []float64, n, d int, steps []int, cov Variance, f *fakeDenoiser, clip, discrete bool) (total, decoder []float64) {
	abar := refSchedule(beta)
	bbar := func(t int) float64 { return 1 - abar[t] }
	clampTo := func(v, lo, hi float64) float64 {
		if !clip {
			return v
		}
		return math.Min(math.Max(v, lo), hi)
	}
	x0hat := func(t, i int) float64 {
		if f.x0 != nil {
			return clampTo(float64(f.x0[i]), -1, 1)
		}
		xt := f.seen[t][i]
		return clampTo(xt/math.Sqrt(abar[t])-math.Sqrt(bbar(t)/abar[t])*float64(f.epsAt[t][i]), -1, 1)
	}
	out, dec := make([]float64, n), make([]float64, n)
	T := steps[len(steps)-1]
	times := append([]int{0}, steps...)
	for i := range n {
		for p := range d {
			a := i*d + p
			x := x0[a]
			out[i] += refKL(math.Sqrt(abar[T])*x, bbar(T), 0, 1)
			for k := 1; k < len(times); k++ {
				s, t := times[k-1], times[k]
				mhat := x0hat(t, a)
				if s == 0 {
					// Decoder p(x0|x_1).
					if discrete {
						tb12 := (1 - (1 - beta[2])) * bbar(1) / bbar(2)
						out[i] -= refLogBin(x, mhat, tb12)
						dec[i] -= refLogBin(x, mhat, tb12)
						continue
					}
					var v float64
					switch cov {
					case Small:
						v = (1 - (1 - beta[2])) * bbar(1) / bbar(2)
					case Large:
						v = beta[1]
					default:
						v = clampTo(float64(f.cov(1)[a]), 0, 1)
					}
					out[i] += 0.5*math.Log(2*math.Pi*v) + (x-mhat)*(x-mhat)/(2*v)
					dec[i] += 0.5*math.Log(2*math.Pi*v) + (x-mhat)*(x-mhat)/(2*v)
					continue
				}
				ast := abar[t] / abar[s] // q(x_t|x_s) = N(√ast x_s, 1 − ast)
				bst := 1 - ast
				c0 := math.Sqrt(abar[s]) * bst / bbar(t)
				ct := math.Sqrt(ast) * bbar(s) / bbar(t)
				xt := f.seen[t][a]
				vq := bst * bbar(s) / bbar(t)
				var vp float64
				switch cov {
				case Small:
					vp = vq
				case Large:
					vp = bst
				default:
					vp = vq + abar[s]*bst*bst/(bbar(t)*bbar(t))*clampTo(float64(f.cov(t)[a]), 0, 1)
				}
				out[i] += refKL(c0*x+ct*xt, vq, c0*mhat+ct*xt, vp)
			}
		}
	}
	return out, dec
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

// TestNELBOMatchesReference compares NELBO with the independent reference on small
// images, for DDPM small, large and an optimal covariance, K = 2 and 5, with the
// discrete decoder (and the continuous one for comparison).
func TestNELBOMatchesReference(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	x0h := x0.Float64s()
	n, d := x0.Dim(0), x0.Len()/x0.Dim(0)
	cases := []struct {
		clip, discrete, oracle bool
		covLo, covSpan         float64 // c_t pattern: [covLo, covLo+covSpan)
	}{
		// §6: clipping on, c_t partly outside [0, 1]; a fixed ε̂ (large KL terms) and a
		// near-exact one (terms of moderate size, the decoder a large part).
		{clip: true, discrete: true, covLo: -0.3, covSpan: 1.6},
		{clip: true, discrete: true, oracle: true, covLo: -0.3, covSpan: 1.6},
		// The continuous decoder, unclipped.
		{clip: false, discrete: false, covLo: 0.02, covSpan: 0.9},
		{clip: false, discrete: false, oracle: true, covLo: 0.02, covSpan: 0.9},
	}
	for _, c := range cases {
		for _, cov := range []Variance{Small, Large, Optimal} {
			for _, k := range []int{2, 5} {
				name := fmt.Sprintf("%v/K=%d/discrete=%v/oracle=%v", cov, k, c.discrete, c.oracle)
				steps, err := Timesteps(Even, s.N, k)
				if err != nil {
					t.Fatal(err)
				}
				f := &fakeDenoiser{eps: fixedEps(x0.Len()), cov: fixedCov(x0.Len(), c.covLo, c.covSpan)}
				if c.oracle {
					f.oracle, f.sched = x0h, s
				}
				got, err := NELBO(f, s, x0, steps, cov, NELBOOptions{ClipX0: c.clip, Discrete: c.discrete}, philox.Key{Seed: 11, Stream: uint64(k)})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				want, dec := refNELBO(s.Beta, x0h, n, d, steps, cov, f, c.clip, c.discrete)
				for i := range n {
					if !relClose(got[i], want[i], 1e-9) {
						t.Errorf("%s: example %d: NELBO %.15g, reference %.15g", name, i, got[i], want[i])
					}
				}
				t.Logf("%s: NELBO %.6f %.6f nats (decoder %.6f %.6f), %.4f %.4f bits/dim",
					name, got[0], got[1], dec[0], dec[1], BitsPerDim(got[0], d), BitsPerDim(got[1], d))
			}
		}
	}
}

// TestDiscGaussLogProbEdges checks the three branches of the discretised Gaussian
// against hand-computed values: with mu = x and σ = 1/255 the bin edges are at z = ±1.
func TestDiscGaussLogProbEdges(t *testing.T) {
	// Φ̃(1) = ½(1 + tanh(√(2/π)·1.044715)), evaluated separately (Python):
	const logPhi1 = -0.17293535658708467      // log Φ̃(1): an edge bin
	const logInterior1 = -0.38216275726460813 // log(Φ̃(1) − Φ̃(−1)): an interior bin
	const sd = 1.0 / 255
	for _, tc := range []struct {
		name      string
		x, mu, sd float64
		want      float64
	}{
		{"lower edge", -1, -1, sd, logPhi1},
		{"upper edge", 1, 1, sd, logPhi1},
		{"interior", 2*3.0/255 - 1, 2*3.0/255 - 1, sd, logInterior1},
		{"lower edge, far mean", -1, 1, 0.01, math.Log(1e-12)},
		{"upper edge, far mean", 1, -1, 0.01, math.Log(1e-12)},
		{"interior, far mean", 0.2 - 0.2*(1.0/255), 0.9, 0.001, math.Log(1e-12)},
	} {
		if got := discGaussLogProb(tc.x, tc.mu, tc.sd); !relClose(got, tc.want, 1e-12) {
			t.Errorf("%s: log p = %.17g, want %.17g", tc.name, got, tc.want)
		}
	}
	if logPhi1 == logInterior1 {
		t.Fatal("the edge and interior values must differ for the test to discriminate")
	}
}

// TestDiscreteDecoderTerm checks the decoder term alone through NELBO with a single
// step (steps = [1]: the prior at T = 1 and the decoder): the mean is the clipped x̂0,
// the variance T̃B(1,2) for every covariance, and the edge pixels use the edge bins.
func TestDiscreteDecoderTerm(t *testing.T) {
	s := linear(t)
	// One 1×3×3 image: levels 0 and 255 with means on them and beyond them (clipped
	// back), interior levels, and edge pixels with the mean at the opposite edge.
	levels := []int{0, 255, 0, 255, 128, 7, 0, 255, 255}
	x := make([]float32, len(levels))
	for i, u := range levels {
		x[i] = float32(2*float64(u)/255 - 1)
	}
	means := []float32{-1, 1, -1.7, 1.4, x[4], x[5] + 0.01, 1, -1, 1}
	x0 := rt.FromSlice(dev, x, 1, 1, 3, 3)
	// T̃B(1,2) = β₂·B₁/B₂ with B₁ = β₁, B₂ = 1 − (1−β₁)(1−β₂).
	b1, b2 := s.Beta[1], s.Beta[2]
	tb := b2 * b1 / (1 - (1-b1)*(1-b2))
	sd := math.Sqrt(tb)
	phi := func(z float64) float64 { return 0.5 * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(z+0.044715*z*z*z))) }
	h := 1.0 / 255 / sd
	want := 0.0
	for i, u := range levels {
		xi := float64(x[i])
		a := 1 - b1
		want += 0.5 * (a*xi*xi + b1 - 1 - math.Log(b1)) // prior KL at T = 1
		mu := math.Min(math.Max(float64(means[i]), -1), 1)
		switch {
		case i == 6 || i == 7: // edge bin, mean at the other edge: the 1e-12 floor
			want -= math.Log(1e-12)
		case u == 0 || u == 255: // edge bin with the mean on it: log Φ̃(h)
			want -= math.Log(phi(h))
		default:
			want -= math.Log(phi((xi-mu)/sd+h) - phi((xi-mu)/sd-h))
		}
	}
	for _, cov := range []Variance{Small, Large, Optimal} {
		for _, c1 := range []float64{-2, 0, 3e-5, 0.5, 1, 9} {
			f := &fakeDenoiser{eps: fixedEps(9), x0: means, cov: func(int) []float32 {
				c := make([]float32, 9)
				for i := range c {
					c[i] = float32(c1)
				}
				return c
			}}
			got, err := NELBO(f, s, x0, []int{1}, cov, NELBOOptions{ClipX0: true, Discrete: true}, philox.Key{Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !relClose(got[0], want, 1e-12) {
				t.Errorf("%v, c_1 = %v: decoder NELBO %.15g, want %.15g", cov, c1, got[0], want)
			}
		}
	}
}

// TestDiscreteDecoderIgnoresC1AndClampsCt: with K = 2, c_1 does not change the NELBO
// (the decoder variance is fixed), and c_t at t = N is clamped to [0, 1].
func TestDiscreteDecoderIgnoresC1AndClampsCt(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	steps := []int{1, s.N}
	run := func(c1, cN float64) []float64 {
		t.Helper()
		f := &fakeDenoiser{eps: fixedEps(x0.Len()), cov: func(tt int) []float32 {
			c := make([]float32, x0.Len())
			for i := range c {
				c[i] = float32(cN)
				if tt == 1 {
					c[i] = float32(c1)
				}
			}
			return c
		}}
		v, err := NELBO(f, s, x0, steps, Optimal, NELBOOptions{ClipX0: true, Discrete: true}, philox.Key{Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	base := run(0.3, 0.5)
	for _, c1 := range []float64{-1, 0, 1e-7, 0.9, 1, 20} {
		if got := run(c1, 0.5); got[0] != base[0] || got[1] != base[1] {
			t.Errorf("c_1 = %v changed the NELBO: %v, with c_1 = 0.3: %v", c1, got, base)
		}
	}
	one := run(0.3, 1)
	for _, cN := range []float64{1.0001, 1.7, 50} {
		if got := run(0.3, cN); got[0] != one[0] || got[1] != one[1] {
			t.Errorf("c_N = %v: NELBO %v, want the value at c_N = 1: %v", cN, got, one)
		}
	}
	zero := run(0.3, 0)
	for _, cN := range []float64{-0.4, -1e-6} {
		if got := run(0.3, cN); got[0] != zero[0] || got[1] != zero[1] {
			t.Errorf("c_N = %v: NELBO %v, want the value at c_N = 0: %v", cN, got, zero)
		}
	}
	if base[0] == one[0] || one[0] == zero[0] {
		t.Errorf("c_N does not matter at all (%v, %v, %v): the clamp checks do not discriminate", base, one, zero)
	}
}

// TestNELBOsSharesOnePassAndMatchesNELBO: NELBOs gives each term's x_t, as the same
// tensor and step, to every denoiser in turn before the next term, and its results
// equal NELBO per covariance.
func TestNELBOsSharesOnePassAndMatchesNELBO(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	covs := []Variance{Small, Large, Optimal, Optimal, Optimal, Optimal} // analytic, SN, NPR, OCM: each supplies its own c_t
	steps, err := Timesteps(Even, s.N, 5)
	if err != nil {
		t.Fatal(err)
	}
	newFake := func(j int, log *[]call) *fakeDenoiser {
		return &fakeDenoiser{name: fmt.Sprint("denoiser ", j), log: log, eps: fixedEps(x0.Len()),
			cov: fixedCov(x0.Len(), -0.2+0.1*float64(j), 1.3)}
	}
	o := NELBOOptions{ClipX0: true, Discrete: true, Offset: 3}
	key := philox.Key{Seed: 21, Stream: 1}
	var log []call
	ds := make([]Denoiser, len(covs))
	for j := range covs {
		ds[j] = newFake(j, &log)
	}
	all, err := NELBOs(ds, covs, s, x0, steps, o, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != len(steps)*len(covs) {
		t.Fatalf("%d Predict calls, want %d", len(log), len(steps)*len(covs))
	}
	for k, step := range steps {
		first := log[k*len(covs)]
		for j := range covs {
			c := log[k*len(covs)+j]
			if c.who != fmt.Sprint("denoiser ", j) || c.t != step || c.x != first.x {
				t.Errorf("call %d: %s at t=%d on %p, want %s at t=%d on %p", k*len(covs)+j, c.who, c.t, c.x, covs[j], step, first.x)
			}
		}
		if k > 0 && first.x == log[(k-1)*len(covs)].x {
			t.Errorf("terms %d and %d share x_t", k-1, k)
		}
	}
	for j, cov := range covs {
		one, err := NELBO(newFake(j, nil), s, x0, steps, cov, o, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range one {
			if one[i] != all[j][i] {
				t.Errorf("%v: example %d: NELBOs %.17g, NELBO %.17g", cov, i, all[j][i], one[i])
			}
		}
	}
}

// TestNELBOOffset: with Offset, one batch evaluated in two halves gets the same noise
// (hence the same NELBO) as the whole batch.
func TestNELBOOffset(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	xs := x0.Data()
	steps := []int{1, 500, 1000}
	key := philox.Key{Seed: 8}
	o := NELBOOptions{ClipX0: true, Discrete: true}
	whole, err := NELBO(&fakeDenoiser{eps: fixedEps(18)}, s, x0, steps, Small, o, key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		o.Offset = i
		xi := rt.FromSlice(dev, xs[i*9:(i+1)*9], 1, 1, 3, 3)
		part, err := NELBO(&fakeDenoiser{eps: fixedEps(18)[i*9 : (i+1)*9]}, s, xi, steps, Small, o, key)
		if err != nil {
			t.Fatal(err)
		}
		if part[0] != whole[i] {
			t.Errorf("example %d alone at offset %d: %.17g, in the batch %.17g", i, i, part[0], whole[i])
		}
	}
}

// TestNELBOErrors covers the argument and prediction checks.
func TestNELBOErrors(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	good := &fakeDenoiser{eps: fixedEps(18)}
	o := NELBOOptions{ClipX0: true, Discrete: true}
	key := philox.Key{}
	if _, err := NELBO(good, s, x0, []int{2, 5}, Small, o, key); err == nil {
		t.Error("steps not starting at 1 accepted")
	}
	if _, err := NELBO(good, s, x0, []int{1, 5, 5}, Small, o, key); err == nil {
		t.Error("repeated step accepted")
	}
	if _, err := NELBOs([]Denoiser{good}, nil, s, x0, []int{1}, o, key); err == nil {
		t.Error("covariance count mismatch accepted")
	}
	if _, err := NELBO(good, s, x0, []int{1, 10}, Optimal, o, key); err == nil {
		t.Error("optimal covariance without c_t accepted")
	}
	off := rt.FromSlice(dev, []float32{0.5, 0.2}, 2, 1)
	if _, err := NELBO(&fakeDenoiser{eps: fixedEps(2)}, s, off, []int{1}, Small, o, key); err == nil {
		t.Error("off-grid data accepted by the discrete decoder")
	}
	failing := &fakeDenoiser{eps: fixedEps(18), err: func(t int) error {
		if t > 1 {
			return fmt.Errorf("boom")
		}
		return nil
	}}
	if _, err := NELBO(failing, s, x0, []int{1, 10}, Small, o, key); err == nil {
		t.Error("denoiser error swallowed")
	}
}

// TestBitsPerDim checks the conversion nats → bits per dimension.
func TestBitsPerDim(t *testing.T) {
	// 3072 dims and 3072·ln 2 nats is 1 bit per dimension.
	if got := BitsPerDim(3072*math.Log(2), 3072); math.Abs(got-1) > 1e-15 {
		t.Errorf("BitsPerDim = %v, want 1", got)
	}
}

// TestNELBOTerms checks OnTerm: one call per transition in order, the decoder's term
// equal to the reference's, and the prior plus the terms adding up to the NELBO.
func TestNELBOTerms(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	x0h := x0.Float64s()
	n, d := x0.Dim(0), x0.Len()/x0.Dim(0)
	steps, err := Timesteps(Even, s.N, 5)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDenoiser{eps: fixedEps(x0.Len()), cov: fixedCov(x0.Len(), -0.3, 1.6)}
	sum := PriorKL(s, x0, steps[len(steps)-1])
	var calls [][2]int
	var decoder []float64
	o := NELBOOptions{ClipX0: true, Discrete: true, OnTerm: func(j, sPrev, tt int, term []float64) {
		calls = append(calls, [2]int{sPrev, tt})
		for i, v := range term {
			sum[i] += v
		}
		if sPrev == 0 {
			decoder = append([]float64(nil), term...)
		}
	}}
	got, err := NELBO(f, s, x0, steps, Optimal, o, philox.Key{Seed: 11, Stream: 5})
	if err != nil {
		t.Fatal(err)
	}
	times := append([]int{0}, steps...)
	if len(calls) != len(steps) {
		t.Fatalf("%d calls for %d steps", len(calls), len(steps))
	}
	for k, c := range calls {
		if c != [2]int{times[k], times[k+1]} {
			t.Errorf("call %d is for %d ← %d, want %d ← %d", k, c[0], c[1], times[k], times[k+1])
		}
	}
	_, dec := refNELBO(s.Beta, x0h, n, d, steps, Optimal, f, true, true)
	for i := range n {
		if !relClose(sum[i], got[i], 1e-12) || !relClose(decoder[i], dec[i], 1e-9) {
			t.Errorf("example %d: prior + terms %.15g, NELBO %.15g; decoder %.15g, reference %.15g", i, sum[i], got[i], decoder[i], dec[i])
		}
	}
}

// TestNELBOOnCov: OnCov sees every KL term of every optimal covariance (not the
// discretised decoder, not small), with x̂0 and c_t clamped, and the KL term written
// by hand from exactly those values is the term OnTerm reports.
func TestNELBOOnCov(t *testing.T) {
	s := linear(t)
	x0 := gridImages()
	x0h := x0.Float64s()
	n, d := x0.Dim(0), x0.Len()/x0.Dim(0)
	steps, err := Timesteps(Even, s.N, 4)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDenoiser{eps: fixedEps(x0.Len()), cov: fixedCov(x0.Len(), -0.3, 1.6)}
	terms, byHand := map[[3]int][]float64{}, map[[3]int][]float64{}
	var seen [][3]int
	clamped := 0
	o := NELBOOptions{ClipX0: true, Discrete: true,
		OnTerm: func(j, sPrev, tt int, term []float64) { terms[[3]int{j, sPrev, tt}] = append([]float64(nil), term...) },
		OnCov: func(j, sPrev, tt int, x0c, x0hat, c []float64) {
			if j != 1 {
				t.Errorf("OnCov called for denoiser %d (small)", j)
			}
			key := [3]int{j, sPrev, tt}
			seen = append(seen, key)
			cx0, _ := s.DDPMMeanCoef(sPrev, tt)
			varq, w := s.TB(sPrev, tt), s.DDPMCovWeight(sPrev, tt)
			want := make([]float64, n)
			for a := range x0c {
				if x0c[a] != x0h[a] || x0hat[a] < -1 || x0hat[a] > 1 || c[a] < 0 || c[a] > 1 {
					t.Fatalf("%d ← %d value %d: x0 %v (want %v), x̂0 %v, c %v", sPrev, tt, a, x0c[a], x0h[a], x0hat[a], c[a])
				}
				if c[a] == 0 || c[a] == 1 {
					clamped++
				}
				diff := cx0 * (x0c[a] - x0hat[a])
				s2 := varq + w*c[a]
				want[a/d] += 0.5 * (varq/s2 + diff*diff/s2 - 1 + math.Log(s2) - math.Log(varq))
			}
			byHand[key] = want
		}}
	small := &fakeDenoiser{eps: fixedEps(x0.Len())}
	if _, err := NELBOs([]Denoiser{small, f}, []Variance{Small, Optimal}, s, x0, steps, o, philox.Key{Seed: 2}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(steps)-1 || seen[0] != [3]int{1, 1, steps[1]} || clamped == 0 {
		t.Fatalf("OnCov calls %v (want the %d KL terms), %d clamped values", seen, len(steps)-1, clamped)
	}
	for key, want := range byHand {
		for i := range want {
			if got := terms[key][i]; !relClose(got, want[i], 1e-10) {
				t.Errorf("%d ← %d example %d: term %.15g, by hand from OnCov's values %.15g", key[1], key[2], i, got, want[i])
			}
		}
	}
}

// TestSampleOneStep: K = 1 (Timesteps gives [N]) is one jump from x_N to the
// clipped x̂0(x_N), without noise, for DDPM and DDIM alike.
func TestSampleOneStep(t *testing.T) {
	s := linear(t)
	steps, err := Timesteps(Even, s.N, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 4}, 0, 2, 1, 3, 3)
	f := &fakeDenoiser{eps: fixedEps(x.Len())}
	cxt, ceps := s.X0Coef(s.N)
	for _, method := range []Method{DDPM, DDIM} {
		got, err := Sample(f, s, x, &Options{Method: method, Steps: steps, Variance: Small, ClipX0: true, Key: philox.Key{Seed: 5}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got.Data() {
			want := math.Max(-1, math.Min(1, cxt*float64(x.Data()[i])-ceps*float64(f.eps[i])))
			if math.Abs(float64(v)-want) > 1e-5 {
				t.Fatalf("%v: value %d is %v, want x̂0 = %v", method, i, v, want)
			}
		}
	}
	if _, err := Sample(f, s, x, &Options{Method: DDPM, Steps: []int{5, 5}, Variance: Small}, nil); err == nil {
		t.Fatal("repeated timesteps accepted")
	}
}

func linear(t *testing.T) *Schedule {
	t.Helper()
	s, err := NewSchedule(Linear, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var dev = rt.NewCPU(rt.CPUOptions{})
