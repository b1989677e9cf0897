package data

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// HeldOutDenominator sets the held-out part of a data set without a test split: its
// last 1/HeldOutDenominator images in file order, the same for every seed.
const HeldOutDenominator = 6

// Split is a data set divided into images to train on (the backbone, the heads and
// the feature classifier) and images to evaluate on.
type Split struct {
	Train, Eval *Images
	// Kind is how Eval was chosen: "eval-data" (named by the user), "test" (the
	// data set's own test split) or "held-out" (the last part of the files).
	Kind string
	// Source names the evaluation images, for the report.
	Source string
	// Overlap counts evaluation images identical to a training image: none for a
	// held-out part of distinct images; a test split or --eval-data can have some.
	Overlap int
}

// Describe is one line for a report: where the evaluation images come from.
func (s *Split) Describe() string {
	d := fmt.Sprintf("%s (%d images; %d training images)", s.Source, s.Eval.N, s.Train.N)
	if s.Overlap > 0 {
		d += fmt.Sprintf("; WARNING: %d of them are also training images", s.Overlap)
	}
	return d
}

// OpenSplit reads the data set spec names (the --data grammar of Open) and its
// evaluation images: those of evalSpec when it is not empty (a data set in the same
// grammar, its test split for fashion-mnist), else spec's own test split where it has
// one (Fashion-MNIST's t10k files; for idx:DIR/train-… the t10k-… files beside them;
// for cifar10: test_batch.bin in the folder of the first batch, unless it is named),
// else the last 1/HeldOutDenominator of the images, which Train then lacks.
func OpenSplit(spec, evalSpec, fashionDir string) (*Split, error) {
	if evalSpec != "" {
		return openEvalData(spec, evalSpec, fashionDir)
	}
	if !IsImageSpec(spec) {
		return nil, ErrNotImages
	}
	train, err := Open(spec, fashionDir, false)
	if err != nil {
		return nil, err
	}
	ch, err := chooseEval(spec, "")
	if err != nil {
		return nil, err
	}
	if ch.kind == "test" {
		eval, err := Open(ch.spec, fashionDir, true)
		if err != nil {
			return nil, fmt.Errorf("data: test split of %s: %w", spec, err)
		}
		return &Split{Train: train, Eval: eval, Kind: "test", Source: ch.source, Overlap: Overlap(train, eval)}, nil
	}
	return holdOut(spec, train)
}

// evalChoice is where OpenSplit takes the evaluation images from: kind as in
// Split.Kind, and the data set spec they are read from (its test split for
// "eval-data" and "test"; the training files themselves for "held-out").
type evalChoice struct {
	kind, spec, source string
}

// chooseEval decides, without reading any image, where OpenSplit takes the
// evaluation images of spec from.
func chooseEval(spec, evalSpec string) (evalChoice, error) {
	if evalSpec != "" {
		return evalChoice{"eval-data", evalSpec, "--eval-data " + evalSpec}, nil
	}
	testSpec, source, err := testSplitOf(spec)
	if err != nil || testSpec == "" {
		return evalChoice{"held-out", spec, ""}, err
	}
	return evalChoice{"test", testSpec, source}, nil
}

// EvalFiles returns the kind of split OpenSplit makes of spec and evalSpec (as in
// Split.Kind) and the files its evaluation images are read from, for a run's record.
func EvalFiles(spec, evalSpec, fashionDir string) (kind string, files []string, err error) {
	ch, err := chooseEval(spec, evalSpec)
	if err != nil {
		return "", nil, err
	}
	files, err = Files(ch.spec, fashionDir, ch.kind != "held-out")
	return ch.kind, files, err
}

