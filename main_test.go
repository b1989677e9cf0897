package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ocm/ocm"
	"ocm/ocm/toy"
	rt "ocm/runtime"
	"ocm/sampler"
)

// writeFile writes data into dir/name and returns the path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// smallBundle saves an untrained toy bundle (valid format, tiny widths).
func smallBundle(t *testing.T, dir string) string {
	t.Helper()
	dev := rt.NewCPU(rt.CPUOptions{})
	s, _ := sampler.NewSchedule(sampler.Linear, 1000)
	m := toy.NewModel(dev, "mog9", ocm.Mog9(), s, 16, []int{8}, 1)
	m.MsEps = make([]float64, 1001)
	m.ExactMsEps = make([]float64, 1001)
	p := filepath.Join(dir, "small.safetensors")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBadInputs runs the command on bad flags, values and files: every one must exit
// with status 2, print exactly one line, and leave the output folder empty.
func TestBadInputs(t *testing.T) {
	in := t.TempDir()
	bundle := smallBundle(t, in)
	good, _ := os.ReadFile(bundle)
	flipped := bytes.Clone(good)
	flipped[20] ^= 0x5a // inside the JSON header
	wrongShape := bytes.Replace(bytes.Clone(good), []byte(`"shape":[16,66]`), []byte(`"shape":[66,16]`), 1)
	if bytes.Equal(wrongShape, good) {
		t.Fatal("fixture: no backbone.net.0.weight shape to change")
	}
	files := map[string]string{
		"malformed":  writeFile(t, in, "malformed.json", []byte(`{"weights": [1], "means": [[0, 0]`)),
		"notpd":      writeFile(t, in, "notpd.json", []byte(`{"weights":[1],"means":[[0,0]],"covariances":[[[1,2],[2,1]]]}`)),
		"dims":       writeFile(t, in, "dims.json", []byte(`{"weights":[1],"means":[[0,0,0]],"covariances":[[[1,0],[0,1]]]}`)),
		"mix3d":      writeFile(t, in, "mix3d.json", []byte(`{"weights":[1],"means":[[0,0,0]],"covariances":[[[1,0,0],[0,1,0],[0,0,1]]]}`)),
		"empty":      writeFile(t, in, "empty.safetensors", nil),
		"truncated":  writeFile(t, in, "truncated.safetensors", good[:len(good)/2]),
		"flipped":    writeFile(t, in, "flipped.safetensors", flipped),
		"pickle":     writeFile(t, in, "model.pt", append([]byte{0x80, 0x02}, []byte("cnumpy\n")...)),
		"notbundle":  writeFile(t, in, "plain.safetensors", []byte("\x10\x00\x00\x00\x00\x00\x00\x00{}              ")),
		"wrongshape": writeFile(t, in, "wrongshape.safetensors", wrongShape),
		"afile":      writeFile(t, in, "afile", []byte("x")),
		"ckdir":      filepath.Dir(writeFile(t, t.TempDir(), "latest", []byte("../x"))),
	}
	cases := []struct {
		name string
		args []string
	}{
		{"steps zero", []string{"--sample", "--steps", "0"}},
		{"steps not a number", []string{"--sample", "--steps", "ten"}},
		{"steps beyond N", []string{"--sample", "--steps", "5000", "--weights", bundle}},
		{"unknown variance type", []string{"--sample", "--variance-type", "optimal"}},
		{"unknown sampler", []string{"--sample", "--sampler", "euler"}},
		{"eta out of range", []string{"--sample", "--eta", "2"}},
		{"eta NaN", []string{"--sample", "--sampler", "ddim", "--eta", "NaN"}},
		{"learning rate NaN", []string{"--train", "--lr", "NaN"}},
		{"batch beyond memory", []string{"--train", "--batch", "1000000"}},
		{"steps beyond the cap", []string{"--sample", "--steps", "100001"}},
		{"train over existing weights", []string{"--train", "--weights", bundle, "--train-steps", "2"}},
		{"save path is a folder", []string{"--train", "--save", in, "--train-steps", "2"}},
		{"unknown device", []string{"--sample", "--device", "gpu"}},
		{"cuda unavailable", []string{"--sample", "--device", "cuda"}},
		{"unknown beta schedule", []string{"--train", "--beta-schedule", "sigmoid"}},
		{"unknown spacing", []string{"--sample", "--timestep-spacing", "leading"}},
		{"unknown flag", []string{"--sample", "--temperature", "2"}},
		{"stray argument", []string{"--sample", "samples.png"}},
		{"no mode", []string{"--steps", "10"}},
		{"num-samples one", []string{"--sample", "--num-samples", "1"}},
		{"negative threads", []string{"--sample", "--threads", "-1"}},
		{"learning rate", []string{"--train", "--lr", "5"}},
		{"bad eval steps", []string{"--eval", "--eval-steps", "2,x"}},
		{"too few diffusion steps", []string{"--train", "--num-train-timesteps", "10"}},
		{"ddim with large variance", []string{"--sample", "--sampler", "ddim", "--variance-type", "large", "--weights", bundle}},
		{"exact score with small", []string{"--sample", "--variance-type", "small", "--exact-score", "--weights", bundle}},
		{"missing mixture file", []string{"--train", "--data", filepath.Join(in, "nope.json")}},
		{"malformed mixture JSON", []string{"--train", "--data", files["malformed"]}},
		{"non-positive-definite mixture", []string{"--train", "--data", files["notpd"]}},
		{"mixture dimensions disagree", []string{"--train", "--data", files["dims"]}},
		{"data dimension differs from weights", []string{"--fit", "--weights", bundle, "--data", files["mix3d"]}},
		{"missing weights", []string{"--sample", "--weights", filepath.Join(in, "nope.safetensors")}},
		{"empty weights", []string{"--sample", "--weights", files["empty"]}},
		{"truncated weights", []string{"--sample", "--weights", files["truncated"]}},
		{"corrupted weights header", []string{"--sample", "--weights", files["flipped"]}},
		{"pickle weights", []string{"--sample", "--weights", files["pickle"]}},
		{"safetensors but not a bundle", []string{"--sample", "--weights", files["notbundle"]}},
		{"tensor of the wrong shape", []string{"--sample", "--weights", files["wrongshape"]}},
		{"weights is a folder", []string{"--sample", "--weights", in}},
		{"negative checkpoint interval", []string{"--train", "--checkpoint-every", "-1"}},
		{"resume without train or fit", []string{"--sample", "--resume"}},
		{"resume without a checkpoint", []string{"--train", "--resume", "--checkpoint-dir", filepath.Join(in, "none")}},
		{"resume from a broken latest", []string{"--train", "--resume", "--checkpoint-dir", files["ckdir"]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectBadInput(t, c.args) })
	}
}

// TestUnwritableOutput: an output folder that cannot be made is the user's mistake.
func TestUnwritableOutput(t *testing.T) {
	in := t.TempDir()
	bundle := smallBundle(t, in)
	afile := writeFile(t, in, "afile", []byte("x"))
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--sample", "--weights", bundle, "--out", filepath.Join(afile, "sub"), "--quiet"}, &stdout, &stderr); code != 2 {
		t.Errorf("unwritable output folder: exit %d, stderr %q", code, stderr.String())
	}
}

