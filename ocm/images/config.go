package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"ocm/nn"
	"ocm/sampler"
)

// MaxConfigFile is the largest run-configuration file LoadConfig and ParseConfig
// accept, in bytes; a real one is well under a kilobyte.
const MaxConfigFile = 1 << 20

// MaxAttnResolution is the largest resolution a configuration may put self-attention
// at: attention over r×r positions holds an r²×r² matrix per image, so 64 already
// means 16.7 million floats an image.
const MaxAttnResolution = 64

// maxConfigDepth bounds the nesting of a configuration file: the deepest valid value,
// unet.ch_mult's elements, is at depth 3.
const maxConfigDepth = 8

// Config is a run configuration: what a --config file holds. Zero fields keep the defaults.
//
// The file is one JSON object with these keys, each optional:
//
//	unet                 the backbone, an object with every field of nn.UNetConfig
//	head                 the covariance heads, "simple" or "complex"
//	beta_schedule        "linear" or "cosine"
//	num_train_timesteps  diffusion steps N, 21 to 100000
//	train_steps          optimiser steps of training, 1 to 10^7
//	fit_steps            optimiser steps of each head fit, 1 to 10^7
//	batch                examples per step, 1 to 65536
//	lr                   Adam learning rate, in (0, 1)
//	ema_decay            rate of the weights' moving average, in [0, 1)
//	dropout              whether training uses dropout at unet.dropout's rate
//	ms_eps_per_step      examples per diffusion step of the Analytic-DPM table, 1 to 4096
//
// See ParseConfig for what makes a file invalid.
type Config struct {
	UNet           *nn.UNetConfig `json:"unet,omitempty"`                // the backbone (default: Preset("small", C, H))
	Head           string         `json:"head,omitempty"`                // "simple" or "complex" (default complex)
	Schedule       string         `json:"beta_schedule,omitempty"`       // "linear" or "cosine" (default linear)
	DiffusionSteps int            `json:"num_train_timesteps,omitempty"` // N (default 1000)
	TrainSteps     int            `json:"train_steps,omitempty"`         // Settings.TrainSteps
	FitSteps       int            `json:"fit_steps,omitempty"`           // Settings.FitSteps
	Batch          int            `json:"batch,omitempty"`               // Settings.Batch
	LR             float64        `json:"lr,omitempty"`                  // Settings.LR
	// EMADecay is Settings.EMADecay; a pointer because 0 (no averaging) is a valid
	// rate, unlike the zero of the other numbers.
	EMADecay     *float64 `json:"ema_decay,omitempty"`
	Dropout      *bool    `json:"dropout,omitempty"`         // Settings.Dropout
	MsEpsPerStep int      `json:"ms_eps_per_step,omitempty"` // Settings.MsEpsPerStep
}

// ConfigError is a problem with a run configuration: the file (or other name given to
// ParseConfig), the field as a JSON path such as "unet.ch" ("" for the file as a
// whole) and what is wrong. Its message is one line.
type ConfigError struct {
	File, Field, Problem string
}

// Error returns "file: field: problem".
func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// LoadConfig reads the run configuration at path; see ParseConfig for the format.
// Files over MaxConfigFile bytes are refused without being read to the end.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ConfigError{File: path, Problem: unwrapPathError(err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigFile+1))
	if err != nil {
		return nil, &ConfigError{File: path, Problem: unwrapPathError(err)}
	}
	return ParseConfig(path, data)
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// ParseConfig parses a run configuration (the layout is Config's) and checks all of
// it; name (the file) starts every error message. The data must be valid UTF-8
// holding exactly one JSON object, at most MaxConfigFile bytes. Refused, with a
// *ConfigError naming the field: unknown keys (matched exactly: encoding/json's
// case-insensitive matching is not used), duplicate keys (also inside "unet"), null,
// values of the wrong JSON type, trailing data, integers written with a fraction or
// exponent or too large for an int, numbers out of the ranges Config lists (a key
// that is present must hold a valid value: 0 does not mean the default there), and a
// "unet" that CheckConfig refuses or whose attn_resolutions are not resolutions of
// its levels (at most MaxAttnResolution). A "unet" object must give every field, as
// nn.UNetConfig marshals them.
func ParseConfig(name string, data []byte) (*Config, error) {
	c, err := parseConfig(data)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = name
			return nil, ce
		}
		return nil, &ConfigError{File: name, Problem: err.Error()}
	}
	return c, nil
}

