package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ocm/cudart"
	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm/images"
	rt "ocm/runtime"
	"ocm/sampler"
	"ocm/sampler/imagefile"
)

// smallImageBundle saves an untrained image bundle of 1×8×8 images.
func smallImageBundle(t *testing.T, dir string) string {
	t.Helper()
	s, _ := sampler.NewSchedule(sampler.Linear, 100)
	cfg := nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2}, NumRes: 1, Resolution: 8, TembIn: 16}
	m := images.NewModel(rt.NewCPU(rt.CPUOptions{}), "idx:test", cfg, s, images.HeadSimple, 1)
	m.MsEps = make([]float64, 101)
	p := filepath.Join(dir, "images.safetensors")
	if err := m.Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// idxImages returns an IDX image file of n images of side×side pixels.
func idxImages(n, side int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x803, uint32(n), uint32(side), uint32(side)})
	for i := range n * side * side {
		b.WriteByte(byte(i * 7))
	}
	return b.Bytes()
}

// TestImageBadInputs: bad image data, image flags and mismatched models are the
// user's mistakes: exit 2, one line, nothing written.
func TestImageBadInputs(t *testing.T) {
	in := t.TempDir()
	imgBundle := smallImageBundle(t, in)
	toyBundle := smallBundle(t, in)
	good := idxImages(8, 8)
	raw, _ := os.ReadFile(imgBundle)
	badConfig := bytes.Replace(raw, []byte(`\"ch\":32`), []byte(`\"ch\":33`), 1)
	if bytes.Equal(badConfig, raw) {
		t.Fatal("fixture: no ch in the bundle's unet_config")
	}
	files := map[string]string{
		"idx8":             writeFile(t, in, "8.idx", good),
		"idx16":            writeFile(t, in, "16.idx", idxImages(8, 16)),
		"idx10":            writeFile(t, in, "10.idx", idxImages(8, 10)),
		"truncated":        writeFile(t, in, "trunc.idx", good[:len(good)-5]),
		"badmagic":         writeFile(t, in, "magic.idx", append([]byte{0, 0, 9, 9}, good[4:]...)),
		"cifar":            writeFile(t, in, "data_batch_1.bin", []byte("not a cifar batch")),
		"badconfig":        writeFile(t, in, "badconfig.safetensors", badConfig),
		"flipped":          writeFile(t, in, "flipped.safetensors", flipLast(raw)),
		"badcfg":           writeFile(t, in, "bad.json", []byte(`{"batch": 4, "batch": 8}`)),
		"goodcfg":          writeFile(t, in, "good.json", []byte(`{"batch": 4}`)),
		"truncated bundle": writeFile(t, in, "truncated.safetensors", raw[:len(raw)-100]),
	}
	cases := []struct {
		name string
		args []string
	}{
		{"truncated IDX", []string{"--train", "--data", "idx:" + files["truncated"]}},
		{"IDX with a bad magic number", []string{"--train", "--data", "idx:" + files["badmagic"]}},
		{"missing IDX", []string{"--train", "--data", "idx:" + filepath.Join(in, "none.idx")}},
		{"corrupt CIFAR batch", []string{"--train", "--data", "cifar10:" + files["cifar"]}},
		{"missing PNG folder", []string{"--train", "--data", "png:" + filepath.Join(in, "none")}},
		{"unknown UNet", []string{"--train", "--data", "idx:" + files["idx8"], "--unet", "huge"}},
		{"images that do not fit the UNet", []string{"--train", "--data", "idx:" + files["idx10"]}},
		{"batch larger than the data set", []string{"--train", "--data", "idx:" + files["idx8"], "--batch", "9"}},
		{"image model with mixture data", []string{"--fit", "--weights", imgBundle, "--data", "mog9"}},
		{"image data with a toy model", []string{"--fit", "--weights", toyBundle, "--data", "idx:" + files["idx8"]}},
		{"image size differs from the model", []string{"--fit", "--weights", imgBundle, "--data", "idx:" + files["idx16"]}},
		{"impossible UNet config in a bundle", []string{"--sample", "--weights", files["badconfig"]}},
		{"flipped weight byte in an image bundle", []string{"--sample", "--weights", files["flipped"]}},
		{"truncated image bundle", []string{"--sample", "--weights", files["truncated bundle"]}},
		{"config with a duplicate key", []string{"--train", "--data", "idx:" + files["idx8"], "--config", files["badcfg"]}},
		{"missing config", []string{"--train", "--data", "idx:" + files["idx8"], "--config", filepath.Join(in, "none.json")}},
		{"data set smaller than the Analytic-DPM batch", []string{"--fit", "--weights", imgBundle, "--data", "idx:" + files["idx8"], "--batch", "4"}},
		{"unknown head", []string{"--train", "--data", "idx:" + files["idx8"], "--head", "fancy"}},
		{"head without train or fit", []string{"--sample", "--weights", imgBundle, "--head", "complex"}},
		{"config without train or fit", []string{"--sample", "--weights", imgBundle, "--config", files["goodcfg"]}},
		{"clip-sigma-idx below -1", []string{"--sample", "--clip-sigma-idx", "-2"}},
		{"unknown embedded model", []string{"--sample", "--model", "imagenet"}},
		{"too few eval images", []string{"--eval", "--eval-images", "1"}},
		{"one-step NLL", []string{"--eval", "--weights", imgBundle, "--eval-steps", "1,10"}},
		{"steps beyond N of an image model", []string{"--sample", "--weights", imgBundle, "--steps", "500"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectBadInput(t, c.args) })
	}
}

