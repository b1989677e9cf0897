package images

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	ad "ocm/autodiff"
	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/data"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

var dev = rt.NewCPU(rt.CPUOptions{})

// tinyConfig is a UNet small enough for many steps in a test: 1×8×8 images.
func tinyConfig() nn.UNetConfig {
	return nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2}, NumRes: 1, Resolution: 8, TembIn: 16}
}

func tinyModel(t *testing.T, seed uint64) *Model { return tinyModelWith(t, HeadSimple, seed) }

func tinyModelWith(t *testing.T, head HeadMode, seed uint64) *Model {
	t.Helper()
	s, err := sampler.NewSchedule(sampler.Linear, 100)
	if err != nil {
		t.Fatal(err)
	}
	return NewModel(dev, "test", tinyConfig(), s, head, seed)
}

var headModes = []HeadMode{HeadSimple, HeadComplex}

func tinySettings() Settings {
	return Settings{Budget: ocm.Budget{TrainSteps: 12, FitSteps: 4, Batch: 4, LR: 1e-3, EMADecay: 0.9, MsEpsPerStep: 1, Seed: 5}}
}

// tinyImages is a data set of n 1×8×8 images: a bright square at a random place.
func tinyImages(n int) *data.Images {
	ds := &data.Images{N: n, C: 1, H: 8, W: 8, Pixels: make([]uint8, n*64)}
	for i := range n {
		r, c := (i*5)%5, (i*3)%5
		for y := r; y < r+3; y++ {
			for x := c; x < c+3; x++ {
				ds.Pixels[i*64+y*8+x] = 255
			}
		}
	}
	return ds
}

func stopAfter(n int64) func() bool {
	var calls atomic.Int64
	return func() bool { return calls.Add(1) >= n }
}

// sameModels fails unless a and b hold bit-identical tensors and tables (a fitted
// table is float32-exact, so saving and loading keeps it exactly).
func sameModels(t *testing.T, a, b *Model) {
	t.Helper()
	pa, pb := a.params(), b.params()
	for i := range pa {
		da, db := pa[i].Value.Data(), pb[i].Value.Data()
		for j := range da {
			if math.Float32bits(da[j]) != math.Float32bits(db[j]) {
				t.Fatalf("%s[%d]: %v vs %v", pa[i].Name, j, da[j], db[j])
			}
		}
	}
	if len(a.MsEps) != len(b.MsEps) {
		t.Fatalf("analytic tables of %d and %d values", len(a.MsEps), len(b.MsEps))
	}
	for j := range a.MsEps {
		if a.MsEps[j] != b.MsEps[j] {
			t.Fatalf("analytic table differs at %d", j)
		}
	}
}

// TestTrainAndFitResumeExactly runs training and fitting straight through, and again
// with a stop (and checkpoint) in each phase followed by a resume from the latest
// checkpoint: the final models must be bit-identical.
func TestTrainAndFitResumeExactly(t *testing.T) {
	for _, head := range headModes {
		t.Run(string(head), func(t *testing.T) { testTrainAndFitResumeExactly(t, head) })
	}
}

