package images

import (
	"os"
	"testing"
	"time"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// The cost of an OCM fitting step (forward-mode JVP through the frozen backbone, head
// update) against a denoising training step of the backbone, at the same batch, and
// of fitting all three heads jointly (one JVP per step) against separately (a JVP
// and two forward passes):
//
//	go test ./ocm/images -run XXX -bench 'TrainStep|FitStep' -benchtime 10x
//
// OCM_BENCH_UNET=unet-s measures the reference's UNet instead of "small";
// BenchmarkOCMFitStep/complex fits the complex head. BenchmarkHeadsFitStep/*/joint
// is one step of every head from one backbone pass, .../separate one step of each of
// the three separate fitters (their sum): the joint fit's target is ≤ 0.5× of it.

func TestMain(m *testing.M) {
	rt.TuneGC()
	os.Exit(m.Run())
}

// randomImages is a data source of uniform noise images (the cost does not depend on
// the pixels).
type randomImages struct{ c, r int }

func (d randomImages) Batch(dev rt.Device, i, n int) *rt.Tensor {
	return rt.Random(dev, rt.Uniform, philox.Key{Seed: uint64(i)}, 0, n, d.c, d.r, d.r)
}

func (d randomImages) ExampleShape() []int { return []int{d.c, d.r, d.r} }

const benchBatch = 64

func benchModel(b *testing.B, head HeadMode) (*Model, randomImages) {
	name := os.Getenv("OCM_BENCH_UNET")
	if name == "" {
		name = "small"
	}
	cfg, err := Preset(name, 1, 28)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	return NewModel(dev, "bench", cfg, s, head, 1), randomImages{1, 28}
}

func BenchmarkTrainStep(b *testing.B) {
	m, data := benchModel(b, HeadSimple)
	tr := ocm.NewTrainer(dev, m.Net, m.Sched, data, ocm.TrainConfig{Steps: 1 << 30, Batch: benchBatch, LR: 1e-4, EMADecay: 0.999, Seed: 1})
	if _, err := tr.TrainStep(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := tr.TrainStep(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOCMFitStep(b *testing.B) {
	for _, head := range []HeadMode{HeadSimple, HeadComplex} {
		b.Run(string(head), func(b *testing.B) { benchOCMFitStep(b, head) })
	}
}

func benchOCMFitStep(b *testing.B, head HeadMode) {
	m, data := benchModel(b, head)
	f := ocm.NewHeadFitter(dev, m.Teacher(), m.Heads[ocm.HeadOCM], m.Sched, data,
		ocm.TrainConfig{Steps: 1 << 30, Batch: benchBatch, LR: 1e-4, EMADecay: 0.999, Seed: 1})
	if _, err := f.FitStep(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := f.FitStep(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeadsFitStep(b *testing.B) {
	for _, head := range []HeadMode{HeadSimple, HeadComplex} {
		b.Run(string(head), func(b *testing.B) { benchHeadsFitStep(b, head) })
	}
}

// benchHeadsFitStep alternates, every iteration, one joint step of the three heads
// and one step of each of three separate fitters (the order swapped every other
// iteration), so that a busy machine slows both alike; it reports the seconds of
// each per step and their ratio.
func benchHeadsFitStep(b *testing.B, head HeadMode) {
	m, data := benchModel(b, head)
	cfg := ocm.TrainConfig{Steps: 1 << 30, Batch: benchBatch, LR: 1e-4, EMADecay: 0.999, Seed: 1}
	var heads []*ocm.Head
	var sep []*ocm.HeadFitter
	for _, k := range ocm.HeadKinds() {
		heads = append(heads, m.Heads[k])
		sep = append(sep, ocm.NewHeadFitter(dev, m.Teacher(), m.Heads[k], m.Sched, data, cfg))
	}
	j := ocm.NewJointFitter(dev, m.Teacher(), heads, m.Sched, data, cfg)
	joint := func() error {
		_, err := j.FitStep()
		return err
	}
	separate := func() error {
		for _, f := range sep {
			if _, err := f.FitStep(); err != nil {
				return err
			}
		}
		return nil
	}
	steps := [2]func() error{joint, separate}
	for _, step := range steps { // warm up
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	var spent [2]time.Duration
	b.ResetTimer()
	for i := range b.N {
		for k := range 2 {
			w := (i + k) % 2
			t0 := time.Now()
			if err := steps[w](); err != nil {
				b.Fatal(err)
			}
			spent[w] += time.Since(t0)
		}
	}
	b.ReportMetric(spent[0].Seconds()/float64(b.N), "joint-s/step")
	b.ReportMetric(spent[1].Seconds()/float64(b.N), "separate-s/step")
	b.ReportMetric(spent[0].Seconds()/spent[1].Seconds(), "joint/separate")
}
