// Package featurenet trains and applies the feature classifier of the image
// sample-quality metrics.
//
// The Fréchet distance and the precision/recall of sampler/metrics compare
// generated images with real ones in the feature space of a network that has
// learnt what distinguishes the images of the data set. For small data sets
// such as Fashion-MNIST ocm trains its own: an nn.Classifier fitted with
// softmax cross-entropy and Adam (Train), whose 64-wide pooled features are
// what the metrics see (Features). Accuracy measures how well it classifies
// held-out images, a check that its features mean something.
//
// A trained classifier is stored as a safetensors file (Save, Load) whose
// metadata records the format (Format), the input channels, the class count
// and the test accuracy, so that metric values are only compared when they
// were measured with the same network.
//
// Images are NCHW float32 scaled to [-1, 1] as data.Loader serves them.
package featurenet

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"

	"ocm/assets"
	ad "ocm/autodiff"
	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm/data"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Format is the value of the "format" metadata key of a saved classifier.
const Format = "ocm-feature-classifier/1"

// Metadata keys of a saved classifier.
const (
	KeyFormat       = "format"        // Format
	KeyInCh         = "in_ch"         // input channels, decimal
	KeyClasses      = "classes"       // number of classes, decimal
	KeyTestAccuracy = "test_accuracy" // accuracy on the test set, in [0, 1]
)

// maxInCh bounds the input channels a saved classifier may declare.
const maxInCh = 64

// TrainConfig sets a training run.
type TrainConfig struct {
	// Steps is the number of Adam updates.
	Steps int
	// Batch is the number of images per update (at most the data set size).
	Batch int
	// LR is the peak learning rate; it decays along a half cosine to 0 at Steps.
	LR float32
	// Seed draws the initial weights and the batch order.
	Seed uint64
}

// DefaultTrainConfig is a setting that reaches 0.87 test accuracy on
// Fashion-MNIST (all 60,000 training images, 2,000 updates of 128: about six
// minutes on two CPU cores).
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Steps: 2000, Batch: 128, LR: 5e-3, Seed: 1}
}

// check reports a configuration that cannot train on n images.
func (c TrainConfig) check(n int) error {
	switch {
	case c.Steps < 1:
		return fmt.Errorf("steps %d, need at least 1", c.Steps)
	case c.Batch < 1 || c.Batch > n:
		return fmt.Errorf("batch %d outside [1, %d] (the data set size)", c.Batch, n)
	case !(c.LR > 0) || math.IsInf(float64(c.LR), 0):
		return fmt.Errorf("learning rate %v is not positive and finite", c.LR)
	}
	return nil
}

// Train fits a new classifier to the labelled images of train with the mean
// softmax cross-entropy and Adam, drawing batches from a data.Loader seeded
// with cfg.Seed, so a run is reproducible. The learning rate follows
// cfg.LR·(1+cos(π·i/Steps))/2 at update i. progress, when not nil, is called
// after each update with the number of updates done, cfg.Steps and the
// update's loss. It returns an error for a data set without labels or with
// fewer than two classes, for images whose sides are not multiples of 4, for
// an unusable cfg and when the loss stops being finite.
func Train(dev rt.Device, train *data.Images, cfg TrainConfig, progress func(done, total int, loss float64)) (*nn.Classifier, error) {
	switch {
	case train == nil || train.N < 1:
		return nil, errors.New("featurenet: train: empty data set")
	case train.Labels == nil:
		return nil, errors.New("featurenet: train: the data set has no labels")
	case train.NumClasses < 2:
		return nil, fmt.Errorf("featurenet: train: the data set has %d classes, need at least 2", train.NumClasses)
	case train.H%4 != 0 || train.W%4 != 0:
		return nil, fmt.Errorf("featurenet: train: images are %d×%d, need sides that are multiples of 4", train.H, train.W)
	}
	if err := cfg.check(train.N); err != nil {
		return nil, fmt.Errorf("featurenet: train: %w", err)
	}
	clf := nn.NewClassifier(dev, train.C, train.NumClasses, philox.Key{Seed: cfg.Seed})
	ps := clf.Params()
	opt := nn.NewAdam(cfg.LR)
	loader := data.NewLoader(train, cfg.Batch, cfg.Seed)
	for i := range cfg.Steps {
		x, y := loader.Batch(i)
		c := nn.NewCtx(true, true, philox.Key{})
		xv := ad.Const(rt.FromSlice(dev, x, cfg.Batch, train.C, train.H, train.W))
		logits, _ := clf.Forward(c, xv)
		loss := nn.CrossEntropy(logits, y)
		grads := c.Grads(loss, ps)
		l := float64(loss.Value.Item())
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return nil, fmt.Errorf("featurenet: train: loss %v at update %d of %d", l, i+1, cfg.Steps)
		}
		opt.LR = cfg.LR * float32((1+math.Cos(math.Pi*float64(i)/float64(cfg.Steps)))/2)
		opt.Update(ps, grads)
		if progress != nil {
			progress(i+1, cfg.Steps, l)
		}
	}
	return clf, nil
}

