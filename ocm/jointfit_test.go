package ocm

import (
	"math"
	"slices"
	"testing"

	"ocm/nn"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// TestJointTargetsEqualSeparate: the joint fit's one teacher pass gives every head
// the target its own HeadFitter computes from the same batch and key (OCM from M
// probes spread over two JVP calls, SN and NPR from the pass's primal ε̂), and M
// matters: the target of M probes is the mean of the M one-probe targets.
func TestJointTargetsEqualSeparate(t *testing.T) {
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	teacher := NewMixtureTeacher(Mog9(), s)
	data := MixtureData{Mix: Mog9(), Seed: 1}
	const batch = 100 // probeExamples/batch = 2 probes per JVP call
	b := drawBatch(testDev, data, s, philox.Key{Seed: 3}, 7, batch)
	key := philox.Key{Seed: 3}.Split(7)
	f := 2 + nn.ToyTembDim
	var heads []*Head
	for i, k := range HeadKinds() {
		heads = append(heads, NewMLPHead(testDev, k, f, 2, []int{8}, philox.Key{Seed: uint64(i)}))
	}
	j := NewJointFitter(testDev, teacher, heads, s, data, TrainConfig{Steps: 10, Batch: batch, LR: 1e-3, EMADecay: 0.9, Seed: 3})
	var ocm1 []float32
	for _, m := range []int{1, 3} {
		j.Probes = m
		targets, features := j.targets(teacher, b, key)
		for i, h := range heads {
			sep := &HeadFitter{Teacher: teacher, Head: h, Probes: m, dev: testDev}
			want, wantF := sep.target(teacher, b, key)
			if !slices.Equal(targets[i].Data(), want.Data()) {
				t.Errorf("M=%d: %v target of the joint pass differs from the separate fitter's", m, h.Kind)
			}
			if !slices.Equal(features.Data(), wantF.Data()) {
				t.Errorf("M=%d: features of the joint pass differ from the %v fitter's", m, h.Kind)
			}
		}
		got := targets[0].Data()
		if m == 1 {
			ocm1 = got
			continue
		}
		mean := make([]float64, len(got))
		for p := range m {
			v := rt.Random(testDev, rt.Rademacher, key.Split(streamProbe+uint64(p)), 0, b.xt.Shape()...)
			_, _, jv := teacher.Predict(b.xt, b.n, v)
			tp := rt.Scale(rt.Mul(rt.Mul(v, jv), b.sqrtB), -1).Data()
			for i := range mean {
				mean[i] += float64(tp[i]) / float64(m)
			}
		}
		for i := range got {
			if math.Abs(float64(got[i])-mean[i]) > 1e-5*(1+math.Abs(mean[i])) {
				t.Fatalf("M=3 OCM target[%d] = %g, the mean of three one-probe targets is %g", i, got[i], mean[i])
			}
		}
		if slices.Equal(got, ocm1) {
			t.Error("the OCM target of 3 probes equals that of 1")
		}
	}
}

// TestConstantLR: the cosine decay ends at a tenth of the rate; ConstantLR keeps it.
func TestConstantLR(t *testing.T) {
	c := TrainConfig{Steps: 100, LR: 1e-3}
	if got := c.lrAt(99); math.Abs(float64(got)-1e-4) > 1e-9 {
		t.Errorf("cosine: last rate %g, want 1e-4", got)
	}
	c.ConstantLR = true
	for _, step := range []int{0, 50, 99} {
		if got := c.lrAt(step); got != 1e-3 {
			t.Errorf("constant: rate %g at step %d, want 1e-3", got, step)
		}
	}
}
