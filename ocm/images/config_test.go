package images

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"ocm/nn"
	"ocm/ocm"
	"ocm/sampler"
)

// configExample is the example configuration of the README: the reference unet-s
// trained longer on the cosine schedule.
const configExample = "testdata/config-unet-s.json"

// configUNetJSON is a valid "unet" object (the small preset at 1×28×28) with the
// placeholder X at the end of its fields, for cases that add or change one.
const configUNetJSON = `{"in_ch": 1, "ch": 32, "ch_mult": [1, 2, 2], "num_res_blocks": 1, "attn_resolutions": [], "resolution": 28, "dropout": 0, "temb_in": 32X}`

func configUNet(extra string) string { return strings.Replace(configUNetJSON, "X", extra, 1) }

func TestParseConfigExample(t *testing.T) {
	c, err := LoadConfig(configExample)
	if err != nil {
		t.Fatal(err)
	}
	ema, dropout := 0.9999, true
	want := &Config{UNet: &nn.UNetConfig{InCh: 1, Ch: 64, Mult: []int{1, 2, 2}, NumRes: 2, AttnRes: []int{7},
		Resolution: 28, Dropout: 0.1, TembIn: 64},
		Head: "simple", Schedule: "cosine", DiffusionSteps: 1000, TrainSteps: 20000, FitSteps: 2000, Batch: 128, LR: 0.0002,
		EMADecay: &ema, Dropout: &dropout, MsEpsPerStep: 32}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("parsed\n%+v\nwant\n%+v", c, want)
	}
	if !reflect.DeepEqual(*c.UNet, nn.UNetS()) {
		t.Errorf("the example's unet is not unet-s: %+v", *c.UNet)
	}
	u, err := c.ApplyUNet(nn.UNetS())
	if err != nil || !reflect.DeepEqual(u, nn.UNetS()) {
		t.Errorf("ApplyUNet = %+v, %v; want unet-s", u, err)
	}
}

func TestParseConfigValid(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       Config
	}{
		{"empty object", `{}`, Config{}},
		{"whitespace around", " \n\t{ } \n", Config{}},
		{"one setting", `{"train_steps": 10}`, Config{TrainSteps: 10}},
		{"complex head", `{"head": "complex"}`, Config{Head: "complex"}},
		{"bounds", `{"train_steps": 10000000, "fit_steps": 1, "batch": 65536, "num_train_timesteps": 21, "ms_eps_per_step": 4096}`,
			Config{TrainSteps: 10000000, FitSteps: 1, Batch: 65536, DiffusionSteps: 21, MsEpsPerStep: 4096}},
		{"ema 0 is kept", `{"ema_decay": 0}`, Config{EMADecay: new(0.0)}},
		{"dropout false is kept", `{"dropout": false}`, Config{Dropout: new(false)}},
		{"escaped key and value", `{"beta_sched\u0075le": "lin\u0065ar"}`, Config{Schedule: "linear"}},
		{"integer-valued float for a float", `{"lr": 1e-3}`, Config{LR: 0.001}},
		{"unet without attn_resolutions", `{"unet": {"in_ch": 3, "ch": 32, "ch_mult": [1, 2], "num_res_blocks": 1, "resolution": 32, "dropout": 0.1, "temb_in": 32}}`,
			Config{UNet: &nn.UNetConfig{InCh: 3, Ch: 32, Mult: []int{1, 2}, NumRes: 1, AttnRes: []int{}, Resolution: 32, Dropout: 0.1, TembIn: 32}}},
		{"attention at the lowest level", `{"unet": ` + strings.Replace(configUNet(""), `[]`, `[7, 28]`, 1) + `}`,
			Config{UNet: &nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2, 2}, NumRes: 1, AttnRes: []int{7, 28}, Resolution: 28, TembIn: 32}}},
		{"improved DDPM", `{"unet": ` + configUNet(`, "variant": "iddpm", "num_heads": 4`) + `}`,
			Config{UNet: &nn.UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2, 2}, NumRes: 1, AttnRes: []int{}, Resolution: 28, TembIn: 32,
				Variant: "iddpm", Heads: 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("x.json", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*c, tc.want) {
				t.Fatalf("parsed %+v, want %+v", *c, tc.want)
			}
		})
	}
}

