package data

import (
	"encoding/binary"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// distinctIDX builds n h×w images, each different (pixels 0 and 1 hold the index
// first+i), and their labels.
func distinctIDX(n, h, w, first int) (img, lbl []byte) {
	pix := make([]byte, n*h*w)
	lab := make([]byte, n)
	for i := range n {
		im := pix[i*h*w : (i+1)*h*w]
		for p := range im {
			im[p] = byte(first + i + 3*p)
		}
		binary.LittleEndian.PutUint16(im, uint16(first+i))
		lab[i] = byte(i % 10)
	}
	return idxFile(idxImagesMagic, []uint32{uint32(n), uint32(h), uint32(w)}, pix),
		idxFile(idxLabelsMagic, []uint32{uint32(n)}, lab)
}

// distinctCIFAR builds n CIFAR-10 records, each different.
func distinctCIFAR(n, first int) []byte {
	b := make([]byte, 0, n*cifarRecord)
	for i := range n {
		rec := make([]byte, cifarRecord)
		rec[0] = byte(i % 10)
		for p := 1; p < cifarRecord; p++ {
			rec[p] = byte(first + i + p)
		}
		binary.LittleEndian.PutUint16(rec[1:], uint16(first+i))
		b = append(b, rec...)
	}
	return b
}

// checkDisjoint fails when an evaluation image of s is a training image, and checks
// the split's kind and sizes.
func checkDisjoint(t *testing.T, s *Split, kind string, nTrain, nEval int) {
	t.Helper()
	if s.Kind != kind || s.Train.N != nTrain || s.Eval.N != nEval {
		t.Fatalf("split %q with %d training and %d evaluation images, want %q with %d and %d (%s)",
			s.Kind, s.Train.N, s.Eval.N, kind, nTrain, nEval, s.Describe())
	}
	train := map[string]bool{}
	for i := range s.Train.N {
		train[string(s.Train.Image(i))] = true
	}
	for i := range s.Eval.N {
		if train[string(s.Eval.Image(i))] {
			t.Fatalf("%s: evaluation image %d is a training image", s.Describe(), i)
		}
	}
	if s.Overlap != 0 || strings.Contains(s.Describe(), "WARNING") {
		t.Errorf("disjoint split reports overlap %d: %s", s.Overlap, s.Describe())
	}
}

func TestSplitFashionMNISTUsesT10k(t *testing.T) {
	dir := t.TempDir()
	img, lbl := distinctIDX(12, 28, 28, 0)
	writeFile(t, dir, "train-images-idx3-ubyte", img)
	writeFile(t, dir, "train-labels-idx1-ubyte", lbl)
	img, lbl = distinctIDX(6, 28, 28, 500)
	writeFile(t, dir, "t10k-images-idx3-ubyte.gz", gz(img))
	writeFile(t, dir, "t10k-labels-idx1-ubyte", lbl)
	s, err := OpenSplit("fashion-mnist", "", dir)
	if err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "test", 12, 6)
	if binary.LittleEndian.Uint16(s.Eval.Image(0)) != 500 {
		t.Errorf("evaluation image 0 is not the first t10k image")
	}
}

func TestSplitIDX(t *testing.T) {
	dir := t.TempDir()
	img, lbl := distinctIDX(30, 4, 4, 0)
	tr := writeFile(t, dir, "train-images-idx3-ubyte", img)
	trl := writeFile(t, dir, "train-labels-idx1-ubyte", lbl)
	// No t10k files yet: the last 30/6 = 5 images are held out.
	s, err := OpenSplit("idx:"+tr+","+trl, "", "")
	if err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "held-out", 25, 5)
	if got := binary.LittleEndian.Uint16(s.Eval.Image(0)); got != 25 || s.Eval.Labels[0] != 25%10 {
		t.Errorf("held-out image 0 is image %d with label %d, want image 25", got, s.Eval.Labels[0])
	}
	again, err := OpenSplit("idx:"+tr+","+trl, "", "")
	if err != nil || string(again.Eval.Pixels) != string(s.Eval.Pixels) {
		t.Errorf("the held-out part changed between two reads (%v)", err)
	}
	// With the t10k files beside them, those are the test split.
	img, lbl = distinctIDX(7, 4, 4, 300)
	writeFile(t, dir, "t10k-images-idx3-ubyte", img)
	writeFile(t, dir, "t10k-labels-idx1-ubyte", lbl)
	if s, err = OpenSplit("idx:"+tr+","+trl, "", ""); err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "test", 30, 7)
	if s.Eval.Labels == nil {
		t.Error("the test split lost its labels")
	}
}