// expectBadInput runs the command with args (plus --out and --quiet): it must exit
// with status 2, print exactly one line and leave the output folder empty.
func expectBadInput(t *testing.T, args []string) {
	t.Helper()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--out", out, "--quiet"), &stdout, &stderr)
	msg := strings.TrimRight(stderr.String(), "\n")
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr %q", code, msg)
	}
	if msg == "" || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "ocm: ") {
		t.Errorf("want one line starting with 'ocm: ', got %q", msg)
	}
	if strings.Contains(msg, "goroutine") || strings.Contains(msg, "panic") {
		t.Errorf("panic trace: %q", msg)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("left output behind: %v", entries)
	}
}

// TestSampleWritesOutputs samples a small bundle and checks the files and the summary.
func TestSampleWritesOutputs(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	bundle := smallBundle(t, in)
	var stdout, stderr bytes.Buffer
	code := run([]string{"--sample", "--weights", bundle, "--steps", "5", "--num-samples", "50", "--out", out, "--quiet"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"samples.csv", "samples.svg", "samples.json"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "samples.csv"))
	if lines := strings.Count(string(csv), "\n"); lines != 51 {
		t.Errorf("samples.csv has %d lines, want header + 50", lines)
	}
	if !strings.Contains(stdout.String(), "50 samples") {
		t.Errorf("summary line %q", stdout.String())
	}
}

// TestResumeFromTheCommandLine trains 3 steps with a checkpoint each step, then: a
// resume with another batch size or without --train is the user's mistake (exit 2,
// one line); with --train --fit it skips the finished training, fits and writes the
// bundle.
func TestResumeFromTheCommandLine(t *testing.T) {
	out := t.TempDir()
	base := []string{"--train", "--train-steps", "3", "--batch", "4", "--num-train-timesteps", "100",
		"--checkpoint-every", "1", "--out", out, "--quiet"}
	var stdout, stderr bytes.Buffer
	if code := run(base, &stdout, &stderr); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr.String())
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"other batch", append(slices.Clone(base), "--resume", "--batch", "8"), "batch 4"},
		{"fit only", []string{"--fit", "--resume", "--out", out, "--checkpoint-dir", filepath.Join(out, "checkpoints", "ocm-toy"), "--quiet"}, "checkpoint of --train"},
	} {
		stderr.Reset()
		code := run(c.args, &stdout, &stderr)
		msg := strings.TrimRight(stderr.String(), "\n")
		if code != 2 || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: exit %d, %q; want 2 and one line with %q", c.name, code, msg, c.want)
		}
	}
	stdout.Reset()
	args := append(slices.Clone(base), "--fit", "--fit-steps", "2", "--resume")
	if code := run(args, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "wrote") {
		t.Fatalf("resume: exit %d: %s", code, stderr.String())
	}
	latest, _ := os.ReadFile(filepath.Join(out, "checkpoints", "ocm-toy", "latest"))
	if got := strings.TrimSpace(string(latest)); got != "ckpt-fit-12.safetensors" {
		t.Errorf("latest names %q after fitting 6 heads 2 steps each", got)
	}
}

// TestAutoDeviceFallsBack: without CUDA libraries, --device auto runs on the CPU and
// says why in one line; --device cuda is refused (in TestBadInputs).
func TestAutoDeviceFallsBack(t *testing.T) {
	if _, err := openCUDA(); err == nil {
		t.Skip("a CUDA device is available here")
	}
	in, out := t.TempDir(), t.TempDir()
	bundle := smallBundle(t, in)
	var stdout, stderr bytes.Buffer
	code := run([]string{"--sample", "--weights", bundle, "--steps", "2", "--num-samples", "10", "--out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "ocm: device cpu") || !strings.Contains(stderr.String(), "no GPU (") {
		t.Errorf("stderr %q does not say it fell back to the CPU and why", stderr.String())
	}
}
