package bench

import (
	"fmt"
	"slices"

	ad "ocm/autodiff"
	"ocm/nn"
	"ocm/ocm"
	"ocm/ocm/images"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// The UNet items: unet-s (the reference's model, shared/bench/torch_ref.py) at the
// batches of nn/unet_bench_test.go, and the small UNet of the embedded Fashion-MNIST
// model (images.Preset "small") as the image pipeline runs it: ocm.Trainer's training
// step and ocm.HeadFitter's OCM fitting step at batch 64.

// modelFLOPsNote says how the model items' FLOPs are counted.
const modelFLOPsNote = "model GFLOP/s are nominal: F = 2 x the multiply-adds of one forward (convolutions, linear\n" +
	"layers, attention products; norms, activations and softmax not counted); train step 3F, JVP\n" +
	"and VJP 2F, OCM fit step 2F (the backbone's JVP; the head is not counted)."

// unetForwardFLOPs is 2× the multiply-adds of one image's forward through the DDPM UNet
// of cfg (nn.NewUNet's layers): convolutions, linear layers and the attention products
// QᵀK and V·Aᵀ, as shared/bench/torch_ref.py counts them with PyTorch's hooks.
func unetForwardFLOPs(cfg nn.UNetConfig) float64 {
	tch := 4 * cfg.Ch
	macs := cfg.TembIn*tch + tch*tch // the time-embedding MLP
	conv := func(cin, cout, k, hw int) { macs += cin * cout * k * k * hw * hw }
	res := func(cin, cout, hw int) {
		conv(cin, cout, 3, hw)
		macs += tch * cout // temb_proj
		conv(cout, cout, 3, hw)
		if cin != cout {
			conv(cin, cout, 1, hw)
		}
	}
	attn := func(c, hw int) {
		n := hw * hw
		macs += 4*c*c*n + 2*n*n*c // q, k, v, out; QᵀK and V·Aᵀ
	}
	hw, cur := cfg.Resolution, cfg.Ch
	conv(cfg.InCh, cfg.Ch, 3, hw)
	skips := []int{cur}
	for i, m := range cfg.Mult {
		for range cfg.NumRes {
			res(cur, cfg.Ch*m, hw)
			if cur = cfg.Ch * m; slices.Contains(cfg.AttnRes, hw) {
				attn(cur, hw)
			}
			skips = append(skips, cur)
		}
		if i+1 < len(cfg.Mult) {
			hw /= 2
			conv(cur, cur, 3, hw) // stride 2: the output is hw×hw
			skips = append(skips, cur)
		}
	}
	res(cur, cur, hw)
	attn(cur, hw)
	res(cur, cur, hw)
	for i := len(cfg.Mult) - 1; i >= 0; i-- {
		for range cfg.NumRes + 1 {
			skip := skips[len(skips)-1]
			skips = skips[:len(skips)-1]
			res(cur+skip, cfg.Ch*cfg.Mult[i], hw)
			if cur = cfg.Ch * cfg.Mult[i]; slices.Contains(cfg.AttnRes, hw) {
				attn(cur, hw)
			}
		}
		if i > 0 {
			hw *= 2
			conv(cur, cur, 3, hw)
		}
	}
	conv(cur, cfg.InCh, 3, hw)
	return 2 * float64(macs)
}

// paramCount is the number of values in ps.
func paramCount(ps []*nn.Param) int {
	n := 0
	for _, p := range ps {
		n += p.Value.Len()
	}
	return n
}

// unetSetup builds the UNet of cfg and a batch of inputs, as nn/unet_bench_test.go.
func unetSetup(dev rt.Device, cfg nn.UNetConfig, batch int) (*nn.UNet, *rt.Tensor, []float64) {
	m := nn.NewUNet(dev, cfg, philox.Key{Seed: 1})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, batch, cfg.InCh, cfg.Resolution, cfg.Resolution)
	t := make([]float64, batch)
	for i := range t {
		t[i] = float64(1 + (37*i)%1000)
	}
	return m, x, t
}

