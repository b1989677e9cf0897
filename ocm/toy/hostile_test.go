package toy

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/hostiletest"
	"ocm/sampler"
)

// tinyBundle is the file of a toy model small enough that a bundle of it is about
// 10 KB: dimension 2, width 4, one head layer of 2.
func tinyBundle(t testing.TB) *safetensors.File {
	s, err := sampler.NewSchedule(sampler.Linear, 50)
	if err != nil {
		t.Fatal(err)
	}
	m := NewModel(dev, "mog9", ocm.Mog9(), s, 4, []int{2}, 7)
	f := &safetensors.File{Metadata: m.metadata()}
	for _, p := range m.params() {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: p.Name, Shape: p.Value.Shape(), Data: p.Value.Data()})
	}
	return f
}

// writeWith writes f to dir/name with the metadata key set to value (a fresh, valid
// data checksum: only the sizes lie).
func writeWith(t testing.TB, f *safetensors.File, dir, name, key, value string) {
	md := map[string]string{}
	for k, v := range f.Metadata {
		md[k] = v
	}
	md[key] = value
	if err := safetensors.WriteFile(filepath.Join(dir, name), &safetensors.File{Tensors: f.Tensors, Metadata: md}, safetensors.F32); err != nil {
		t.Fatal(err)
	}
}

// TestHostileToyBundles: small bundles whose metadata asks for a huge model or
// schedule are refused in a child process in under 5 s and 200 MB, with one line:
// hidden=65536 (17 GB in the old NewToyMLP), head widths of 65536, and
// diffusion_steps 1e8 and 1e9 (3.1 GB, then a fatal out-of-memory before).
func TestHostileToyBundles(t *testing.T) {
	setup := func(dir string) {
		f := tinyBundle(t)
		writeWith(t, f, dir, "hidden.safetensors", "hidden", "65536")
		writeWith(t, f, dir, "heads.safetensors", "head_hidden", "65536,65536")
		writeWith(t, f, dir, "steps-1e8.safetensors", "diffusion_steps", "100000000")
		writeWith(t, f, dir, "steps-1e9.safetensors", "diffusion_steps", "1000000000")
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
		{Name: "hidden-65536", Want: "hidden 65536", Run: load("hidden.safetensors")},
		{Name: "head-hidden-65536", Want: "parameters, but the file holds", Run: load("heads.safetensors")},
		{Name: "diffusion-steps-1e8", Want: "diffusion_steps", Run: load("steps-1e8.safetensors")},
		{Name: "diffusion-steps-1e9", Want: "diffusion_steps", Run: load("steps-1e9.safetensors")},
	})
}

// TestToyBundleRefusesBadTensors: a bundle (with a valid checksum) holding a NaN or
// +Inf weight, a NaN in analytic.ms_eps, or a tensor the model lacks is refused by
// the tensor's name; the old Load accepted all four, and the NaN ones sampled NaN.
func TestToyBundleRefusesBadTensors(t *testing.T) {
	base := tinyBundle(t)
	cases := map[string]func(f *safetensors.File){
		`"backbone.net.0.weight"`: func(f *safetensors.File) { f.Tensors[0].Data[3] = float32(math.NaN()) },
		`"head.ocm.0.bias"`: func(f *safetensors.File) {
			t, _ := f.Get("head.ocm.0.bias")
			t.Data[0] = float32(math.Inf(1))
		},
		`"analytic.ms_eps"`: func(f *safetensors.File) {
			tab := make([]float32, 51)
			tab[7] = float32(math.NaN())
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "analytic.ms_eps", Shape: []int{51}, Data: tab})
		},
		`"extra.weight"`: func(f *safetensors.File) {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "extra.weight", Shape: []int{1}, Data: []float32{1}})
		},
	}
	for want, spoil := range cases {
		f := &safetensors.File{Metadata: base.Metadata}
		for _, tn := range base.Tensors {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: tn.Name, Shape: tn.Shape, Data: append([]float32(nil), tn.Data...)})
		}
		if _, err := Load(dev, "good", f); err != nil {
			t.Fatalf("the unspoilt bundle: %v", err)
		}
		spoil(f)
		_, err := Load(dev, "bad.safetensors", f)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.safetensors") {
			t.Errorf("spoilt %s: error %v", want, err)
		}
	}
}
