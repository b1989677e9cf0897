package images

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm/hostiletest"
)

// TestHostileImageBundle: bundles of about a kilobyte whose unet_config asks for
// ch 1024 × mult 4 (the old Load allocated 4.1 GB, then died; refused by
// MaxUNetParams) or ch 256 × mult 4 (under it, but more than the file holds), and one whose
// diffusion_steps is 1e9, are refused in a child process in under 5 s and 200 MB
// with one line naming the metadata.
func TestHostileImageBundle(t *testing.T) {
	setup := func(dir string) {
		m := tinyModel(t, 1)
		md := m.metadata()
		one := []safetensors.Tensor{{Name: "backbone.conv_in.weight", Shape: []int{1}, Data: []float32{0}}}
		for name, ch := range map[string]int{"wide.safetensors": 1024, "wider-than-file.safetensors": 256} {
			cfg, _ := json.Marshal(nn.UNetConfig{InCh: 1, Ch: ch, Mult: []int{4}, NumRes: 1, Resolution: 8, TembIn: 16})
			md["unet_config"] = string(cfg)
			if err := safetensors.WriteFile(filepath.Join(dir, name), &safetensors.File{Tensors: one, Metadata: md}, safetensors.F32); err != nil {
				t.Fatal(err)
			}
		}
		f := m.file()
		f.Metadata["diffusion_steps"] = "1000000000"
		if err := safetensors.WriteFile(filepath.Join(dir, "steps.safetensors"), f, safetensors.F32); err != nil {
			t.Fatal(err)
		}
	}
	load := func(name string) func(dir string) error {
		return func(dir string) error {
			path := filepath.Join(dir, name)
			f, err := safetensors.ReadFile(path)
			if err != nil {
				return err
			}
			_, err = Load(dev, path, f)
			return err
		}
	}
	hostiletest.Run(t, setup, []hostiletest.Case{
		{Name: "ch-1024-mult-4", Want: "unet_config: a UNet of ch 1024, ch_mult [4], num_res_blocks 1 has at least", Run: load("wide.safetensors")},
		{Name: "ch-256-mult-4", Want: "unet_config (ch 256, ch_mult [4], num_res_blocks 1) describes a model of", Run: load("wider-than-file.safetensors")},
		{Name: "diffusion-steps-1e9", Want: "diffusion_steps", Run: load("steps.safetensors")},
	})
}

// TestImageBundleRefusesNonFinite: a bundle (valid checksum) with a NaN weight or
// a NaN in analytic.ms_eps is refused at load by the tensor's name; the old Load
// took both, and the NaN weight sampled an all-black image with exit 0.
func TestImageBundleRefusesNonFinite(t *testing.T) {
	for _, name := range []string{"backbone.conv_in.weight", "analytic.ms_eps"} {
		m := tinyModel(t, 2)
		m.MsEps = make([]float64, m.Sched.N+1)
		f := m.file()
		if _, err := Load(dev, "good", f); err != nil {
			t.Fatal(err)
		}
		tn, _ := f.Get(name)
		tn.Data = append([]float32(nil), tn.Data...)
		tn.Data[1] = float32(math.NaN())
		_, err := Load(dev, "bad.safetensors", f)
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) || !strings.Contains(err.Error(), "non-finite") {
			t.Errorf("NaN in %s: %v", name, err)
		}
	}
}