func parseConfig(data []byte) (*Config, error) {
	if len(data) > MaxConfigFile {
		return nil, &ConfigError{Problem: fmt.Sprintf("larger than %d bytes; not a run configuration", MaxConfigFile)}
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, size := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, &ConfigError{Problem: fmt.Sprintf("not valid UTF-8 (%s)", position(data, off))}
	}
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		return nil, &ConfigError{Problem: "starts with a byte-order mark; JSON must not (save the file as UTF-8 without one)"}
	}
	present, err := scanConfig(data)
	if err != nil {
		return nil, err
	}
	// The scan has checked the keys, their JSON types and the syntax; the decoder
	// converts the values and refuses numbers that do not fit their Go types.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, describeDecodeError(data, err)
	}
	if c.UNet != nil && c.UNet.AttnRes == nil {
		c.UNet.AttnRes = []int{} // marshals as [], not null, so the config round-trips
	}
	if err := c.check(present); err != nil {
		return nil, err
	}
	return &c, nil
}

// jsonKind is the JSON type of a value.
type jsonKind string

const (
	kindObject jsonKind = "an object"
	kindArray  jsonKind = "an array"
	kindString jsonKind = "a string"
	kindNumber jsonKind = "a number"
	kindBool   jsonKind = "true or false"
	kindNull   jsonKind = "null"
)

// configKey is a top-level key of a configuration file and the JSON type of its value.
type configKey struct {
	key  string
	kind jsonKind
}

// configKeys are the top-level keys of a configuration file in Config's order, with
// the JSON type of their values.
var configKeys = []configKey{
	{"unet", kindObject}, {"head", kindString}, {"beta_schedule", kindString}, {"num_train_timesteps", kindNumber},
	{"train_steps", kindNumber}, {"fit_steps", kindNumber}, {"batch", kindNumber},
	{"lr", kindNumber}, {"ema_decay", kindNumber}, {"dropout", kindBool}, {"ms_eps_per_step", kindNumber},
}

// unetKeys are the keys of the "unet" object: nn.UNetConfig's JSON names.
var unetKeys = jsonNames(reflect.TypeFor[nn.UNetConfig]())

// jsonNames lists the JSON names of the exported fields of struct type t.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// kindOf returns the JSON type of a token that starts a value.
func kindOf(tok json.Token) jsonKind {
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			return kindObject
		}
		return kindArray
	case string:
		return kindString
	case json.Number, float64:
		return kindNumber
	case bool:
		return kindBool
	}
	return kindNull
}

// scanConfig walks the file token by token, because encoding/json silently keeps the
// last of duplicate keys and matches keys case-insensitively: it checks that the file
// is one object, that every key is known and appears once (at any depth), that no
// value is null, that top-level values have their key's JSON type, that nothing
// follows the object, and bounds the nesting. It returns the top-level keys present.
func scanConfig(data []byte) (map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return nil, &ConfigError{Problem: "empty; want a JSON object such as {\"train_steps\": 3000}"}
	}
	if err != nil {
		return nil, syntaxError(data, dec, err)
	}
	if tok != json.Delim('{') {
		return nil, &ConfigError{Problem: fmt.Sprintf("want a JSON object {...}, got %s", kindOf(tok))}
	}
	present := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(data, dec, err)
		}
		key, _ := tok.(string)
		i := slices.IndexFunc(configKeys, func(k configKey) bool { return k.key == key })
		if i < 0 {
			return nil, &ConfigError{Field: keyPath("", key), Problem: "unknown field (want " + topKeyList() + ")"}
		}
		if present[key] {
			return nil, &ConfigError{Field: key, Problem: "duplicate field"}
		}
		present[key] = true
		if tok, err = dec.Token(); err != nil {
			return nil, syntaxError(data, dec, err)
		}
		if got, want := kindOf(tok), configKeys[i].kind; got != want {
			return nil, &ConfigError{Field: key, Problem: fmt.Sprintf("want %s, got %s%s", want, got, nullHint(got))}
		}
		if key == "unet" {
			if err := scanObject(data, dec, key, unetKeys, 2); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntaxError(data, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &ConfigError{Problem: fmt.Sprintf("trailing data after the object (%s); want exactly one JSON object", position(data, int(dec.InputOffset())))}
	}
	return present, nil
}