func testTrainAndFitResumeExactly(t *testing.T, head HeadMode) {
	tinyModel := func(t *testing.T, seed uint64) *Model { return tinyModelWith(t, head, seed) }
	st := tinySettings()
	ds := tinyImages(32)
	a := tinyModel(t, 1)
	if err := Train(dev, a, NewData(ds, st.Seed), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := Fit(dev, a, NewData(ds, st.Seed+1), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := tinyModel(t, 1)
	var stopped *ocm.Stopped
	err := Train(dev, b, NewData(ds, st.Seed), st, nil, &ocm.Control{Dir: dir, Every: 5, Stop: stopAfter(7)})
	if !errors.As(err, &stopped) || stopped.Step != 7 {
		t.Fatalf("want a stop at step 7, got %v", err)
	}
	b = tinyModel(t, 99) // a fresh process: nothing carried over but the checkpoint
	if err := Train(dev, b, NewData(ds, st.Seed), st, nil, resumeLatest(t, dir)); err != nil {
		t.Fatal(err)
	}
	err = Fit(dev, b, NewData(ds, st.Seed+1), st, nil, &ocm.Control{Dir: dir, Every: 2, Stop: stopAfter(3)})
	if !errors.As(err, &stopped) || stopped.Phase != ocm.PhaseFit || stopped.Step != 3 {
		t.Fatalf("want a stop at step 3 of fitting, got %v", err)
	}
	c := tinyModel(t, 98)
	ctl := resumeLatest(t, dir)
	if err := Train(dev, c, NewData(ds, st.Seed), st, nil, ctl); err != nil { // restores the model only
		t.Fatal(err)
	}
	if err := Fit(dev, c, NewData(ds, st.Seed+1), st, nil, ctl); err != nil {
		t.Fatal(err)
	}
	sameModels(t, a, c)
	// Another seed gives other weights: the comparison can fail.
	d := tinyModel(t, 2)
	if err := Train(dev, d, NewData(ds, st.Seed), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	if a.Net.Params()[0].Value.Data()[0] == d.Net.Params()[0].Value.Data()[0] {
		t.Fatal("two seeds gave the same first weight")
	}
}

func resumeLatest(t *testing.T, dir string) *ocm.Control {
	t.Helper()
	path, f, err := ocm.ReadLatest(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &ocm.Control{Dir: dir, Every: 5, Resume: f, ResumePath: path}
}

// trainSaveLoad trains and fits m on ds, saves it to name in a temporary folder and
// loads it back, checking that the file is an image bundle with m's exact weights.
func trainSaveLoad(t *testing.T, m *Model, st Settings, ds *data.Images, name string) (*Model, *safetensors.File) {
	t.Helper()
	if err := Train(dev, m, NewData(ds, 1), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := Fit(dev, m, NewData(ds, 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !IsBundle(f) {
		t.Fatal("saved file is not recognised as an image bundle")
	}
	back, err := Load(dev, path, f)
	if err != nil {
		t.Fatal(err)
	}
	sameModels(t, m, back)
	return back, f
}

// TestBundleRoundTrip saves a fitted model and loads it back, and refuses broken files.
func TestBundleRoundTrip(t *testing.T) {
	for _, head := range headModes {
		t.Run(string(head), func(t *testing.T) { testBundleRoundTrip(t, head) })
	}
}

func testBundleRoundTrip(t *testing.T, head HeadMode) {
	st := tinySettings()
	st.TrainSteps = 2
	m := tinyModelWith(t, head, 3)
	back, f := trainSaveLoad(t, m, st, tinyImages(16), "m.safetensors.zst")
	if back.Meta["backbone_steps"] != "2" || back.Meta["head_steps"] != "4" {
		t.Fatalf("training record lost: %v", back.Meta)
	}
	if back.HeadMode != head || back.Heads[ocm.HeadOCM].Complex() != (head == HeadComplex) {
		t.Fatalf("saved %s heads, loaded %s (complex %v)", head, back.HeadMode, back.Heads[ocm.HeadOCM].Complex())
	}
	// A missing tensor, a wrong shape and a bad config are each refused by name.
	drop := *f
	drop.Tensors = slices.DeleteFunc(slices.Clone(f.Tensors), func(t safetensors.Tensor) bool { return t.Name == "head.ocm.conv.weight" })
	if _, err := Load(dev, "x", &drop); err == nil || !strings.Contains(err.Error(), "head.ocm.conv.weight") {
		t.Fatalf("a bundle without the OCM head's weight: %v", err)
	}
	bad := *f
	bad.Metadata = map[string]string{}
	for k, v := range f.Metadata {
		bad.Metadata[k] = v
	}
	bad.Metadata["unet_config"] = `{"in_ch":1,"ch":7,"ch_mult":[1],"num_res_blocks":1,"resolution":8,"temb_in":16}`
	if _, err := Load(dev, "x", &bad); err == nil {
		t.Fatal("a bundle with an impossible UNet config loaded")
	}
	bad.Metadata["unet_config"] = f.Metadata["unet_config"]
	bad.Metadata["head"] = "fancy"
	if _, err := Load(dev, "x", &bad); err == nil || !strings.Contains(err.Error(), "head") {
		t.Fatalf("a bundle with an unknown head form: %v", err)
	}
	delete(bad.Metadata, "head") // bundles written before the complex head
	if old, err := Load(dev, "x", &bad); head == HeadSimple && (err != nil || old.HeadMode != HeadSimple) {
		t.Fatalf("a bundle without a head key: %v", err)
	} else if head == HeadComplex && err == nil {
		t.Fatal("complex heads loaded as simple ones")
	}
}

// TestPresets checks the named UNets: unet-cifar is ocm-math Appendix B's CIFAR-10
// backbone, and it refuses images whose side its four levels cannot halve three times.
func TestPresets(t *testing.T) {
	c, err := Preset("unet-cifar", 3, 32)
	if err != nil || !slices.Equal(c.Mult, nn.UNetCIFAR().Mult) || c.Variant != nn.VariantIDDPM || CheckConfig(c) != nil {
		t.Fatalf("unet-cifar at 3×32×32: %+v, %v, check %v", c, err, CheckConfig(c))
	}
	if c, _ := Preset("unet-cifar", 1, 28); CheckConfig(c) == nil {
		t.Fatal("unet-cifar accepted 28×28 images")
	}
	if _, err := Preset("unet-xl", 3, 32); err == nil || !strings.Contains(err.Error(), "unet-cifar") {
		t.Fatalf("unknown preset: %v", err)
	}
}

// TestImprovedDDPMModel trains, fits, saves and loads a small improved-DDPM model:
// the variant survives the bundle and the weights are bit-identical.
func TestImprovedDDPMModel(t *testing.T) {
	s, _ := sampler.NewSchedule(sampler.Linear, 100)
	cfg := nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 1}, NumRes: 1, AttnRes: []int{4}, Resolution: 8,
		Dropout: 0.3, TembIn: 16, Variant: nn.VariantIDDPM, Heads: 2}
	m := NewModel(dev, "test", cfg, s, HeadSimple, 6)
	st := tinySettings()
	st.Dropout = true
	back, _ := trainSaveLoad(t, m, st, tinyImages(32), "iddpm.safetensors")
	if !back.Config.Improved() || back.Config.Heads != 2 {
		t.Fatalf("loaded %+v", back.Config)
	}
	if _, ok := back.Net.MidAttn.(*nn.MultiHeadAttnBlock); !ok {
		t.Fatal("the loaded model has DDPM attention")
	}
}

// TestComplexHeadReadsTheTime checks the complex head of ocm-math §3.3: it starts at
// h = 0 like the simple one, it learns (the SN loss falls while fitting), and after
// fitting it answers differently for the same features at different times, which
// the simple head cannot; the backbone stays frozen.
func TestComplexHeadReadsTheTime(t *testing.T) {
	m := tinyModelWith(t, HeadComplex, 4)
	st := tinySettings()
	ds := tinyImages(32)
	if err := Train(dev, m, NewData(ds, st.Seed), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	head := m.Heads[ocm.HeadSN]
	if !head.Complex() || len(head.Params()) <= len(tinyModel(t, 4).Heads[ocm.HeadSN].Params()) {
		t.Fatal("the complex head has no residual block")
	}
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 8}, 0, 2, 1, 8, 8)
	_, features, _ := m.Teacher().Predict(x, []int{10, 10}, nil)
	at := func(n int) []float32 {
		return head.Forward(nn.Eval(), ad.Const(features), m.Sched.TimeInputs([]int{n, n})).Value.Data()
	}
	for _, v := range at(10) {
		if v != 0 {
			t.Fatalf("an unfitted head predicts %v, want 0", v)
		}
	}
	before := slices.Clone(m.Net.Params()[0].Value.Data())
	var losses []float64
	fitter := ocm.NewHeadFitter(dev, m.Teacher(), head, m.Sched, NewData(ds, 3),
		ocm.TrainConfig{Steps: 60, Batch: 8, LR: 3e-3, Seed: 3})
	for range 60 {
		l, err := fitter.FitStep()
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
	}
	first, last := mean(losses[:10]), mean(losses[50:])
	if !(last < 0.8*first) {
		t.Fatalf("SN loss %.4g over the first 10 steps, %.4g over the last 10: the complex head does not learn", first, last)
	}
	a, b := at(10), at(90)
	diff := 0.0
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i]-b[i])))
	}
	if diff < 1e-3 {
		t.Fatalf("the fitted complex head gives the same output at t = 10 and 90 (max difference %g)", diff)
	}
	if !slices.Equal(before, m.Net.Params()[0].Value.Data()) {
		t.Fatal("fitting a head changed the backbone")
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// countingTeacher counts network evaluations.
type countingTeacher struct {
	ocm.Teacher
	calls int
}

func (c *countingTeacher) Predict(x *rt.Tensor, n []int, probe *rt.Tensor) (eps, features, jv *rt.Tensor) {
	c.calls++
	return c.Teacher.Predict(x, n, probe)
}

// TestCovariancesShareOneNetworkPass checks that the predictors of all covariances
// evaluate the backbone once per x_t, and that the cache never answers for another x.
func TestCovariancesShareOneNetworkPass(t *testing.T) {
	m := tinyModel(t, 4)
	m.MsEps = make([]float64, m.Sched.N+1)
	count := &countingTeacher{Teacher: m.teacher.Teacher}
	m.teacher.Teacher = count
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 1}, 0, 2, 1, 8, 8)
	var first *sampler.Prediction
	for _, cov := range Covariances() {
		pr, err := m.Predictor(cov).Predict(x, 50)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = pr
		}
	}
	if count.calls != 1 {
		t.Fatalf("%d network evaluations for %d covariances, want 1", count.calls, len(Covariances()))
	}
	y := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, 2, 1, 8, 8)
	pr, _ := m.Predictor(ocm.CovSmall).Predict(y, 50)
	if count.calls != 2 || pr.Eps.Data()[0] == first.Eps.Data()[0] {
		t.Fatal("the cache answered for another x_t")
	}
	if _, err := m.Predictor(ocm.CovSmall).Predict(y, 51); err != nil || count.calls != 3 {
		t.Fatal("the cache answered for another step")
	}
}