// Accuracy returns the fraction of the images of test whose most likely class
// under clf is their label, evaluating batch images at a time. It panics (a
// programming error) when test has no labels, when its images do not fit clf
// or when batch < 1.
func Accuracy(dev rt.Device, clf *nn.Classifier, test *data.Images, batch int) float64 {
	if test == nil || test.N < 1 || test.Labels == nil {
		panic("featurenet: accuracy: need a non-empty labelled data set")
	}
	x := test.Scaled(0, test.N)
	right := 0
	forward(dev, clf, x, test.N, test.C, test.H, test.W, batch, func(start int, logits, _ []float32) {
		k := clf.Classes
		for i := range len(logits) / k {
			row := logits[i*k : (i+1)*k]
			if argmax(row) == test.Labels[start+i] {
				right++
			}
		}
	})
	return float64(right) / float64(test.N)
}

// Features returns the pooled features (nn.ClassifierFeatures values each) of
// the n images x (n·c·h·w values, NCHW, scaled to [-1, 1]) under clf in
// evaluation mode, evaluating batch images at a time. The result does not
// depend on batch beyond float32 rounding. It panics (a programming error)
// when x does not hold n images of c×h×w, when c is not clf's input channel
// count, when h or w is not a positive multiple of 4 or when batch < 1.
func Features(dev rt.Device, clf *nn.Classifier, x []float32, n, c, h, w int, batch int) [][]float64 {
	out := make([][]float64, 0, n)
	forward(dev, clf, x, n, c, h, w, batch, func(_ int, _, feats []float32) {
		d := nn.ClassifierFeatures
		for i := range len(feats) / d {
			out = append(out, rt.Widen(feats[i*d:(i+1)*d]))
		}
	})
	return out
}

// forward runs clf in evaluation mode over the n images of x, batch at a time,
// and hands each chunk's first index, logits and features to fn in order.
func forward(dev rt.Device, clf *nn.Classifier, x []float32, n, c, h, w, batch int, fn func(start int, logits, feats []float32)) {
	if n < 0 || c != clf.InCh || h < 1 || w < 1 || len(x) != n*c*h*w || batch < 1 {
		panic(fmt.Sprintf("featurenet: %d values for %d images of %d×%d×%d (classifier takes %d channels), batch %d",
			len(x), n, c, h, w, clf.InCh, batch))
	}
	per := c * h * w
	for start := 0; start < n; start += batch {
		m := min(batch, n-start)
		xt := rt.FromSlice(dev, x[start*per:(start+m)*per], m, c, h, w)
		logits, feats := clf.Forward(nn.Eval(), ad.Const(xt))
		fn(start, logits.Value.Data(), feats.Value.Data())
	}
}

// argmax returns the index of the largest value (the first one on ties).
func argmax(row []float32) int {
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// Save writes clf to path as a float32 safetensors file (atomically, see
// safetensors.WriteFile). Its metadata is md plus KeyFormat, KeyInCh and
// KeyClasses, which Save sets; md must hold KeyTestAccuracy, a number in
// [0, 1], and must not give the keys Save sets other values.
func Save(path string, clf *nn.Classifier, md map[string]string) error {
	meta := maps.Clone(md)
	if meta == nil {
		meta = map[string]string{}
	}
	set := map[string]string{KeyFormat: Format, KeyInCh: strconv.Itoa(clf.InCh), KeyClasses: strconv.Itoa(clf.Classes)}
	for k, v := range set {
		if old, ok := meta[k]; ok && old != v {
			return fmt.Errorf("featurenet: save %s: metadata %s = %q, but the classifier has %q", path, k, old, v)
		}
		meta[k] = v
	}
	if _, err := parseAccuracy(meta); err != nil {
		return fmt.Errorf("featurenet: save %s: %w", path, err)
	}
	f := &safetensors.File{Metadata: meta}
	for _, p := range clf.Params() {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: p.Name, Shape: slices.Clone(p.Value.Shape()), Data: p.Value.Data()})
	}
	if err := safetensors.WriteFile(path, f, safetensors.F32); err != nil {
		return fmt.Errorf("featurenet: save: %w", err)
	}
	return nil
}

// Load builds the classifier stored in f, a file read from name (used in
// error messages), on dev. It checks the format, the input channels and class
// count, the test accuracy, and that the tensors are exactly the classifier's
// parameters with their shapes and finite values; any problem is a one-line
// error naming the file.
func Load(dev rt.Device, name string, f *safetensors.File) (*nn.Classifier, error) {
	clf, err := load(dev, f)
	if err != nil {
		return nil, fmt.Errorf("featurenet: %s: %w", name, err)
	}
	return clf, nil
}

