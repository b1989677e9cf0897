package nn

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// FuzzDiffusersArch checks that DiffusersArch never panics, that its errors are one
// line, and that every config it accepts is one NewUNet builds (validate would
// panic otherwise) with a parameter bound that does not overflow.
func FuzzDiffusersArch(f *testing.F) {
	base, err := os.ReadFile("testdata/ckpt_diffusers_small/config.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	f.Add([]byte(`{"_class_name": "UNet2DModel", "sample_size": 32}`))
	f.Add([]byte(strings.Replace(string(base), `"default"`, `"scale_shift"`, 1)))
	f.Add([]byte(`{"_class_name": "UNet2DModel", "sample_size": [64, 64], "attention_head_dim": null, "block_out_channels": [128, 256, 256, 256], "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"], "freq_shift": 1, "flip_sin_to_cos": false, "downsample_padding": 0, "norm_eps": 1e-06}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := DiffusersArch(raw)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error %q", err)
			}
			return
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("accepted %+v, which NewUNet refuses: %v", a.Config, r)
				}
			}()
			a.Config.validate()
		}()
		if n := minParams(a.Config); n <= 0 {
			t.Fatalf("parameter bound %d for %+v", n, a.Config)
		}
		if a.AttnHeadDim > 0 {
			for _, m := range a.Config.Mult {
				if (a.Config.Ch*m)%a.AttnHeadDim != 0 {
					t.Fatal(fmt.Sprint("head dim does not divide ", a.Config.Ch*m))
				}
			}
		}
	})
}
