package nn

import (
	"os"
	"testing"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// The toy-mlp timings of shared/bench/torch_ref.py at batch 512: a training step
// (forward, MSE on ε, backward, Adam), a sampling forward, and the OCM probe J·v in
// forward mode and Jᵀ·v in reverse mode with respect to the input.

const benchBatch = 512

func benchSetup() (rt.Device, *ToyMLP, *rt.Tensor, []float64) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m := NewToyMLP(dev, 2, 256, philox.Key{Seed: 1})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, benchBatch, 2)
	t := make([]float64, benchBatch)
	for i := range t {
		t[i] = float64(1 + i%1000)
	}
	return dev, m, x, t
}

func BenchmarkToyMLPTrainStep(b *testing.B) {
	dev, m, x, t := benchSetup()
	eps := rt.Random(dev, rt.Normal, philox.Key{Seed: 3}, 0, benchBatch, 2)
	opt := NewAdam(1e-4)
	params := m.Params()
	for b.Loop() {
		c := NewCtx(true, true, philox.Key{Seed: 4})
		out, _ := m.Forward(c, ad.Const(x), t)
		d := ad.Sub(out, ad.Const(eps))
		loss := ad.Scale(ad.Sum(ad.Square(d), false), 1.0/benchBatch)
		opt.Update(params, c.Grads(loss, params))
	}
}

func BenchmarkToyMLPForward(b *testing.B) {
	_, m, x, t := benchSetup()
	for b.Loop() {
		m.Forward(Eval(), ad.Const(x), t)
	}
}

func BenchmarkToyMLPJVP(b *testing.B) {
	dev, m, x, t := benchSetup()
	v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 5}, 0, benchBatch, 2)
	f := func(x *ad.Var) *ad.Var { e, _ := m.Forward(Eval(), x, t); return e }
	for b.Loop() {
		ad.JVP(f, x, v)
	}
}

func BenchmarkToyMLPVJP(b *testing.B) {
	dev, m, x, t := benchSetup()
	v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 5}, 0, benchBatch, 2)
	f := func(x *ad.Var) *ad.Var { e, _ := m.Forward(Eval(), x, t); return e }
	for b.Loop() {
		ad.VJP(f, x, v)
	}
}

func TestMain(m *testing.M) {
	rt.TuneGC() // as the ocm binary does
	os.Exit(m.Run())
}