// scanObject checks the rest of an object whose '{' has been read, at the given depth:
// that its keys are among known (any key when known is nil) and appear once, and its
// values recursively.
func scanObject(data []byte, dec *json.Decoder, path string, known []string, depth int) error {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(data, dec, err)
		}
		key, _ := tok.(string)
		p := keyPath(path, key)
		if known != nil && !slices.Contains(known, key) {
			return &ConfigError{Field: p, Problem: "unknown field (want " + strings.Join(known, ", ") + ")"}
		}
		if seen[key] {
			return &ConfigError{Field: p, Problem: "duplicate field"}
		}
		seen[key] = true
		if tok, err = dec.Token(); err != nil {
			return syntaxError(data, dec, err)
		}
		if err := scanValue(data, dec, p, tok, depth); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return syntaxError(data, dec, err)
	}
	return nil
}

// scanValue checks the rest of the value that tok starts, inside a container at depth.
func scanValue(data []byte, dec *json.Decoder, path string, tok json.Token, depth int) error {
	kind := kindOf(tok)
	switch kind {
	case kindNull:
		return &ConfigError{Field: path, Problem: "null is not a valid value" + nullHint(kind)}
	case kindObject, kindArray:
		if depth >= maxConfigDepth {
			return &ConfigError{Field: path, Problem: fmt.Sprintf("nested more than %d levels deep", maxConfigDepth)}
		}
	}
	switch kind {
	case kindObject:
		return scanObject(data, dec, path, nil, depth+1)
	case kindArray:
		for i := 0; dec.More(); i++ {
			tok, err := dec.Token()
			if err != nil {
				return syntaxError(data, dec, err)
			}
			if err := scanValue(data, dec, fmt.Sprintf("%s[%d]", path, i), tok, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing ']'
			return syntaxError(data, dec, err)
		}
	}
	return nil
}

func nullHint(k jsonKind) string {
	if k == kindNull {
		return " (leave the field out for the default)"
	}
	return ""
}

func topKeyList() string {
	names := make([]string, len(configKeys))
	for i, k := range configKeys {
		names[i] = k.key
	}
	return strings.Join(names, ", ")
}

// keyPath appends key to the JSON path parent, quoting (and shortening) keys that
// are not plain names so that messages stay on one line.
func keyPath(parent, key string) string {
	plain := key != ""
	for _, r := range key {
		plain = plain && (r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}
	if !plain || len(key) > 64 {
		if len(key) > 64 {
			key = strings.ToValidUTF8(key[:64], "") + "…"
		}
		key = strconv.QuoteToASCII(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// position describes byte offset off of data as a line and column (both from 1).
func position(data []byte, off int) string {
	off = min(max(off, 0), len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return fmt.Sprintf("line %d, column %d", line, col)
}

// syntaxError describes a tokenizer error.
func syntaxError(data []byte, dec *json.Decoder, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return &ConfigError{Problem: fmt.Sprintf("invalid JSON at %s: %s", position(data, int(syn.Offset)), syn.Error())}
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &ConfigError{Problem: "invalid JSON: the file ends inside the object"}
	}
	return &ConfigError{Problem: fmt.Sprintf("invalid JSON at %s: %v", position(data, int(dec.InputOffset())), err)}
}

// describeDecodeError turns an error of the decoder into a *ConfigError.
func describeDecodeError(data []byte, err error) error {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		field := typ.Field
		if field == "" {
			field = "(the object)"
		}
		switch typ.Type.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			num := strings.TrimPrefix(typ.Value, "number ")
			if f, ferr := strconv.ParseFloat(num, 64); ferr == nil && f == math.Trunc(f) {
				return &ConfigError{Field: field, Problem: fmt.Sprintf("%s is out of range or not written as a plain integer", num)}
			}
			return &ConfigError{Field: field, Problem: fmt.Sprintf("want an integer, got %s", typ.Value)}
		case reflect.Float32, reflect.Float64:
			return &ConfigError{Field: field, Problem: fmt.Sprintf("%s does not fit a %v", typ.Value, typ.Type)}
		}
		return &ConfigError{Field: field, Problem: fmt.Sprintf("want %v, got %s", typ.Type, typ.Value)}
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return &ConfigError{Problem: fmt.Sprintf("invalid JSON at %s: %s", position(data, int(syn.Offset)), syn.Error())}
	}
	return &ConfigError{Problem: strings.TrimPrefix(err.Error(), "json: ")}
}

// Check returns a *ConfigError (with no file) for the first field of c out of the
// ranges ParseConfig enforces; zero fields, the defaults, are not checked. A Config
// from ParseConfig always passes.
func (c *Config) Check() error { return c.check(nil) }

// check is Check, except that the fields whose keys are in present are checked even
// when zero: a file that gives a key must give it a valid value.
func (c *Config) check(present map[string]bool) error {
	given := func(key string, zero bool) bool { return !zero || present[key] }
	if c.UNet != nil {
		if err := checkUNet(*c.UNet); err != nil {
			return err
		}
	}
	if given("head", c.Head == "") {
		if _, err := ParseHeadMode(c.Head); err != nil {
			return &ConfigError{Field: "head", Problem: fmt.Sprintf("unknown head %s (want simple or complex)", quoteValue(c.Head))}
		}
	}
	if given("beta_schedule", c.Schedule == "") {
		if _, err := sampler.ParseBetaSchedule(c.Schedule); err != nil {
			return &ConfigError{Field: "beta_schedule", Problem: fmt.Sprintf("unknown beta schedule %s (want linear or cosine)", quoteValue(c.Schedule))}
		}
	}
	ints := []struct {
		key    string
		v      int
		lo, hi int
	}{
		{"num_train_timesteps", c.DiffusionSteps, 21, 100000},
		{"train_steps", c.TrainSteps, 1, 10_000_000},
		{"fit_steps", c.FitSteps, 1, 10_000_000},
		{"batch", c.Batch, 1, 65536},
		{"ms_eps_per_step", c.MsEpsPerStep, 1, 4096},
	}
	for _, f := range ints {
		if given(f.key, f.v == 0) && (f.v < f.lo || f.v > f.hi) {
			return &ConfigError{Field: f.key, Problem: fmt.Sprintf("%d is out of range (want %d to %d)", f.v, f.lo, f.hi)}
		}
	}
	if given("lr", c.LR == 0) {
		// Settings holds float32: the rate must stay in range after rounding to it.
		if !(c.LR > 0 && c.LR < 1) || float32(c.LR) == 0 || float32(c.LR) >= 1 {
			return &ConfigError{Field: "lr", Problem: fmt.Sprintf("%v is out of range (want 0 < lr < 1, representable as a float32)", c.LR)}
		}
	}
	if c.EMADecay != nil {
		if v := *c.EMADecay; !(v >= 0 && v < 1) || float32(v) >= 1 {
			return &ConfigError{Field: "ema_decay", Problem: fmt.Sprintf("%v is out of range (want 0 ≤ ema_decay < 1, and below 1 as a float32)", v)}
		}
	}
	return nil
}

// quoteValue quotes a string from a file for a message, shortened to stay readable.
func quoteValue(s string) string {
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "…"
	}
	return strconv.QuoteToASCII(s)
}

// checkUNet returns a *ConfigError for a UNet that CheckConfig refuses, naming the
// first field at fault where it can, or whose attention resolutions are not those of
// its levels (attention at a resolution no level has would be silently left out).
func checkUNet(u nn.UNetConfig) error {
	if err := CheckConfig(u); err != nil {
		field, problem := "unet", err.Error()
		if f, p := diagnoseUNet(u); f != "" {
			field, problem = "unet."+f, p
		}
		return &ConfigError{Field: field, Problem: problem}
	}
	levels := make([]int, len(u.Mult))
	for i := range levels {
		levels[i] = u.Resolution >> i
	}
	for i, r := range u.AttnRes {
		switch {
		case !slices.Contains(levels, r):
			return &ConfigError{Field: fmt.Sprintf("unet.attn_resolutions[%d]", i),
				Problem: fmt.Sprintf("%d is not the resolution of a level (want some of %v)", r, levels)}
		case r > MaxAttnResolution:
			return &ConfigError{Field: fmt.Sprintf("unet.attn_resolutions[%d]", i),
				Problem: fmt.Sprintf("attention at %d×%d is too costly (at most %d)", r, r, MaxAttnResolution)}
		case slices.Contains(u.AttnRes[:i], r):
			return &ConfigError{Field: fmt.Sprintf("unet.attn_resolutions[%d]", i), Problem: fmt.Sprintf("%d is listed twice", r)}
		}
	}
	return nil
}

// diagnoseUNet names the first field of u outside CheckConfig's bounds and the
// problem, or returns "" when it finds none (CheckConfig's word is final).
func diagnoseUNet(u nn.UNetConfig) (field, problem string) {
	switch {
	case u.InCh < 1 || u.InCh > 4:
		return "in_ch", fmt.Sprintf("%d is out of range (want 1 to 4)", u.InCh)
	case u.Ch < 1 || u.Ch > 1024 || u.Ch%nn.UNetGroups != 0:
		return "ch", fmt.Sprintf("%d is not a multiple of %d from %d to 1024", u.Ch, nn.UNetGroups, nn.UNetGroups)
	case len(u.Mult) < 1 || len(u.Mult) > 6:
		return "ch_mult", fmt.Sprintf("%d levels is out of range (want 1 to 6)", len(u.Mult))
	case u.NumRes < 1 || u.NumRes > 8:
		return "num_res_blocks", fmt.Sprintf("%d is out of range (want 1 to 8)", u.NumRes)
	case u.Resolution < 4 || u.Resolution > 512:
		return "resolution", fmt.Sprintf("%d is out of range (want 4 to 512)", u.Resolution)
	case u.Resolution%(1<<(len(u.Mult)-1)) != 0:
		return "resolution", fmt.Sprintf("%d is not divisible by %d, as %d levels need", u.Resolution, 1<<(len(u.Mult)-1), len(u.Mult))
	case u.TembIn < 2 || u.TembIn > 4096 || u.TembIn%2 != 0:
		return "temb_in", fmt.Sprintf("%d is not an even number from 2 to 4096", u.TembIn)
	case !(u.Dropout >= 0 && u.Dropout < 1):
		return "dropout", fmt.Sprintf("%v is out of range (want 0 ≤ dropout < 1)", u.Dropout)
	}
	for i, v := range u.Mult {
		if v < 1 || v > 16 {
			return fmt.Sprintf("ch_mult[%d]", i), fmt.Sprintf("%d is out of range (want 1 to 16)", v)
		}
	}
	if n := ParamLowerBound(u); n > MaxUNetParams {
		return "ch", fmt.Sprintf("%d with ch_mult %v and num_res_blocks %d makes at least %d parameters, more than the %d allowed", u.Ch, u.Mult, u.NumRes, n, MaxUNetParams)
	}
	if err := u.CheckVariant(); err != nil {
		field := "variant"
		if u.Variant == nn.VariantIDDPM || strings.HasPrefix(err.Error(), "num_heads") {
			field = "num_heads"
		}
		return field, err.Error()
	}
	return "", ""
}

// Apply returns st with every non-zero setting of c in place of st's (the UNet and
// the noise schedule are not settings: see ApplyUNet and ApplySchedule).
func (c *Config) Apply(st Settings) Settings {
	if c.TrainSteps != 0 {
		st.TrainSteps = c.TrainSteps
	}
	if c.FitSteps != 0 {
		st.FitSteps = c.FitSteps
	}
	if c.Batch != 0 {
		st.Batch = c.Batch
	}
	if c.LR != 0 {
		st.LR = float32(c.LR)
	}
	if c.EMADecay != nil {
		st.EMADecay = float32(*c.EMADecay)
	}
	if c.Dropout != nil {
		st.Dropout = *c.Dropout
	}
	if c.MsEpsPerStep != 0 {
		st.MsEpsPerStep = c.MsEpsPerStep
	}
	return st
}

// ApplyUNet returns the backbone of a run whose data and --unet preset give base:
// c.UNet when set (a copy), else base. The data fix the image shape, so c.UNet must
// have base's in_ch and resolution.
func (c *Config) ApplyUNet(base nn.UNetConfig) (nn.UNetConfig, error) {
	if c.UNet == nil {
		return base, nil
	}
	u := *c.UNet
	if u.InCh != base.InCh || u.Resolution != base.Resolution {
		return nn.UNetConfig{}, &ConfigError{Field: "unet", Problem: fmt.Sprintf("in_ch %d and resolution %d do not fit the data's %d×%d×%d images",
			u.InCh, u.Resolution, base.InCh, base.Resolution, base.Resolution)}
	}
	u.Mult, u.AttnRes = slices.Clone(u.Mult), slices.Clone(u.AttnRes)
	return u, nil
}

// ApplySchedule returns the noise schedule and diffusion steps of a run: c's where
// set, else kind and n.
func (c *Config) ApplySchedule(kind sampler.BetaSchedule, n int) (sampler.BetaSchedule, int, error) {
	if c.Schedule != "" {
		k, err := sampler.ParseBetaSchedule(c.Schedule)
		if err != nil {
			return 0, 0, &ConfigError{Field: "beta_schedule", Problem: strings.TrimPrefix(err.Error(), "ocm: ")}
		}
		kind = k
	}
	if c.DiffusionSteps != 0 {
		n = c.DiffusionSteps
	}
	return kind, n, nil
}

// DefaultConfig returns the defaults of a run on c×res×res images spelled out, every
// field set: Preset("small", c, res), complex heads, the linear schedule over 1000 steps and
// DefaultSettings (with the float32 rates as their shortest decimals, 5e-4 and
// 0.999). Marshalled, it is a complete configuration file; ParseConfig accepts it
// when CheckConfig accepts the preset for that shape.
func DefaultConfig(c, res int) Config {
	u, _ := Preset("small", c, res) // "small" is always a preset
	if u.AttnRes == nil {
		u.AttnRes = []int{}
	}
	st := DefaultSettings()
	ema, dropout := shortest(st.EMADecay), st.Dropout
	return Config{UNet: &u, Head: string(HeadComplex), Schedule: sampler.Linear.String(), DiffusionSteps: 1000,
		TrainSteps: st.TrainSteps, FitSteps: st.FitSteps, Batch: st.Batch, LR: shortest(st.LR),
		EMADecay: &ema, Dropout: &dropout, MsEpsPerStep: st.MsEpsPerStep}
}

// shortest widens x to the float64 of its shortest decimal (float32 5e-4 is
// 0.0005000000237487257 as a float64).
func shortest(x float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
	return v
}
