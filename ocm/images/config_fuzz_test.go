package images

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseConfig checks that ParseConfig never panics, that it refuses with a
// one-line *ConfigError naming the file, and that every configuration it accepts
// passes Check and survives json.Marshal and a second parse unchanged. Seeded from
// testdata/config-unet-s.json, DefaultConfig and testdata/fuzz/FuzzParseConfig;
// skipped under -short.
func FuzzParseConfig(f *testing.F) {
	if testing.Short() {
		f.Skip("fuzz seeds skipped under -short")
	}
	example, err := os.ReadFile(configExample)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	def, err := json.Marshal(DefaultConfig(3, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(def)
	for _, s := range []string{
		`{}`,
		`{"head": "complex"}`,
		`{"train_steps": 10, "batch": 4, "lr": 0.001, "ema_decay": 0, "dropout": false}`,
		`{"beta_schedule": "cosine", "num_train_timesteps": 21, "ms_eps_per_step": 4096}`,
		`{"unet": ` + configUNet("") + `}`,
		`{"unet": ` + configUNet(`, "variant": "iddpm", "num_heads": 4`) + `}`,
		`{"batch": 8, "batch": 8}`,
		`{"unet": ` + configUNet(`, "ch": 32`) + `}`,
		`{"batch": 2.5}`,
		`{"train_steps": 1e30}`,
		`{"lr": 1e-50}`,
		`{"Batch": 8}`,
		`{} {}`,
		"{\"beta_schedule\": \"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("fuzz.json", data)
		if err != nil {
			var ce *ConfigError
			msg := err.Error()
			if !errors.As(err, &ce) || ce.File != "fuzz.json" || !strings.HasPrefix(msg, "fuzz.json: ") || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("refused %q with %T %q: want a one-line *ConfigError naming the file", data, err, msg)
			}
			return
		}
		if err := c.Check(); err != nil {
			t.Fatalf("accepted %q, but Check says %v", data, err)
		}
		if c.UNet != nil {
			if err := CheckConfig(*c.UNet); err != nil {
				t.Fatalf("accepted %q with a UNet CheckConfig refuses: %v", data, err)
			}
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("accepted %q but cannot marshal it: %v", data, err)
		}
		back, err := ParseConfig("fuzz.json", out)
		if err != nil {
			t.Fatalf("accepted %q but not its re-encoding %s: %v", data, out, err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("%q parsed to %+v, its re-encoding %s to %+v", data, c, out, back)
		}
		if st := DefaultSettings(); c.Apply(st).Seed != st.Seed {
			t.Fatal("Apply changed the seed")
		}
	})
}
