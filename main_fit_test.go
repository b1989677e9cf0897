package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ocm/nn/safetensors"
	"ocm/ocm/images"
)

// TestFitFlagsBadInputs: bad values of the fit's flags, and a preset whose batch the
// data cannot fill, are one line, exit 2, nothing written.
func TestFitFlagsBadInputs(t *testing.T) {
	in := t.TempDir()
	img := smallImageBundle(t, in)
	idx := writeFile(t, in, "16.idx", idxImages(16, 8))
	fit := []string{"--fit", "--weights", img, "--data", "idx:" + idx, "--fit-steps", "1"}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"unknown preset", append(fit, "--fit-preset", "paper")},
		{"unknown backbone mode", append(fit, "--fit-backbone", "dropout")},
		{"one curve image", append(fit, "--curve-images", "1")},
		{"negative curve images", append(fit, "--curve-images", "-3")},
		{"negative cadence", append(fit, "--curve-every", "-1")},
		{"the official batch of 128 on 16 images", append(fit, "--fit-preset", "official")},
		{"probes on a toy fit", []string{"--fit", "--model", "mog9", "--probes", "3"}},
		{"a fit preset on a toy fit", []string{"--fit", "--model", "mog9", "--fit-preset", "official"}},
	} {
		t.Run(c.name, func(t *testing.T) { expectBadInput(t, c.args) })
	}
}

// TestFitWritesLearningCurve: --fit on images with --probes, --fit-preset official
// and its batch overridden writes the learning curve beside the bundle, and the
// bundle records the fit's settings and the curve's points.
func TestFitWritesLearningCurve(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	img := smallImageBundle(t, in)
	idx := writeFile(t, in, "24.idx", idxImages(24, 8))
	cfg := writeFile(t, in, "run.json", []byte(`{"ms_eps_per_step": 1}`))
	args := []string{"--fit", "--weights", img, "--data", "idx:" + idx, "--config", cfg, "--fit-steps", "2", "--batch", "4",
		"--fit-preset", "official", "--probes", "2", "--curve-images", "3", "--curve-every", "1", "--out", out, "--quiet"}
	var stdout, stderr bytes.Buffer
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, name := range []string{"fit-curve.json", "fit-curve.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil || !strings.Contains(stdout.String(), name) {
			t.Errorf("%s: %v (stdout %q)", name, err, stdout.String())
		}
	}
	b, err := safetensors.ReadFile(filepath.Join(out, "images-fit.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	md := b.Metadata
	want := map[string]string{"train.fit_preset": "official", "train.fit_batch": "4", "train.fit_lr": "0.0001",
		"train.fit_probes": "2", "train.fit_backbone": "train", "train.fit_heads": "joint", "train.curve_images": "3"}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
	c, err := images.ParseCurve(md["train.fit_curve"])
	if err != nil || len(c.Points) != 3 || c.Images != 3 || !strings.Contains(c.Split, "held-out") && !strings.Contains(c.Split, "last") {
		t.Errorf("curve %+v, %v: want steps 0, 1, 2 on 3 held-out images", c, err)
	}
}