// invalidConfigCase is a configuration file ParseConfig must refuse: the field its
// error names and a part of the message.
type invalidConfigCase struct {
	name, data string
	field      string // the ConfigError's Field
	want       string // in the message
}

// invalidConfigCases are the files TestParseConfigInvalid feeds ParseConfig.
var invalidConfigCases = []invalidConfigCase{
	{"empty file", ``, "", "empty"},
	{"only whitespace", " \n ", "", "empty"},
	{"malformed", `{"train_steps": }`, "", "invalid JSON at line 1, column 17"},
	{"malformed on line 3", "{\n  \"batch\": 4,\n  \"lr\" 0.1\n}", "", "invalid JSON at line 3"},
	{"missing comma", `{"batch": 4 "lr": 0.1}`, "", "invalid JSON"},
	{"trailing comma", `{"batch": 4,}`, "", "invalid JSON"},
	{"truncated", `{"batch": 4`, "", "invalid JSON"},
	{"single quotes", `{'batch': 4}`, "", "invalid JSON"},
	{"comment", "{\"batch\": 4 // four\n}", "", "invalid JSON"},
	{"NaN", `{"lr": NaN}`, "", "invalid JSON"},
	{"byte-order mark", "\ufeff{}", "", "byte-order mark"},
	{"not an object: array", `[{"batch": 4}]`, "", "want a JSON object {...}, got an array"},
	{"not an object: string", `"batch"`, "", "got a string"},
	{"not an object: null", `null`, "", "got null"},
	{"not an object: number", `4`, "", "got a number"},
	{"unknown key", `{"steps": 10}`, "steps", "unknown field (want unet, head, beta_schedule,"},
	{"key in another case", `{"Train_Steps": 10}`, "Train_Steps", "unknown field"},
	{"same key in another case", `{"batch": 8, "BATCH": 16}`, "BATCH", "unknown field"},
	{"odd key is quoted", "{\"a\\nb\": 1}", `"a\nb"`, "unknown field"},
	{"unknown key in unet", `{"unet": ` + configUNet(`, "chh": 2`) + `}`, "unet.chh", "unknown field (want in_ch, ch, ch_mult,"},
	{"key in another case in unet", `{"unet": ` + configUNet(`, "CH": 64`) + `}`, "unet.CH", "unknown field"},
	{"duplicate key", `{"batch": 8, "lr": 0.1, "batch": 16}`, "batch", "duplicate field"},
	{"duplicate unet", `{"unet": ` + configUNet("") + `, "unet": ` + configUNet("") + `}`, "unet", "duplicate field"},
	{"duplicate key in unet", `{"unet": ` + configUNet(`, "ch": 64`) + `}`, "unet.ch", "duplicate field"},
	{"trailing garbage", `{"batch": 8} x`, "", "trailing data after the object (line 1, column 14)"},
	{"two objects", `{"batch": 8}{"batch": 9}`, "", "trailing data"},
	{"trailing bracket", `{"batch": 8}}`, "", "trailing data"},
	{"null setting", `{"batch": null}`, "batch", "want a number, got null (leave the field out for the default)"},
	{"null in unet", `{"unet": ` + strings.Replace(configUNet(""), "[]", "null", 1) + `}`, "unet.attn_resolutions", "null"},
	{"null in an array", `{"unet": ` + strings.Replace(configUNet(""), "[]", "[null]", 1) + `}`, "unet.attn_resolutions[0]", "null"},
	{"string for a number", `{"batch": "64"}`, "batch", "want a number, got a string"},
	{"number for a string", `{"beta_schedule": 1}`, "beta_schedule", "want a string, got a number"},
	{"string for a bool", `{"dropout": "true"}`, "dropout", "want true or false, got a string"},
	{"number for unet", `{"unet": 5}`, "unet", "want an object, got a number"},
	{"array for unet", `{"unet": []}`, "unet", "want an object, got an array"},
	{"string in unet", `{"unet": ` + strings.Replace(configUNet(""), `"ch": 32`, `"ch": "32"`, 1) + `}`, "unet.ch", "want an integer, got string"},
	{"train_steps 0", `{"train_steps": 0}`, "train_steps", "0 is out of range (want 1 to 10000000)"},
	{"train_steps negative", `{"train_steps": -5}`, "train_steps", "-5 is out of range"},
	{"train_steps too many", `{"train_steps": 10000001}`, "train_steps", "out of range"},
	{"fit_steps 0", `{"fit_steps": 0}`, "fit_steps", "out of range"},
	{"batch too large", `{"batch": 65537}`, "batch", "65537 is out of range (want 1 to 65536)"},
	{"timesteps too few", `{"num_train_timesteps": 20}`, "num_train_timesteps", "want 21 to 100000"},
	{"timesteps too many", `{"num_train_timesteps": 100001}`, "num_train_timesteps", "out of range"},
	{"ms_eps_per_step too many", `{"ms_eps_per_step": 4097}`, "ms_eps_per_step", "want 1 to 4096"},
	{"lr 0", `{"lr": 0}`, "lr", "out of range"},
	{"lr 1", `{"lr": 1}`, "lr", "out of range"},
	{"lr negative", `{"lr": -0.001}`, "lr", "out of range"},
	{"lr underflows float32", `{"lr": 1e-50}`, "lr", "float32"},
	{"lr rounds to 1 in float32", `{"lr": 0.999999999}`, "lr", "out of range"},
	{"ema 1", `{"ema_decay": 1}`, "ema_decay", "out of range"},
	{"ema negative", `{"ema_decay": -0.5}`, "ema_decay", "out of range"},
	{"ema rounds to 1 in float32", `{"ema_decay": 0.99999999999}`, "ema_decay", "below 1 as a float32"},
	{"fractional int", `{"batch": 2.5}`, "batch", "want an integer, got number 2.5"},
	{"integer with an exponent", `{"batch": 1e2}`, "batch", "1e2 is out of range or not written as a plain integer"},
	{"integral float", `{"batch": 64.0}`, "batch", "not written as a plain integer"},
	{"huge integer", `{"train_steps": 1e30}`, "train_steps", "1e30 is out of range"},
	{"int64 overflow", `{"train_steps": 99999999999999999999}`, "train_steps", "out of range"},
	{"huge float", `{"lr": 1e400}`, "lr", "does not fit a float64"},
	{"fractional int in unet", `{"unet": ` + strings.Replace(configUNet(""), `"ch": 32`, `"ch": 32.5`, 1) + `}`, "unet.ch", "want an integer"},
	{"huge float in unet", `{"unet": ` + strings.Replace(configUNet(""), `"dropout": 0`, `"dropout": 1e39`, 1) + `}`, "unet.dropout", "does not fit a float32"},
	{"bad schedule", `{"beta_schedule": "quadratic"}`, "beta_schedule", `unknown beta schedule "quadratic" (want linear or cosine)`},
	{"empty schedule", `{"beta_schedule": ""}`, "beta_schedule", "unknown beta schedule"},
	{"schedule in another case", `{"beta_schedule": "Linear"}`, "beta_schedule", "unknown beta schedule"},
	{"bad head", `{"head": "fancy"}`, "head", `unknown head "fancy" (want simple or complex)`},
	{"empty head", `{"head": ""}`, "head", "unknown head"},
	{"empty unet", `{"unet": {}}`, "unet.in_ch", "0 is out of range (want 1 to 4)"},
	{"unet width not a multiple of 32", `{"unet": ` + strings.Replace(configUNet(""), `"ch": 32`, `"ch": 48`, 1) + `}`, "unet.ch", "48 is not a multiple of 32"},
	{"unet too wide", `{"unet": ` + strings.Replace(configUNet(""), `"ch": 32`, `"ch": 2048`, 1) + `}`, "unet.ch", "not a multiple of 32 from 32 to 1024"},
	{"unet resolution not divisible", `{"unet": ` + strings.Replace(configUNet(""), `"resolution": 28`, `"resolution": 30`, 1) + `}`, "unet.resolution", "30 is not divisible by 4"},
	{"unet too many levels", `{"unet": ` + strings.Replace(configUNet(""), `[1, 2, 2]`, `[1, 1, 1, 1, 1, 1, 1]`, 1) + `}`, "unet.ch_mult", "7 levels"},
	{"unet no levels", `{"unet": ` + strings.Replace(configUNet(""), `[1, 2, 2]`, `[]`, 1) + `}`, "unet.ch_mult", "0 levels"},
	{"unet multiplier 0", `{"unet": ` + strings.Replace(configUNet(""), `[1, 2, 2]`, `[1, 0, 2]`, 1) + `}`, "unet.ch_mult[1]", "0 is out of range (want 1 to 16)"},
	{"unet odd temb", `{"unet": ` + strings.Replace(configUNet(""), `"temb_in": 32`, `"temb_in": 33`, 1) + `}`, "unet.temb_in", "even"},
	{"unet dropout 1", `{"unet": ` + strings.Replace(configUNet(""), `"dropout": 0`, `"dropout": 1`, 1) + `}`, "unet.dropout", "out of range"},
	{"unet unknown variant", `{"unet": ` + configUNet(`, "variant": "adm"`) + `}`, "unet.variant", `unknown variant "adm" (want ddpm or iddpm)`},
	{"unet heads not dividing", `{"unet": ` + configUNet(`, "variant": "iddpm", "num_heads": 3`) + `}`, "unet.num_heads", "not a multiple of num_heads 3"},
	{"unet heads in DDPM", `{"unet": ` + configUNet(`, "num_heads": 2`) + `}`, "unet.num_heads", "needs variant"},
	{"unet negative heads", `{"unet": ` + configUNet(`, "variant": "iddpm", "num_heads": -1`) + `}`, "unet.num_heads", "out of range"},
	{"unet 5 channels", `{"unet": ` + strings.Replace(configUNet(""), `"in_ch": 1`, `"in_ch": 5`, 1) + `}`, "unet.in_ch", "out of range"},
	{"attention at no level", `{"unet": ` + strings.Replace(configUNet(""), "[]", "[8]", 1) + `}`, "unet.attn_resolutions[0]", "8 is not the resolution of a level (want some of [28 14 7])"},
	{"attention listed twice", `{"unet": ` + strings.Replace(configUNet(""), "[]", "[7, 7]", 1) + `}`, "unet.attn_resolutions[1]", "listed twice"},
	{"attention too costly", `{"unet": {"in_ch": 1, "ch": 32, "ch_mult": [1], "num_res_blocks": 1, "attn_resolutions": [128], "resolution": 128, "dropout": 0, "temb_in": 32}}`,
		"unet.attn_resolutions[0]", "too costly"},
	{"nested too deep", `{"unet": ` + strings.Replace(configUNet(""), "[]", strings.Repeat("[", 20)+strings.Repeat("]", 20), 1) + `}`, "unet.attn_resolutions[0][0][0][0][0][0]", "nested more than 8 levels"},
	{"deep nesting is cut short", `{"unet": {"attn_resolutions": ` + strings.Repeat("[", 100000) + `}}`, "unet.attn_resolutions[0][0][0][0][0][0]", "nested more than 8 levels"},
	{"invalid UTF-8", "{\"beta_schedule\": \"lin\xffear\"}", "", "not valid UTF-8 (line 1, column 23)"},
	{"invalid UTF-8 in a key", "{\n\"\xc3\": 1}", "", "not valid UTF-8 (line 2, column 2)"},
	{"larger than the cap", `{"train_steps": 1` + strings.Repeat(" ", MaxConfigFile) + `}`, "", "larger than 1048576 bytes"},
}