// TestSampleDoesNotDependOnBatch draws the same images in one batch and in three.
func TestSampleDoesNotDependOnBatch(t *testing.T) {
	m := tinyModel(t, 6)
	m.MsEps = make([]float64, m.Sched.N+1)
	cfg := SampleConfig{Sampling: ocm.Sampling{Method: sampler.DDPM, K: 4, Cov: ocm.CovOCM}, N: 5, Seed: 3, ClipSigmaIdx: 1, ClipPixel: 2}
	a, err := Sample(dev, m, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Batch = 2
	b, err := Sample(dev, m, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	da, db := a.Pixels, b.Pixels
	for i := range da {
		if math.Abs(float64(da[i]-db[i])) > 1e-5 {
			t.Fatalf("value %d: %v in one batch, %v in batches of 2", i, da[i], db[i])
		}
		if da[i] < -1 || da[i] > 1 {
			t.Fatalf("value %d = %v outside [-1, 1]", i, da[i])
		}
	}
}

// TestEvaluateWritesTheTable runs the whole evaluation on a tiny model: a row for every
// sampler, covariance and K (DDIM without large), likelihoods for DDPM only, and the
// report files.
func TestEvaluateWritesTheTable(t *testing.T) {
	m := tinyModel(t, 7)
	ds := tinyImages(24)
	ds.Labels, ds.NumClasses = make([]int, ds.N), 2
	for i := range ds.Labels {
		ds.Labels[i] = i % 2
	}
	st := tinySettings()
	st.TrainSteps, st.FitSteps = 3, 2
	if err := Train(dev, m, NewData(ds, 1), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := Fit(dev, m, NewData(ds, 2), st, nil, nil); err != nil {
		t.Fatal(err)
	}
	clf := nn.NewClassifier(dev, 1, 2, philox.Key{Seed: 3})
	cfg := EvalConfig{Ks: []int{2, 3}, TestImages: 4, FDSamples: 10, RefImages: 16, Batch: 8, PRK: 3, Seed: 1, GridImages: 4}
	rep, err := Evaluate(dev, m, ds, ds, clf, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (len(Covariances()) + len(Covariances()) - 1) * len(cfg.Ks); len(rep.Rows) != want {
		t.Fatalf("%d rows, want %d", len(rep.Rows), want)
	}
	for _, r := range rep.Rows {
		if (r.Method == "ddpm") == math.IsNaN(r.BPD) || r.FD < 0 || math.IsNaN(r.FD) || r.Precision < 0 || r.Recall > 1 {
			t.Errorf("row %+v", r)
		}
		if r.Method == "ddpm" && r.BPD <= 0 {
			t.Errorf("NLL %v bits/dim is not positive", r.BPD)
		}
	}
	dir := t.TempDir()
	paths, err := WriteReport(dir, rep, "test")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"## K = 3", "| ocm |", "## NLL term by term at K = 2", "| 1 ← 100 |",
		"### The largest KL term at every K", "](nll-terms.svg)", "## Covariance diagnostics at K = 2",
		"](covariance-diagnostics.svg)", "| NLL |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if len(paths) != 4+2*len(cfg.Ks) {
		t.Errorf("report files %v", paths)
	}
	for _, svg := range []string{"nll-terms.svg", "covariance-diagnostics.svg"} {
		if b, err := os.ReadFile(filepath.Join(dir, svg)); err != nil || !strings.HasPrefix(string(b), "<svg ") || !strings.Contains(string(b), ">ocm<") {
			t.Errorf("%s: %v, not an SVG with a line for ocm", svg, err)
		}
	}
	// The terms at every K: the prior, K − 1 KL terms and the decoder, adding up to
	// each covariance's NLL.
	if len(rep.Terms) != len(cfg.Ks) {
		t.Fatalf("terms at %d values of K, want %d", len(rep.Terms), len(cfg.Ks))
	}
	for _, k := range cfg.Ks {
		terms := rep.TermsAt(k)
		if len(terms) != k+1 || terms[0].Name() != "prior at 100" || terms[k].Name() != "decoder 0 ← 1" {
			t.Fatalf("terms at K=%d: %+v", k, terms)
		}
		for _, cov := range Covariances() {
			sum := 0.0
			for _, tm := range terms {
				sum += tm.BPD[cov.String()]
			}
			if r, _ := rep.row("ddpm", cov.String(), k); math.Abs(sum-r.BPD) > 1e-9*r.BPD {
				t.Errorf("%v at K=%d: terms add up to %.12g bits/dim, the table says %.12g", cov, k, sum, r.BPD)
			}
		}
	}
}
