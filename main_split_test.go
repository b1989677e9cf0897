package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ocm/nn"
	"ocm/ocm/featurenet"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// TestEvalSplitBadInputs: a bad --probes or --eval-data is one line, exit 2.
func TestEvalSplitBadInputs(t *testing.T) {
	in := t.TempDir()
	imgBundle := smallImageBundle(t, in)
	one := writeFile(t, in, "one.idx", idxImages(1, 8))
	for _, c := range []struct {
		name string
		args []string
	}{
		{"no probes", []string{"--sample", "--variance-type", "ocm-probe", "--probes", "0"}},
		{"eval data that are no images", []string{"--eval", "--weights", imgBundle, "--data", "idx:" + one, "--eval-data", "mog9"}},
		{"too few images to hold out", []string{"--eval", "--weights", imgBundle, "--data", "idx:" + one}},
	} {
		t.Run(c.name, func(t *testing.T) { expectBadInput(t, c.args) })
	}
}

// distinctIDX returns IDX image and label files of n side×side images, each
// different (the first two pixels hold first+i).
func distinctIDX(n, side, first int) (img, lbl []byte) {
	var b, l bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x803, uint32(n), uint32(side), uint32(side)})
	binary.Write(&l, binary.BigEndian, []uint32{0x801, uint32(n)})
	for i := range n {
		im := make([]byte, side*side)
		for p := range im {
			im[p] = byte(3*p + i)
		}
		binary.BigEndian.PutUint16(im, uint16(first+i))
		b.Write(im)
		l.WriteByte(byte(i % 10))
	}
	return b.Bytes(), l.Bytes()
}

// TestEvalReportNamesTheSplit runs --eval on IDX files: without test files beside
// them it scores their held-out last sixth, with t10k files the test split, and
// with --eval-data those files; report.md and report.json name the split each time,
// and the run's manifest records the files the evaluation images came from.
// Evaluation images without labels have no test accuracy.
func TestEvalReportNamesTheSplit(t *testing.T) {
	in := t.TempDir()
	bundle := smallImageBundle(t, in)
	clf := filepath.Join(in, "clf.safetensors")
	if err := featurenet.Save(clf, nn.NewClassifier(rt.NewCPU(rt.CPUOptions{}), 1, 10, philox.Key{Seed: 1}),
		map[string]string{featurenet.KeyTestAccuracy: "0.5"}); err != nil {
		t.Fatal(err)
	}
	img, lbl := distinctIDX(24, 8, 0)
	spec := "idx:" + writeFile(t, in, "train-images-idx3-ubyte", img) + "," + writeFile(t, in, "train-labels-idx1-ubyte", lbl)
	img, lbl = distinctIDX(6, 8, 100)
	other := "idx:" + writeFile(t, in, "other-images", img) + "," + writeFile(t, in, "other-labels", lbl)
	img, _ = distinctIDX(12, 8, 300)
	unlabelled := "idx:" + writeFile(t, in, "unlabelled-images", img)
	for _, c := range []struct {
		name  string
		extra []string
		setup func()
		want  string
		kind  string // the manifest's record of the evaluation files
		file  string // the first of them
	}{
		// Test images without labels: no test accuracy, and no panic.
		{"unlabelled eval data", []string{"--eval-data", unlabelled}, func() {}, "--eval-data " + unlabelled + " (12 images; 24 training images)",
			"eval-data", "unlabelled-images"},
		{"held out", nil, func() {}, "held out: images 20–23 (the last 1/6, in file order) of " + spec + ", never trained on (4 images; 20 training images)",
			"held-out", "train-images-idx3-ubyte"},
		{"eval data", []string{"--eval-data", other}, func() {}, "--eval-data " + other + " (6 images; 24 training images)",
			"eval-data", "other-images"},
		{"test split", nil, func() {
			img, lbl := distinctIDX(5, 8, 200)
			writeFile(t, in, "t10k-images-idx3-ubyte", img)
			writeFile(t, in, "t10k-labels-idx1-ubyte", lbl)
		}, "the IDX test split " + filepath.Join(in, "t10k-images-idx3-ubyte") + "," + filepath.Join(in, "t10k-labels-idx1-ubyte") +
			" (5 images; 24 training images)", "test", "t10k-images-idx3-ubyte"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.setup()
			out := t.TempDir()
			args := append([]string{"--eval", "--weights", bundle, "--data", spec, "--classifier", clf, "--eval-steps", "2",
				"--eval-images", "2", "--fd-samples", "10", "--out", out, "--quiet"}, c.extra...)
			var stdout, stderr bytes.Buffer
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			md, _ := os.ReadFile(filepath.Join(out, "report.md"))
			if !strings.Contains(string(md), "Test images: "+c.want+".\n") || strings.Contains(string(md), "WARNING") {
				t.Errorf("report.md does not say %q:\n%s", c.want, md)
			}
			var js struct {
				Split    string   `json:"evaluation_split"`
				Accuracy *float64 `json:"classifier_test_accuracy"`
				Manifest struct {
					Inputs []struct{ Role, Path string }
				}
			}
			raw, _ := os.ReadFile(filepath.Join(out, "report.json"))
			if err := json.Unmarshal(raw, &js); err != nil || js.Split != c.want {
				t.Errorf("report.json: split %q (%v)", js.Split, err)
			}
			var evalFiles []string
			for _, in := range js.Manifest.Inputs {
				if in.Role == "data (evaluation: "+c.kind+")" {
					evalFiles = append(evalFiles, filepath.Base(in.Path))
				}
			}
			if len(evalFiles) == 0 || evalFiles[0] != c.file {
				t.Errorf("the manifest records evaluation files %v as %s, want %s first (inputs %+v)", evalFiles, c.kind, c.file, js.Manifest.Inputs)
			}
			if noLabels := strings.HasPrefix(c.name, "unlabelled"); noLabels != (js.Accuracy == nil) ||
				noLabels != strings.Contains(string(md), "no test accuracy") {
				t.Errorf("test accuracy %v in report.json with test labels %v", js.Accuracy, !noLabels)
			}
		})
	}
}
