package featurenet

import (
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ad "ocm/autodiff"
	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm/data"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

var dev = rt.NewCPU(rt.CPUOptions{})

// head returns the first n images of ds (sharing its pixels).
func head(ds *data.Images, n int) *data.Images {
	per := ds.C * ds.H * ds.W
	return &data.Images{N: n, C: ds.C, H: ds.H, W: ds.W, Pixels: ds.Pixels[:n*per],
		Labels: ds.Labels[:n], NumClasses: ds.NumClasses}
}

// fashion reads Fashion-MNIST, skipping the test when it is not installed.
func fashion(t *testing.T, train bool) *data.Images {
	t.Helper()
	ds, err := data.FashionMNIST("", train)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestTrainFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a classifier for several seconds")
	}
	train, test := head(fashion(t, true), 3000), head(fashion(t, false), 1000)
	cfg := TrainConfig{Steps: 300, Batch: 16, LR: 5e-3, Seed: 7}
	var losses []float64
	t0 := time.Now()
	clf, err := Train(dev, train, cfg, func(done, total int, loss float64) {
		if done != len(losses)+1 || total != cfg.Steps {
			t.Fatalf("progress(%d, %d) after %d calls", done, total, len(losses))
		}
		losses = append(losses, loss)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(losses) != cfg.Steps {
		t.Fatalf("progress called %d times, want %d", len(losses), cfg.Steps)
	}
	acc := Accuracy(dev, clf, test, 250)
	first, last := mean(losses[:10]), mean(losses[len(losses)-10:])
	t.Logf("%d steps of %d in %.1fs: loss %.3f → %.3f, test accuracy %.3f",
		cfg.Steps, cfg.Batch, time.Since(t0).Seconds(), first, last, acc)
	if math.Abs(first-math.Log(10)) > 0.5 {
		t.Errorf("initial loss %.3f, want about log 10", first)
	}
	if last > 0.8*first {
		t.Errorf("loss only went from %.3f to %.3f", first, last)
	}
	if acc < 0.6 {
		t.Errorf("test accuracy %.3f, want > 0.6 (chance is 0.1)", acc)
	}
}

// synthetic returns n labelled 1×8×8 images whose class is which quadrant is
// bright.
func synthetic(n int, seed uint64) *data.Images {
	ds := &data.Images{N: n, C: 1, H: 8, W: 8, Pixels: make([]uint8, n*64), Labels: make([]int, n), NumClasses: 4}
	u := make([]float32, n*64)
	philox.Key{Seed: seed}.Uniform(u, 0)
	for i := range n {
		y := i % 4
		ds.Labels[i] = y
		for p := range 64 {
			r, c := p/8, p%8
			v := 60 * u[i*64+p]
			if r/4 == y/2 && c/4 == y%2 {
				v += 150
			}
			ds.Pixels[i*64+p] = uint8(v)
		}
	}
	return ds
}

func TestTrainReproducibleAndLearns(t *testing.T) {
	ds := synthetic(64, 1)
	cfg := TrainConfig{Steps: 30, Batch: 16, LR: 1e-2, Seed: 3}
	a, err := Train(dev, ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(dev, ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := a.Params(), b.Params()
	for i := range pa {
		if !slices.Equal(pa[i].Value.Data(), pb[i].Value.Data()) {
			t.Fatalf("%s differs between two runs with the same seed", pa[i].Name)
		}
	}
	if acc := Accuracy(dev, a, synthetic(40, 2), 7); acc < 0.9 {
		t.Errorf("accuracy %.3f on an easy synthetic task, want ≥ 0.9", acc)
	}
	cfg.Seed = 4
	c, err := Train(dev, ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(pa[0].Value.Data(), c.Params()[0].Value.Data()) {
		t.Error("another seed gave the same weights")
	}
}

func TestTrainErrors(t *testing.T) {
	ok := synthetic(16, 1)
	noLabels := *ok
	noLabels.Labels, noLabels.NumClasses = nil, 0
	oneClass := *ok
	oneClass.NumClasses = 1
	odd := &data.Images{N: 2, C: 1, H: 6, W: 8, Pixels: make([]uint8, 96), Labels: []int{0, 1}, NumClasses: 2}
	good := TrainConfig{Steps: 1, Batch: 4, LR: 1e-3}
	cases := []struct {
		name string
		ds   *data.Images
		cfg  TrainConfig
		want string
	}{
		{"nil", nil, good, "empty"},
		{"no labels", &noLabels, good, "no labels"},
		{"one class", &oneClass, good, "1 classes"},
		{"side", odd, TrainConfig{Steps: 1, Batch: 1, LR: 1e-3}, "multiples of 4"},
		{"steps", ok, TrainConfig{Steps: 0, Batch: 4, LR: 1e-3}, "steps 0"},
		{"batch", ok, TrainConfig{Steps: 1, Batch: 17, LR: 1e-3}, "batch 17"},
		{"lr", ok, TrainConfig{Steps: 1, Batch: 4, LR: float32(math.NaN())}, "learning rate"},
		{"lr inf", ok, TrainConfig{Steps: 1, Batch: 4, LR: float32(math.Inf(1))}, "learning rate"},
		{"diverges", ok, TrainConfig{Steps: 20, Batch: 4, LR: 1e30}, "loss"},
	}
	for _, c := range cases {
		_, err := Train(dev, c.ds, c.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "featurenet: train: ") {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestAccuracyMatchesLogits(t *testing.T) {
	ds := synthetic(23, 5)
	clf := nn.NewClassifier(dev, 1, 4, philox.Key{Seed: 9})
	x := ds.Scaled(0, ds.N)
	logits, _ := clf.Forward(nn.Eval(), ad.Const(rt.FromSlice(dev, x, 23, 1, 8, 8)))
	l := logits.Value.Data()
	right := 0
	for i := range 23 {
		if argmax(l[i*4:(i+1)*4]) == ds.Labels[i] {
			right++
		}
	}
	for _, b := range []int{1, 5, 23, 100} {
		if got, want := Accuracy(dev, clf, ds, b), float64(right)/23; got != want {
			t.Errorf("batch %d: accuracy %v, want %v", b, got, want)
		}
	}
}

func TestFeaturesBatchInvariant(t *testing.T) {
	ds := synthetic(11, 6)
	clf := nn.NewClassifier(dev, 1, 4, philox.Key{Seed: 10})
	x := ds.Scaled(0, ds.N)
	all := Features(dev, clf, x, 11, 1, 8, 8, 11)
	if len(all) != 11 || len(all[0]) != nn.ClassifierFeatures {
		t.Fatalf("%d features of width %d, want 11 of %d", len(all), len(all[0]), nn.ClassifierFeatures)
	}
	// Features of image i alone equal row i of the whole batch.
	for _, b := range []int{1, 4} {
		got := Features(dev, clf, x, 11, 1, 8, 8, b)
		for i := range all {
			for j := range all[i] {
				if math.Abs(got[i][j]-all[i][j]) > 1e-5 {
					t.Fatalf("batch %d: feature (%d, %d) = %g, in one batch %g", b, i, j, got[i][j], all[i][j])
				}
			}
		}
	}
	// Different images have different features.
	if slices.Equal(all[0], all[1]) {
		t.Error("images 0 and 1 have identical features")
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	ds := synthetic(32, 7)
	clf, err := Train(dev, ds, TrainConfig{Steps: 5, Batch: 8, LR: 1e-2, Seed: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "clf.safetensors")
	if err := Save(path, clf, map[string]string{KeyTestAccuracy: "0.875", "data": "synthetic"}); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{KeyFormat: Format, KeyInCh: "1", KeyClasses: "4", KeyTestAccuracy: "0.875", "data": "synthetic"} {
		if f.Metadata[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, f.Metadata[k], v)
		}
	}
	got, err := Load(dev, path, f)
	if err != nil {
		t.Fatal(err)
	}
	x := ds.Scaled(0, ds.N)
	a := Features(dev, clf, x, 32, 1, 8, 8, 16)
	b := Features(dev, got, x, 32, 1, 8, 8, 16)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("image %d: features differ after Save and Load", i)
		}
	}
	if got.InCh != 1 || got.Classes != 4 {
		t.Errorf("loaded InCh %d Classes %d, want 1 4", got.InCh, got.Classes)
	}
}

func TestSaveErrors(t *testing.T) {
	clf := nn.NewClassifier(dev, 1, 4, philox.Key{})
	dir := t.TempDir()
	cases := []struct {
		md   map[string]string
		want string
	}{
		{nil, "test_accuracy missing"},
		{map[string]string{KeyTestAccuracy: "1.5"}, "test_accuracy"},
		{map[string]string{KeyTestAccuracy: "0.5", KeyClasses: "10"}, "classes"},
		{map[string]string{KeyTestAccuracy: "0.5", KeyFormat: "other"}, "format"},
	}
	for _, c := range cases {
		err := Save(filepath.Join(dir, "x.safetensors"), clf, c.md)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("md %v: error %v, want one containing %q", c.md, err, c.want)
		}
	}
	if err := Save(filepath.Join(dir, "missing", "x.safetensors"), clf, map[string]string{KeyTestAccuracy: "0"}); err == nil {
		t.Error("saving into a missing folder: no error")
	}
}

func TestLoadErrors(t *testing.T) {
	clf := nn.NewClassifier(dev, 1, 4, philox.Key{})
	valid := func() *safetensors.File {
		f := &safetensors.File{Metadata: map[string]string{KeyFormat: Format, KeyInCh: "1", KeyClasses: "4", KeyTestAccuracy: "0.9"}}
		for _, p := range clf.Params() {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: p.Name, Shape: slices.Clone(p.Value.Shape()), Data: p.Value.Data()})
		}
		return f
	}
	if _, err := Load(dev, "ok.safetensors", valid()); err != nil {
		t.Fatalf("valid file: %v", err)
	}
	cases := []struct {
		name string
		edit func(f *safetensors.File)
		want string
	}{
		{"format", func(f *safetensors.File) { f.Metadata[KeyFormat] = "ocm-checkpoint" }, "not a feature classifier"},
		{"no metadata", func(f *safetensors.File) { f.Metadata = nil }, "not a feature classifier"},
		{"in_ch", func(f *safetensors.File) { f.Metadata[KeyInCh] = "0" }, "in_ch"},
		{"classes", func(f *safetensors.File) { f.Metadata[KeyClasses] = "ten" }, "classes"},
		{"classes mismatch", func(f *safetensors.File) { f.Metadata[KeyClasses] = "5" }, "shape"},
		{"accuracy", func(f *safetensors.File) { delete(f.Metadata, KeyTestAccuracy) }, "test_accuracy"},
		{"missing", func(f *safetensors.File) { f.Tensors = f.Tensors[1:] }, "missing"},
		{"extra", func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "classifier.extra", Shape: []int{1}, Data: []float32{0}})
		}, "unexpected tensor"},
		{"shape", func(f *safetensors.File) { f.Tensors[1].Shape = []int{16, 2} }, "shape"},
		{"nan", func(f *safetensors.File) { f.Tensors[0].Data[3] = float32(math.NaN()) }, "NaN"},
	}
	for _, c := range cases {
		f := valid()
		c.edit(f)
		_, err := Load(dev, "bad.safetensors", f)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "featurenet: bad.safetensors: ") || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line naming the file and containing %q", c.name, msg, c.want)
		}
	}
	if _, err := Load(dev, "nil.safetensors", nil); err == nil || !strings.Contains(err.Error(), "nil.safetensors") {
		t.Errorf("nil file: error %v", err)
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
