package images

import (
	"strings"
	"testing"

	"ocm/nn/safetensors"
	"ocm/sampler"
)

// FuzzLoadMetadata builds image models from fuzzed bundle metadata (the UNet
// configuration JSON, diffusion steps, schedule, head) over the tensors of a tiny
// model: Load must never panic, must refuse with one line, and a model it accepts
// must have its parameters in the file (so nothing was allocated beyond what the
// file holds).
func FuzzLoadMetadata(f *testing.F) {
	sched, err := sampler.NewSchedule(sampler.Linear, 100)
	if err != nil {
		f.Fatal(err)
	}
	base := NewModel(dev, "test", tinyConfig(), sched, HeadSimple, 1).file()
	md := base.Metadata
	f.Add(md["unet_config"], md["diffusion_steps"], md["schedule"], md["head"])
	f.Add(`{"in_ch":1,"ch":1024,"ch_mult":[4],"num_res_blocks":1,"resolution":8,"temb_in":16}`, "1000000000", "linear", "simple")
	f.Add(`{"in_ch":1,"ch":32,"ch_mult":[16,16,16],"num_res_blocks":8,"resolution":8,"temb_in":4096,"variant":"iddpm","num_heads":64}`, "100000", "cosine", "complex")
	f.Add(`{"in_ch":1,"ch":32,"ch_mult":[1,2],"num_res_blocks":1,"resolution":8,"temb_in":16,"attn_resolutions":[4]}`, "21", "cosine", "complex")
	f.Fuzz(func(t *testing.T, unet, steps, schedule, head string) {
		meta := map[string]string{}
		for k, v := range md {
			meta[k] = v
		}
		meta["unet_config"], meta["diffusion_steps"], meta["schedule"], meta["head"] = unet, steps, schedule, head
		file := &safetensors.File{Tensors: base.Tensors, Metadata: meta}
		m, err := Load(dev, "fuzz", file)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		for _, p := range m.params() {
			if _, ok := file.Get(p.Name); !ok {
				t.Fatalf("accepted a model with parameter %s, which the file lacks", p.Name)
			}
		}
	})
}