// openEvalData reads spec whole for training and evalSpec for evaluation.
func openEvalData(spec, evalSpec, fashionDir string) (*Split, error) {
	if !IsImageSpec(evalSpec) {
		return nil, fmt.Errorf("--eval-data %s: %w", evalSpec, ErrNotImages)
	}
	var train *Images
	var err error
	if IsImageSpec(spec) {
		if train, err = Open(spec, fashionDir, false); err != nil {
			return nil, err
		}
	}
	eval, err := Open(evalSpec, fashionDir, true)
	if err != nil {
		return nil, fmt.Errorf("--eval-data %s: %w", evalSpec, err)
	}
	s := &Split{Train: train, Eval: eval, Kind: "eval-data", Source: "--eval-data " + evalSpec}
	if train == nil {
		s.Train = &Images{C: eval.C, H: eval.H, W: eval.W}
	}
	s.Overlap = Overlap(s.Train, eval)
	return s, nil
}

// testSplitOf returns the spec of spec's own test split and its description, or ""
// when it has none.
func testSplitOf(spec string) (test, source string, err error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "fashion-mnist":
		return "fashion-mnist", "Fashion-MNIST's test split (t10k files)", nil
	case "idx":
		imgs, lbls, hasLbls := strings.Cut(arg, ",")
		ti, ok, err := sibling(imgs, "train-", "t10k-")
		if err != nil || !ok {
			return "", "", err
		}
		test = "idx:" + ti
		if hasLbls {
			tl, ok, err := sibling(lbls, "train-", "t10k-")
			if err != nil || !ok {
				return "", "", err
			}
			test += "," + tl
		}
		return test, "the IDX test split " + strings.TrimPrefix(test, "idx:"), nil
	case "cifar10":
		files := strings.Split(arg, ",")
		for _, f := range files {
			if filepath.Base(f) == "test_batch.bin" {
				return "", "", nil // trains on the test batch: hold out instead
			}
		}
		p := filepath.Join(filepath.Dir(files[0]), "test_batch.bin")
		if ok, err := exists(p); err != nil || !ok {
			return "", "", err
		}
		return "cifar10:" + p, "the CIFAR-10 test batch " + p, nil
	}
	return "", "", nil
}

// sibling returns path with the base-name prefix from replaced by to, when path has
// that prefix and the other file exists.
func sibling(path, from, to string) (string, bool, error) {
	base := filepath.Base(path)
	if !strings.HasPrefix(base, from) {
		return "", false, nil
	}
	p := filepath.Join(filepath.Dir(path), to+strings.TrimPrefix(base, from))
	ok, err := exists(p)
	return p, ok, err
}

func exists(p string) (bool, error) {
	_, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, ioErr(err)
	}
	return true, nil
}

// holdOut splits ds into its first images (training) and its last
// 1/HeldOutDenominator (evaluation).
func holdOut(spec string, ds *Images) (*Split, error) {
	k := ds.N / HeldOutDenominator
	if k < 1 || ds.N-k < 1 {
		return nil, fmt.Errorf("data: %s has %d images: too few to hold out 1/%d for evaluation (give --eval-data)",
			spec, ds.N, HeldOutDenominator)
	}
	train, eval := ds.Range(0, ds.N-k), ds.Range(ds.N-k, ds.N)
	return &Split{Train: train, Eval: eval, Kind: "held-out", Overlap: Overlap(train, eval),
		Source: fmt.Sprintf("held out: images %d–%d (the last 1/%d, in file order) of %s, never trained on",
			ds.N-k, ds.N-1, HeldOutDenominator, spec)}, nil
}

// Range returns images lo..hi−1 (sharing the pixels and labels of im).
func (im *Images) Range(lo, hi int) *Images {
	n := im.C * im.H * im.W
	out := &Images{N: hi - lo, C: im.C, H: im.H, W: im.W, Pixels: im.Pixels[lo*n : hi*n : hi*n], NumClasses: im.NumClasses}
	if im.Labels != nil {
		out.Labels = im.Labels[lo:hi:hi]
	}
	return out
}

// Overlap counts the images of b whose pixels equal those of an image of a.
func Overlap(a, b *Images) int {
	if a.C != b.C || a.H != b.H || a.W != b.W {
		return 0
	}
	seen := make(map[[sha256.Size]byte]bool, a.N)
	for i := range a.N {
		seen[sha256.Sum256(a.Image(i))] = true
	}
	n := 0
	for i := range b.N {
		if seen[sha256.Sum256(b.Image(i))] {
			n++
		}
	}
	return n
}