// load does Load's work; its errors do not name the file.
func load(dev rt.Device, f *safetensors.File) (*nn.Classifier, error) {
	if f == nil {
		return nil, errors.New("no file")
	}
	if got := f.Metadata[KeyFormat]; got != Format {
		return nil, fmt.Errorf("not a feature classifier (metadata %s %q, want %q)", KeyFormat, got, Format)
	}
	inCh, err := metaInt(f.Metadata, KeyInCh, 1, maxInCh)
	if err != nil {
		return nil, err
	}
	classes, err := metaInt(f.Metadata, KeyClasses, 2, data.MaxClasses)
	if err != nil {
		return nil, err
	}
	if _, err := parseAccuracy(f.Metadata); err != nil {
		return nil, err
	}
	clf := nn.NewClassifier(dev, inCh, classes, philox.Key{})
	ps := clf.Params()
	want := map[string]bool{}
	for _, p := range ps {
		want[p.Name] = true
	}
	for _, t := range f.Tensors {
		if !want[t.Name] {
			return nil, fmt.Errorf("unexpected tensor %q", t.Name)
		}
	}
	for _, p := range ps {
		t, ok := f.Get(p.Name)
		if !ok {
			return nil, fmt.Errorf("tensor %q missing", p.Name)
		}
		if !slices.Equal(t.Shape, p.Value.Shape()) {
			return nil, fmt.Errorf("tensor %q has shape %v, want %v", p.Name, t.Shape, p.Value.Shape())
		}
		for _, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("tensor %q holds %v", p.Name, v)
			}
		}
		p.Value = rt.FromSlice(dev, t.Data, t.Shape...)
	}
	return clf, nil
}

// metaInt parses md[key] as a decimal integer in [lo, hi].
func metaInt(md map[string]string, key string, lo, hi int) (int, error) {
	s, ok := md[key]
	if !ok {
		return 0, fmt.Errorf("metadata %s missing", key)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, fmt.Errorf("metadata %s = %q, want an integer in [%d, %d]", key, s, lo, hi)
	}
	return v, nil
}

// parseAccuracy returns md[KeyTestAccuracy], which must be a number in [0, 1].
func parseAccuracy(md map[string]string) (float64, error) {
	s, ok := md[KeyTestAccuracy]
	if !ok {
		return 0, fmt.Errorf("metadata %s missing", KeyTestAccuracy)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0 && v <= 1) {
		return 0, fmt.Errorf("metadata %s = %q, want a number in [0, 1]", KeyTestAccuracy, s)
	}
	return v, nil
}

// DescribeBundle is a one-line summary of a saved classifier's metadata md, with its
// number of parameters.
func DescribeBundle(md map[string]string, params int) string {
	return fmt.Sprintf("feature classifier for --eval (%s): %d parameters, test accuracy %s", md["data"], params, md["test_accuracy"])
}

// TrainAndSave trains a classifier on train with the default configuration (its own
// fixed seed: the same features for every run), scores it on test and saves it to
// path with its record; dataset names the data. It returns the classifier and its
// test accuracy.
func TrainAndSave(dev rt.Device, train, test *data.Images, dataset, path string, progress func(done, total int, loss float64)) (*nn.Classifier, float64, error) {
	cfg := DefaultTrainConfig()
	clf, err := Train(dev, train, cfg, progress)
	if err != nil {
		return nil, 0, err
	}
	acc := Accuracy(dev, clf, test, 256)
	md := map[string]string{"dataset": dataset, "test_accuracy": fmt.Sprintf("%.4f", acc), "seed": fmt.Sprint(cfg.Seed),
		"steps": fmt.Sprint(cfg.Steps), "batch": fmt.Sprint(cfg.Batch)}
	if err := Save(path, clf, md); err != nil {
		return nil, 0, err
	}
	return clf, acc, nil
}

// Classifier returns the feature classifier of an evaluation: the file path when
// given, else the embedded classifier of Fashion-MNIST for spec "fashion-mnist", else
// one trained now on train, scored on test and saved to save (for next time); trained
// says so. Errors of path or of the data are the user's (BadInput).
func Classifier(dev rt.Device, path, spec, save string, train, test *data.Images,
	progress func(done, total int, loss float64)) (clf *nn.Classifier, acc float64, trained bool, err error) {
	if path != "" {
		f, err := safetensors.ReadFile(path)
		if err != nil {
			return nil, 0, false, &BadInput{fmt.Errorf("--classifier: %w", err)}
		}
		clf, err := Load(dev, path, f)
		if err != nil {
			return nil, 0, false, &BadInput{err}
		}
		return clf, 0, false, nil
	}
	if spec == "fashion-mnist" {
		if raw, info, err := assets.Load(EmbeddedFashionMNIST); err == nil {
			f, err := safetensors.Read("embedded "+info.Name, raw)
			if err != nil {
				return nil, 0, false, err
			}
			clf, err := Load(dev, "embedded "+info.Name, f)
			return clf, 0, false, err
		}
	}
	clf, acc, err = TrainAndSave(dev, train, test, spec, save, progress)
	if err != nil {
		return nil, 0, false, &BadInput{fmt.Errorf("--data %s: feature classifier: %w", spec, err)}
	}
	return clf, acc, true, nil
}

// EmbeddedFashionMNIST is the embedded classifier whose features --eval scores
// Fashion-MNIST samples with.
const EmbeddedFashionMNIST = "fashion-mnist-classifier"

// BadInput is an error of the user's input (a file, a data set).
type BadInput struct{ Err error }

// Error is the message of the wrapped error.
func (e *BadInput) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *BadInput) Unwrap() error { return e.Err }