func TestSplitCIFAR10(t *testing.T) {
	dir := t.TempDir()
	b1 := writeFile(t, dir, "data_batch_1.bin", distinctCIFAR(20, 0))
	b2 := writeFile(t, dir, "data_batch_2.bin", distinctCIFAR(16, 20))
	s, err := OpenSplit("cifar10:"+b1+","+b2, "", "")
	if err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "held-out", 30, 6)
	tb := writeFile(t, dir, "test_batch.bin", distinctCIFAR(10, 1000))
	if s, err = OpenSplit("cifar10:"+b1+","+b2, "", ""); err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "test", 36, 10)
	if !strings.Contains(s.Source, filepath.Base(tb)) {
		t.Errorf("source %q does not name test_batch.bin", s.Source)
	}
	// Training on the test batch itself: it cannot also be the test split.
	if s, err = OpenSplit("cifar10:"+tb, "", ""); err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "held-out", 9, 1)
}

func TestSplitPNGHoldsOut(t *testing.T) {
	dir := t.TempDir()
	for i := range 12 {
		writeFile(t, dir, string(rune('a'+i))+".png", pngBytes(t, grayImg(3, 3, 10*i)))
	}
	s, err := OpenSplit("png:"+dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "held-out", 10, 2)
	if !strings.Contains(s.Describe(), "held out") {
		t.Errorf("description %q does not say the images are held out", s.Describe())
	}
	few := t.TempDir()
	writeFile(t, few, "a.png", pngBytes(t, grayImg(3, 3, 0)))
	if _, err := OpenSplit("png:"+few, "", ""); err == nil || !strings.Contains(err.Error(), "too few") {
		t.Errorf("one image: err %v, want too few to hold out", err)
	}
}

func TestSplitEvalData(t *testing.T) {
	dir := t.TempDir()
	img, _ := distinctIDX(12, 4, 4, 0)
	tr := writeFile(t, dir, "digits-images", img)
	img, _ = distinctIDX(5, 4, 4, 100)
	ev := writeFile(t, dir, "other-images", img)
	s, err := OpenSplit("idx:"+tr, "idx:"+ev, "")
	if err != nil {
		t.Fatal(err)
	}
	checkDisjoint(t, s, "eval-data", 12, 5)
	// Evaluating on the training file itself is allowed, but said.
	if s, err = OpenSplit("idx:"+tr, "idx:"+tr, ""); err != nil {
		t.Fatal(err)
	}
	if s.Overlap != 12 || !strings.Contains(s.Describe(), "WARNING: 12 of them are also training images") {
		t.Errorf("overlap %d, description %q", s.Overlap, s.Describe())
	}
	if _, err := OpenSplit("idx:"+tr, "mog9", ""); err == nil || !strings.Contains(err.Error(), "--eval-data mog9") {
		t.Errorf("--eval-data mog9: err %v", err)
	}
}