func TestParseConfigInvalid(t *testing.T) {
	for _, tc := range invalidConfigCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("run.json", []byte(tc.data))
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is a %T, want *ConfigError", err, err)
			}
			msg := err.Error()
			t.Log(msg)
			if ce.File != "run.json" || ce.Field != tc.field || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q (field %q), want field %q and %q in it", msg, ce.Field, tc.field, tc.want)
			}
			if !strings.HasPrefix(msg, "run.json: ") || strings.ContainsAny(msg, "\n\r") || len(msg) > 300 {
				t.Errorf("error %q is not one short line starting with the file", msg)
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json: open: ") {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(dir, "big.json")
	if err := os.WriteFile(path, []byte(`{"batch": 4}`+strings.Repeat(" ", 2*MaxConfigFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || !strings.Contains(err.Error(), "big.json: larger than") {
		t.Errorf("oversized file: %v", err)
	}
	path = filepath.Join(dir, "bad.json")
	if err := os.WriteFile(path, []byte(`{"batch": 0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(path); err == nil || err.Error() != path+": batch: 0 is out of range (want 1 to 65536)" {
		t.Errorf("bad file: %v", err)
	}
}

func TestConfigApply(t *testing.T) {
	st := DefaultSettings()
	st.Dropout = true
	var empty Config
	if got := empty.Apply(st); got != st {
		t.Errorf("an empty config changed the settings: %+v", got)
	}
	ema, dropout := 0.0, false
	full := Config{TrainSteps: 7, FitSteps: 8, Batch: 9, LR: 0.25, EMADecay: &ema, Dropout: &dropout, MsEpsPerStep: 3,
		Schedule: "cosine", DiffusionSteps: 50}
	want := Settings{Budget: ocm.Budget{TrainSteps: 7, FitSteps: 8, Batch: 9, LR: 0.25, EMADecay: 0, MsEpsPerStep: 3, Seed: st.Seed}, Dropout: false}
	if got := full.Apply(st); got != want {
		t.Errorf("Apply = %+v, want %+v", got, want)
	}
	partial := Config{Batch: 32}
	want = st
	want.Batch = 32
	if got := partial.Apply(st); got != want {
		t.Errorf("Apply = %+v, want %+v", got, want)
	}
	if k, n, err := empty.ApplySchedule(sampler.Cosine, 400); k != sampler.Cosine || n != 400 || err != nil {
		t.Errorf("empty ApplySchedule = %v, %d, %v", k, n, err)
	}
	if k, n, err := full.ApplySchedule(sampler.Linear, 1000); k != sampler.Cosine || n != 50 || err != nil {
		t.Errorf("ApplySchedule = %v, %d, %v", k, n, err)
	}
	if _, _, err := (&Config{Schedule: "x"}).ApplySchedule(sampler.Linear, 1000); err == nil {
		t.Error("ApplySchedule accepted an unknown schedule")
	}
	base, _ := Preset("small", 1, 28)
	if u, err := empty.ApplyUNet(base); err != nil || !reflect.DeepEqual(u, base) {
		t.Errorf("empty ApplyUNet = %+v, %v", u, err)
	}
	rgb, _ := Preset("unet-s", 3, 32)
	if _, err := (&Config{UNet: &rgb}).ApplyUNet(base); err == nil || !strings.Contains(err.Error(), "do not fit the data's 1×28×28 images") {
		t.Errorf("ApplyUNet of a 3×32×32 UNet to 1×28×28 data: %v", err)
	}
	s := nn.UNetS()
	u, err := (&Config{UNet: &s}).ApplyUNet(base)
	if err != nil || !reflect.DeepEqual(u, nn.UNetS()) {
		t.Fatalf("ApplyUNet = %+v, %v", u, err)
	}
	u.Mult[0] = 99
	if s.Mult[0] == 99 {
		t.Error("ApplyUNet's result shares ch_mult with the config")
	}
}

func TestDefaultConfig(t *testing.T) {
	for _, shape := range [][2]int{{1, 28}, {3, 32}, {1, 8}} {
		c := DefaultConfig(shape[0], shape[1])
		if err := c.Check(); err != nil {
			t.Fatal(err)
		}
		data, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig("default.json", data)
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		if !reflect.DeepEqual(*back, c) {
			t.Fatalf("round trip gave %+v, want %+v", *back, c)
		}
		if got := c.Apply(Settings{}); got != (Settings{Budget: ocm.Budget{TrainSteps: 3000, FitSteps: 500, Batch: 64, LR: 5e-4, EMADecay: 0.999, MsEpsPerStep: 16}}) {
			t.Errorf("DefaultConfig's settings %+v are not DefaultSettings' (seed aside)", got)
		}
		st := DefaultSettings()
		if got := c.Apply(st); got != st {
			t.Errorf("DefaultConfig changed DefaultSettings: %+v", got)
		}
		preset, _ := Preset("small", shape[0], shape[1])
		if u, err := c.ApplyUNet(preset); err != nil || u.Ch != preset.Ch || !slices.Equal(u.Mult, preset.Mult) || u.TembIn != preset.TembIn {
			t.Errorf("DefaultConfig's UNet %+v is not the small preset %+v (%v)", u, preset, err)
		}
		if k, n, _ := c.ApplySchedule(sampler.Cosine, 5); k != sampler.Linear || n != 1000 {
			t.Errorf("DefaultConfig's schedule is %v over %d steps", k, n)
		}
		// Every key is written out, so the JSON documents the format.
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(data, &keys); err != nil || len(keys) != len(configKeys) {
			t.Errorf("DefaultConfig writes %d keys, want all %d: %s", len(keys), len(configKeys), data)
		}
	}
}

// TestConfigKeys checks that the scanner's key table is Config's JSON names in order.
func TestConfigKeys(t *testing.T) {
	want := jsonNames(reflect.TypeFor[Config]())
	var got []string
	for _, k := range configKeys {
		got = append(got, k.key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("configKeys %v, Config's JSON names %v", got, want)
	}
	if !slices.Contains(unetKeys, "ch_mult") || len(unetKeys) != reflect.TypeFor[nn.UNetConfig]().NumField() {
		t.Errorf("unetKeys = %v", unetKeys)
	}
}

// TestDiagnoseUNet checks that the per-field diagnosis finds a fault exactly when
// CheckConfig refuses, on configurations near its bounds.
func TestDiagnoseUNet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...int) int { return vs[r.IntN(len(vs))] }
	for range 20000 {
		u := nn.UNetConfig{InCh: pick(0, 1, 3, 4, 5), Ch: pick(-32, 0, 16, 32, 48, 1024, 1056), NumRes: pick(0, 1, 8, 9),
			Resolution: pick(-8, 0, 3, 4, 28, 30, 32, 512, 1024), TembIn: pick(0, 2, 3, 64, 4096, 4098),
			Dropout: []float32{-0.1, 0, 0.5, 1}[r.IntN(4)]}
		for range pick(0, 1, 3, 6, 7) {
			u.Mult = append(u.Mult, pick(-1, 0, 1, 2, 16, 17))
		}
		field, problem := diagnoseUNet(u)
		if (CheckConfig(u) == nil) != (field == "") {
			t.Fatalf("%+v: CheckConfig says %v, diagnosis %q %q", u, CheckConfig(u), field, problem)
		}
	}
}

// TestConfigFuzzCorpus checks the stored seeds of FuzzParseConfig: those named
// valid-* are accepted, the others refused.
func TestConfigFuzzCorpus(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzParseConfig", "*"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no seeds: %v", err)
	}
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		head, lit, ok := strings.Cut(strings.TrimSpace(string(text)), "\n")
		lit, ok2 := strings.CutPrefix(lit, "[]byte(")
		lit, ok3 := strings.CutSuffix(lit, ")")
		data, err := strconv.Unquote(lit)
		if head != "go test fuzz v1" || !ok || !ok2 || !ok3 || err != nil {
			t.Fatalf("%s is not a seed of one []byte: %v", path, err)
		}
		_, err = ParseConfig(path, []byte(data))
		if valid := strings.HasPrefix(filepath.Base(path), "valid-"); valid != (err == nil) {
			t.Errorf("%s: valid %v, ParseConfig: %v", path, valid, err)
		}
	}
}