// flipLast returns a copy of data with one bit of its last byte (a weight) flipped.
func flipLast(data []byte) []byte {
	b := bytes.Clone(data)
	b[len(b)-1] ^= 0x10
	return b
}

// TestImageSampleRecordsSettings samples an image bundle and checks the grid, the
// per-image files, the .npz and that the settings are in the sidecar and the PNG.
func TestImageSampleRecordsSettings(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	bundle := smallImageBundle(t, in)
	var stdout, stderr bytes.Buffer
	args := []string{"--sample", "--weights", bundle, "--steps", "3", "--num-samples", "5", "--sampler", "ddim",
		"--save-each", "--npz", "--out", out, "--quiet"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	text, err := imagefile.ReadText(filepath.Join(out, "samples.png"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "samples.json"))
	var sidecar map[string]any
	if err := json.Unmarshal(raw, &sidecar); err != nil {
		t.Fatalf("samples.json: %v", err)
	}
	for k, v := range map[string]string{"steps": "3", "sampler": "ddim", "variance_type": "ocm",
		"num_samples": "5", "clip_pixel": "1", "seed": "1234", "eta": "0"} {
		if text["ocm."+k] != v {
			t.Errorf("PNG text ocm.%s = %q, want %q", k, text["ocm."+k], v)
		}
		if got := fmt.Sprint(sidecar[k]); got != v {
			t.Errorf("samples.json %s = %s, want %s", k, got, v)
		}
	}
	if len(text["ocm.model_sha256"]) != 64 || !strings.HasPrefix(text["ocm.weights"], "EMA") {
		t.Errorf("weights not recorded: %q, %q", text["ocm.model_sha256"], text["ocm.weights"])
	}
	for _, f := range []string{"samples_0000.png", "samples_0004.png", "samples.npz"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty", f)
		}
	}
	if !strings.Contains(stdout.String(), "5 idx:test images (EMA weights)") || !strings.Contains(stdout.String(), "3 steps") {
		t.Errorf("summary line %q", stdout.String())
	}
}

