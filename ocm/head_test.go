package ocm

import (
	"math"
	"testing"

	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

var testDev = rt.NewCPU(rt.CPUOptions{})

// TestOCMTargetIsUnbiased checks the OCM regression target against the exact mixture:
// E_v[−√B·v⊙(J_ε v)] = B·diag H (ocm-math §3.2), so the head's minimiser h gives
// (B/A)(1 + h) = diag Cov[x0|x_t].
func TestOCMTargetIsUnbiased(t *testing.T) {
	s, err := sampler.NewSchedule(sampler.Linear, 1000)
	if err != nil {
		t.Fatal(err)
	}
	mix := Mog40()
	teacher := NewMixtureTeacher(mix, s)
	const reps = 20000
	for _, c := range []struct {
		step int
		x    []float64
	}{{50, []float64{0.1, -0.2}}, {300, []float64{-0.4, 0.35}}, {800, []float64{0.9, 0.0}}} {
		xs := make([]float32, 2*reps)
		ns := make([]int, reps)
		sb := make([]float64, reps)
		for i := range reps {
			xs[2*i], xs[2*i+1] = float32(c.x[0]), float32(c.x[1])
			ns[i], sb[i] = c.step, math.Sqrt(s.B[c.step])
		}
		x := rt.FromSlice(testDev, xs, reps, 2)
		nb := &noisyBatch{xt: x, n: ns, sqrtB: perExample(testDev, sb, 2)}
		f := &HeadFitter{Teacher: teacher, Head: &Head{Kind: HeadOCM}, Probes: 1, dev: testDev}
		target, _ := f.target(teacher, nb, philox.Key{Seed: uint64(c.step)})
		tv := target.Data()
		hess := teacher.At(c.step).Marginal.Hessian(c.x)
		b := s.B[c.step]
		_, cov := teacher.At(c.step).Posterior(c.x)
		for a := range 2 {
			mean := 0.0
			for i := range reps {
				mean += float64(tv[2*i+a]) / reps
			}
			want := b * hess[3*a]
			se := b * math.Abs(hess[1]) / math.Sqrt(reps) // v_a v_b H_ab is the only noise
			if math.Abs(mean-want) > 5*se+1e-6*math.Abs(want)+1e-9 {
				t.Errorf("t=%d dim %d: mean target %.6g, B·H_aa = %.6g (se %.2g)", c.step, a, mean, want, se)
			}
			// The covariance the head would give equals the exact posterior variance.
			got := b / s.A[c.step] * (1 + want)
			if math.Abs(got-cov[3*a]) > 1e-9+1e-6*cov[3*a] {
				t.Errorf("t=%d dim %d: (B/A)(1+B·H_aa) = %.6g, posterior variance %.6g", c.step, a, got, cov[3*a])
			}
		}
	}
}

// TestSNAndNPRTargets checks the two baselines' targets on a batch: ε² and (ε − ε̂)².
func TestSNAndNPRTargets(t *testing.T) {
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	teacher := NewMixtureTeacher(Mog9(), s)
	data := MixtureData{Mix: Mog9(), Seed: 1}
	b := drawBatch(testDev, data, s, philox.Key{Seed: 2}, 0, 64)
	eps, _, _ := teacher.Predict(b.xt, b.n, nil)
	for _, kind := range []HeadKind{HeadSN, HeadNPR} {
		f := &HeadFitter{Teacher: teacher, Head: &Head{Kind: kind}, dev: testDev}
		target, _ := f.target(teacher, b, philox.Key{})
		tv, e, eh := target.Data(), b.eps.Data(), eps.Data()
		for i := range tv {
			want := e[i] * e[i]
			if kind == HeadNPR {
				want = (e[i] - eh[i]) * (e[i] - eh[i])
			}
			if math.Abs(float64(tv[i]-want)) > 1e-6*(1+float64(want)) {
				t.Fatalf("%v target[%d] = %g, want %g", kind, i, tv[i], want)
			}
		}
	}
}