// TestSplitEvalDataEveryKind: --eval-data of each kind (a CIFAR-10 batch, a PNG
// folder, Fashion-MNIST's own test files) is read whole for evaluation, the training
// data whole for training, and no evaluation image is a training image.
func TestSplitEvalDataEveryKind(t *testing.T) {
	dir := t.TempDir()
	b1 := writeFile(t, dir, "data_batch_1.bin", distinctCIFAR(12, 0))
	other := writeFile(t, dir, "other_batch.bin", distinctCIFAR(5, 40))
	pngTrain, pngEval := filepath.Join(dir, "png-train"), filepath.Join(dir, "png-eval")
	for i := range 9 {
		sub := pngTrain
		if i >= 6 {
			sub = pngEval
		}
		writeFile(t, mkdir(t, sub), string(rune('a'+i))+".png", pngBytes(t, grayImg(3, 3, 20*i)))
	}
	fm := filepath.Join(dir, "fashion")
	img, lbl := distinctIDX(10, 28, 28, 0)
	writeFile(t, mkdir(t, fm), "train-images-idx3-ubyte", img)
	writeFile(t, fm, "train-labels-idx1-ubyte", lbl)
	img, lbl = distinctIDX(4, 28, 28, 700)
	writeFile(t, fm, "t10k-images-idx3-ubyte", img)
	writeFile(t, fm, "t10k-labels-idx1-ubyte", lbl)
	for _, c := range []struct {
		spec, evalSpec string
		train, eval    int
	}{
		{"cifar10:" + b1, "cifar10:" + other, 12, 5},
		{"png:" + pngTrain, "png:" + pngEval, 6, 3},
		{"fashion-mnist", "fashion-mnist", 10, 4}, // --eval-data fashion-mnist is its test split
	} {
		s, err := OpenSplit(c.spec, c.evalSpec, fm)
		if err != nil {
			t.Fatalf("%s with --eval-data %s: %v", c.spec, c.evalSpec, err)
		}
		checkDisjoint(t, s, "eval-data", c.train, c.eval)
		if !strings.Contains(s.Describe(), "--eval-data "+c.evalSpec) {
			t.Errorf("description %q does not name --eval-data %s", s.Describe(), c.evalSpec)
		}
	}
}

// TestSplitOverlapComparesPixels: --eval-data in another format that holds training
// images (two IDX training images written out as PNG files) is caught by content,
// and the description warns.
func TestSplitOverlapComparesPixels(t *testing.T) {
	dir := t.TempDir()
	img, _ := distinctIDX(8, 3, 3, 0)
	tr := writeFile(t, dir, "train-images", img)
	train, err := ReadIDX(tr, "")
	if err != nil {
		t.Fatal(err)
	}
	ev := mkdir(t, filepath.Join(dir, "eval"))
	for i, src := range []int{2, 5} { // training images 2 and 5, and one new image
		g := image.NewGray(image.Rect(0, 0, 3, 3))
		copy(g.Pix, train.Image(src))
		writeFile(t, ev, fmt.Sprintf("%d.png", i), pngBytes(t, g))
	}
	writeFile(t, ev, "new.png", pngBytes(t, grayImg(3, 3, 200)))
	s, err := OpenSplit("idx:"+tr, "png:"+ev, "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Overlap != 2 || !strings.Contains(s.Describe(), "WARNING: 2 of them are also training images") {
		t.Errorf("overlap %d, description %q; want 2 and a warning", s.Overlap, s.Describe())
	}
}

// mkdir makes dir (and its parents) and returns it.
func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestEvalFilesFollowsOpenSplit: the files a run records for its evaluation images
// are those OpenSplit reads them from, of the same kind of split.
func TestEvalFilesFollowsOpenSplit(t *testing.T) {
	dir := t.TempDir()
	b1 := writeFile(t, dir, "data_batch_1.bin", distinctCIFAR(12, 0))
	other := writeFile(t, dir, "other.bin", distinctCIFAR(3, 50))
	check := func(evalSpec, wantFile string) {
		t.Helper()
		s, err := OpenSplit("cifar10:"+b1, evalSpec, "")
		if err != nil {
			t.Fatal(err)
		}
		kind, files, err := EvalFiles("cifar10:"+b1, evalSpec, "")
		if err != nil || kind != s.Kind || len(files) != 1 || files[0] != wantFile {
			t.Errorf("--eval-data %q: EvalFiles %q %v (%v), OpenSplit made a %q split, want file %s", evalSpec, kind, files, err, s.Kind, wantFile)
		}
	}
	check("", b1) // held out
	check("cifar10:"+other, other)
	tb := writeFile(t, dir, "test_batch.bin", distinctCIFAR(4, 90))
	check("", tb)
}