// TestImageConfigFile trains from a --config file: its UNet, schedule and budget are
// used, and a flag given on the command line wins over the file.
func TestImageConfigFile(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	// 77 images: the last 12 are held out for --eval, and --fit's Analytic-DPM
	// table draws 64 at a time from the other 65.
	idx := writeFile(t, in, "8.idx", idxImages(77, 8))
	cfg := writeFile(t, in, "run.json", []byte(`{"unet": {"in_ch": 1, "ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1,
		"attn_resolutions": [], "resolution": 8, "dropout": 0, "temb_in": 16},
		"head": "complex", "beta_schedule": "cosine", "num_train_timesteps": 50, "train_steps": 2, "batch": 8}`))
	var stdout, stderr bytes.Buffer
	args := []string{"--train", "--data", "idx:" + idx, "--config", cfg, "--batch", "4", "--out", out, "--quiet"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := safetensors.ReadFile(filepath.Join(out, defaultImageBundleName))
	if err != nil {
		t.Fatal(err)
	}
	md := b.Metadata
	if !strings.Contains(md["unet_config"], `"ch_mult":[1,2]`) || md["schedule"] != "cosine" || md["diffusion_steps"] != "50" {
		t.Errorf("config not applied: unet %s, schedule %s, N %s", md["unet_config"], md["schedule"], md["diffusion_steps"])
	}
	if md["train.backbone_steps"] != "2" || md["train.batch"] != "4" {
		t.Errorf("steps %s (want the file's 2), batch %s (want the flag's 4)", md["train.backbone_steps"], md["train.batch"])
	}
	if _, ok := b.Get("head.ocm.block.conv1.weight"); md["head"] != "complex" || !ok {
		t.Errorf("the config's complex heads were not made: head %q", md["head"])
	}
	// --head on --fit replaces the bundle's heads with heads of that form, in a new
	// bundle NAME-fit (the input is left as it was).
	args = []string{"--fit", "--weights", filepath.Join(out, defaultImageBundleName), "--data", "idx:" + idx,
		"--fit-steps", "1", "--batch", "4", "--head", "simple", "--out", out, "--quiet"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if b, err = safetensors.ReadFile(filepath.Join(out, "ocm-images-fit.safetensors")); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Get("head.ocm.block.conv1.weight"); b.Metadata["head"] != "simple" || ok {
		t.Errorf("--head simple on --fit left head %q", b.Metadata["head"])
	}
	if in, err := safetensors.ReadFile(filepath.Join(out, defaultImageBundleName)); err != nil || in.Metadata["head"] != "complex" {
		t.Errorf("--fit changed its input bundle: %v, head %q", err, in.Metadata["head"])
	}
}

// TestDeviceFailuresAreOneLine: a CUDA out-of-memory or a failed CUDA call raised as a
// panic on the device becomes a one-line error; other panics are left alone.
func TestDeviceFailuresAreOneLine(t *testing.T) {
	oom := &cudart.OutOfMemoryError{Requested: 1 << 30, Free: 1 << 20, Total: 80 << 30}
	if err := cudart.DeviceFailure(oom); err == nil || !strings.Contains(oneLine(err), "requested 1.0 GiB, 1.0 MiB free of 80.0 GiB") {
		t.Errorf("out of memory: %v", err)
	}
	if err := cudart.DeviceFailure(&cudart.Error{Call: "cudaLaunchKernel", Code: 719, Name: "cudaErrorLaunchFailure"}); err == nil {
		t.Error("a failed CUDA call is not recognised")
	}
	if cudart.DeviceFailure("index out of range") != nil || cudart.DeviceFailure(errors.New("other")) != nil {
		t.Error("a programming error was turned into a user message")
	}
}

// TestDefaultSampleCommand runs the README's main job, shortened: the embedded image
// model draws a grid and records where it came from.
func TestDefaultSampleCommand(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--sample", "--steps", "2", "--num-samples", "4", "--out", out, "--quiet"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	text, err := imagefile.ReadText(filepath.Join(out, "samples.png"))
	if err != nil {
		t.Fatal(err)
	}
	if text["ocm.model"] != "embedded "+defaultModel || text["ocm.dataset"] != "fashion-mnist" || text["ocm.variance_type"] != "ocm" {
		t.Errorf("default sample: model %q, dataset %q, covariance %q", text["ocm.model"], text["ocm.dataset"], text["ocm.variance_type"])
	}
	// One step (K = 1) is one jump from noise to x̂0.
	if code := run([]string{"--sample", "--steps", "1", "--num-samples", "4", "--out", out, "--quiet"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--steps 1: exit %d: %s", code, stderr.String())
	}
	if text, err = imagefile.ReadText(filepath.Join(out, "samples.png")); err != nil || text["ocm.steps"] != "1" {
		t.Errorf("--steps 1 recorded steps %q (%v)", text["ocm.steps"], err)
	}
}