// unetCall makes the timed call of an item from a built model and its inputs.
type unetCall func(dev rt.Device, m *nn.UNet, x *rt.Tensor, t []float64) func()

func unetForward(_ rt.Device, m *nn.UNet, x *rt.Tensor, t []float64) func() {
	return func() { m.Forward(nn.Eval(), ad.Const(x), t) }
}

// unetTrain is a training step on fixed x, t and ε: forward with dropout, MSE, backward,
// Adam (what the PyTorch script's "train" times).
func unetTrain(dev rt.Device, m *nn.UNet, x *rt.Tensor, t []float64) func() {
	eps := rt.Random(dev, rt.Normal, philox.Key{Seed: 3}, 0, x.Shape()...)
	opt := nn.NewAdam(1e-4)
	params := m.Params()
	return func() {
		c := nn.NewCtx(true, true, philox.Key{Seed: 4})
		out, _ := m.Forward(c, ad.Const(x), t)
		loss := ad.Mean(ad.Square(ad.Sub(out, ad.Const(eps))), false)
		opt.Update(params, c.Grads(loss, params))
	}
}

// unetProbe is OCM's probe J(x)v or J(x)ᵀv, v Rademacher, in eval mode.
func unetProbe(fn probeFunc) unetCall {
	return func(dev rt.Device, m *nn.UNet, x *rt.Tensor, t []float64) func() {
		v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 5}, 0, x.Shape()...)
		f := func(x *ad.Var) *ad.Var { e, _ := m.Forward(nn.Eval(), x, t); return e }
		return func() { fn(f, x, v) }
	}
}

// unetItem is one unet-s item: call at batch, FLOPs flops per call.
func unetItem(key, name, torch string, flops float64, batch int, call unetCall) *benchItem {
	it := &benchItem{Key: key, Name: name, Group: "unet-s", Kind: "model", FLOPs: flops, TorchItem: torch}
	it.prepare = func(dev *rt.CPU) func() {
		m, x, t := unetSetup(dev, nn.UNetS(), batch)
		it.ParamsOCM = paramCount(m.Params())
		return call(dev, m, x, t)
	}
	return it
}

// benchUNetSItems lists the unet-s items: the sampling forward at batch 16 (and 32,
// what the JVP is compared with), the training step, the JVP and the VJP at 32.
func benchUNetSItems() []*benchItem {
	f := unetForwardFLOPs(nn.UNetS())
	return []*benchItem{
		unetItem("unet_s_fwd_16", "unet-s forward b16", "unet-s:fwd:16", 16*f, 16, unetForward),
		unetItem("unet_s_fwd_32", "unet-s forward b32", "unet-s:fwd:32", 32*f, 32, unetForward),
		unetItem("unet_s_train_32", "unet-s train step b32", "unet-s:train:32", 3*32*f, 32, unetTrain),
		unetItem("unet_s_jvp_32", "unet-s JVP b32 (fwd mode)", "unet-s:jvp:32", 2*32*f, 32, unetProbe(ad.JVP)),
		unetItem("unet_s_vjp_32", "unet-s VJP b32 (rev mode)", "unet-s:vjp:32", 2*32*f, 32, unetProbe(ad.VJP)),
	}
}

// smallBatch is the batch of the small UNet's items.
const smallBatch = 64

// randomImages is a data source of uniform noise images (the cost does not depend on
// the pixels).
type randomImages struct{ c, r int }

// Batch returns batch i: n images of uniform noise.
func (d randomImages) Batch(dev rt.Device, i, n int) *rt.Tensor {
	return rt.Random(dev, rt.Uniform, philox.Key{Seed: uint64(i)}, 0, n, d.c, d.r, d.r)
}

// ExampleShape is one image's shape, C, H, W.
func (d randomImages) ExampleShape() []int { return []int{d.c, d.r, d.r} }

