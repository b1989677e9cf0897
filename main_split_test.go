package main

import "testing"

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