// smallConfig is the embedded Fashion-MNIST model's architecture.
func smallConfig() nn.UNetConfig {
	cfg, _ := images.Preset("small", 1, 28)
	return cfg
}

// imageModel is an image model of cfg with the simple heads, freshly initialised,
// with a 1000-step linear schedule, and a data source of its images.
func imageModel(dev rt.Device, cfg nn.UNetConfig) (*images.Model, randomImages, error) {
	s, err := sampler.NewSchedule(sampler.Linear, 1000)
	if err != nil {
		return nil, randomImages{}, err
	}
	return images.NewModel(dev, "bench", cfg, s, images.HeadSimple, 1), randomImages{cfg.InCh, cfg.Resolution}, nil
}

// smallTrainConfig is the image pipeline's training settings at the items' batch.
func smallTrainConfig(batch int) ocm.TrainConfig {
	return ocm.TrainConfig{Steps: 1 << 30, Batch: batch, LR: 1e-4, EMADecay: 0.999, Seed: 1, Dropout: true}
}

// newTrainer returns ocm.Trainer's step on a UNet of cfg at batch: a batch,
// timesteps and noise drawn, forward, MSE, backward, Adam and the EMA.
func newTrainer(dev rt.Device, cfg nn.UNetConfig, batch int) (step func() error, params int, err error) {
	m, data, err := imageModel(dev, cfg)
	if err != nil {
		return nil, 0, err
	}
	tr := ocm.NewTrainer(dev, m.Net, m.Sched, data, smallTrainConfig(batch))
	return func() error { _, err := tr.TrainStep(); return err }, paramCount(m.Net.Params()), nil
}

// smallItem is one small-UNet item: newStep builds its timed call on a device.
func smallItem(key, name, torch string, flops float64, pooled bool,
	newStep func(dev rt.Device) (func() error, int, error)) *benchItem {
	it := &benchItem{Key: key, Name: name, Group: "small", Kind: "model", FLOPs: flops, TorchItem: torch, Pooled: pooled}
	it.prepare = func(dev *rt.CPU) func() {
		step, n, err := newStep(dev)
		if err != nil {
			it.fail(err)
			return func() {}
		}
		it.ParamsOCM = n
		return func() { it.fail(step()) }
	}
	return it
}

// benchSmallItems lists the small UNet's items at batch 64: the training step (also
// with the buffer pool, to measure what it gains) and the OCM head's fitting step.
func benchSmallItems() []*benchItem {
	f := smallBatch * unetForwardFLOPs(smallConfig())
	train := func(dev rt.Device) (func() error, int, error) { return newTrainer(dev, smallConfig(), smallBatch) }
	return []*benchItem{
		smallItem("small_train_64", fmt.Sprintf("small UNet train step b%d", smallBatch), fmt.Sprintf("small:train:%d", smallBatch), 3*f, false, train),
		smallItem("small_train_64_pool", fmt.Sprintf("small UNet train step b%d (pool)", smallBatch), "", 3*f, true, train),
		smallItem("small_fit_64", fmt.Sprintf("small UNet OCM fit step b%d", smallBatch), "", 2*f, false, newSmallFitter),
	}
}

// newSmallFitter returns ocm.HeadFitter's step for the OCM head of the small UNet:
// a batch drawn, the backbone's JVP along a Rademacher probe, the head's loss,
// backward, Adam and the EMA.
func newSmallFitter(dev rt.Device) (func() error, int, error) {
	m, data, err := imageModel(dev, smallConfig())
	if err != nil {
		return nil, 0, err
	}
	f := ocm.NewHeadFitter(dev, m.Teacher(), m.Heads[ocm.HeadOCM], m.Sched, data, smallTrainConfig(smallBatch))
	return func() error { _, err := f.FitStep(); return err }, paramCount(m.Net.Params()), nil
}
