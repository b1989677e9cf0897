package ocm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Bounds on a mixture: at most MaxMixtureComponents components of dimension at most
// MaxMixtureDim. They are checked on the file's text before anything is decoded,
// so that a small file of empty rows cannot make the decoder allocate without bound.
const (
	MaxMixtureComponents = 10000
	MaxMixtureDim        = 1024
)

// maxMixtureFile bounds the size of a mixture JSON file (a 100-component
// 100-D mixture with full covariances is ~20 MB of text).
const maxMixtureFile = 64 << 20

// LoadMixtureJSON reads a mixture file; see ParseMixtureJSON for the format.
func LoadMixtureJSON(path string) (*Mixture, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ocm: mixture: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMixtureFile+1))
	if err != nil {
		return nil, fmt.Errorf("ocm: mixture: %s: %w", path, err)
	}
	m, err := ParseMixtureJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// mixtureJSON is the file layout of a mixture.
type mixtureJSON struct {
	Weights     []float64     `json:"weights"`     // (K)
	Means       [][]float64   `json:"means"`       // (K)(D)
	Covariances [][][]float64 `json:"covariances"` // (K)(D)(D)
}

// ParseMixtureJSON parses a mixture from JSON of the form
//
//	{"weights": [w_1, ...], "means": [[...], ...], "covariances": [[[...], ...], ...]}
//
// with K weights, K means of length D and K nested D×D covariances, and
// validates it like NewMixture. Unknown or duplicate keys, missing fields,
// trailing data, non-numbers (JSON has no NaN), ragged rows and non-positive
// -definite covariances are errors (*MixtureError) that name the field.
func ParseMixtureJSON(data []byte) (*Mixture, error) {
	if len(data) > maxMixtureFile {
		return nil, &MixtureError{Field: "json", Component: -1, Problem: fmt.Sprintf("larger than %d bytes", maxMixtureFile)}
	}
	if err := checkNesting(data); err != nil {
		return nil, err
	}
	var f mixtureJSON
	if err := decodeMixtureObject(data, &f); err != nil {
		return nil, err
	}
	covs := make([][]float64, len(f.Covariances))
	for k, c := range f.Covariances {
		flat, err := flattenSquare(c, k)
		if err != nil {
			return nil, err
		}
		covs[k] = flat
	}
	return NewMixture(f.Weights, f.Means, covs)
}

// decodeMixtureObject reads the top-level object key by key, so that
// unknown, duplicate and missing keys are reported by name.
func decodeMixtureObject(data []byte, f *mixtureJSON) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return jsonError("", fmt.Sprintf("want a JSON object, got %v (%v)", tok, err))
	}
	fields := map[string]any{"weights": &f.Weights, "means": &f.Means, "covariances": &f.Covariances}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError("", err.Error())
		}
		key, _ := tok.(string)
		dst, ok := fields[key]
		if !ok {
			return jsonError(key, "unknown field (want weights, means, covariances)")
		}
		if seen[key] {
			return jsonError(key, "duplicate field")
		}
		seen[key] = true
		if err := dec.Decode(dst); err != nil {
			return jsonError(key, describeJSONError(err))
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return jsonError("", err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return jsonError("", "trailing data after the object")
	}
	for _, key := range []string{"weights", "means", "covariances"} {
		if !seen[key] {
			return jsonError(key, "missing field")
		}
	}
	return nil
}

// jsonError returns a *MixtureError for a file-level problem with field key
// ("" for the syntax of the whole file).
func jsonError(key, problem string) error {
	if key == "" {
		return &MixtureError{Field: "json", Component: -1, Problem: problem}
	}
	return &MixtureError{Field: key, Component: -1, Problem: problem}
}

// describeJSONError turns a decoding error into a short message, with the
// byte offset in the file for syntax errors.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("invalid JSON at byte %d (numbers must be finite JSON numbers): %v", syn.Offset, syn)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		// typ.Offset is relative to the field's value, so it is left out.
		return fmt.Sprintf("%s cannot be a %v (want weights [w, ...], means [[...], ...], covariances [[[...], ...], ...])", typ.Value, typ.Type)
	}
	return err.Error()
}

// flattenSquare converts covariance k from nested rows into row-major form,
// checking that it is square before allocating.
func flattenSquare(rows [][]float64, k int) ([]float64, error) {
	d := len(rows)
	for i, row := range rows {
		if len(row) != d {
			return nil, &MixtureError{Field: "covariances", Component: k,
				Problem: fmt.Sprintf("row %d has %d entries, want %d (square matrix)", i, len(row), d)}
		}
	}
	flat := make([]float64, 0, d*d)
	for _, row := range rows {
		flat = append(flat, row...)
	}
	return flat, nil
}

// checkNesting scans data, the text of a mixture file, and refuses an array with
// more elements than its level allows (components in the arrays of the top-level
// fields, dimensions below them), naming the field. It allocates nothing but a stack
// of open brackets, so a small file of empty rows cannot make the decoder allocate
// without bound; malformed JSON is left to the decoder.
func checkNesting(data []byte) error {
	limits := []int{MaxMixtureComponents, MaxMixtureDim, MaxMixtureDim}
	var stack []byte // the open brackets
	var counts []int // elements so far of each open bracket
	key, keyStart := "", -1
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			inString = escaped || c != '"'
			escaped = !escaped && c == '\\'
			if !inString && keyStart >= 0 {
				key, keyStart = string(data[keyStart:min(i, keyStart+40)]), -1
			}
			continue
		}
		n := len(counts)
		if n > 0 && counts[n-1] == 0 && c > ' ' && c != ']' && c != '}' {
			counts[n-1] = 1 // the first element
		}
		switch c {
		case '"':
			inString = true
			if n == 1 && stack[0] == '{' {
				keyStart = i + 1
			}
		case '[', '{':
			stack, counts = append(stack, c), append(counts, 0)
		case ']', '}':
			if n == 0 {
				return nil
			}
			stack, counts = stack[:n-1], counts[:n-1]
		case ',':
			if n > 0 {
				counts[n-1]++
			}
		}
		if level := len(stack) - 1; level >= 1 && level <= len(limits) && stack[level] == '[' && counts[level] > limits[level-1] {
			what := "entries"
			if level == 1 {
				what = "components"
			} else if level == 2 && key == "covariances" {
				what = "rows"
			}
			return &MixtureError{Field: key, Component: -1, Problem: fmt.Sprintf(
				"more than %d %s at byte %d (the most a mixture may have)", limits[level-1], what, i)}
		}
	}
	return nil
}

// MarshalJSON writes the mixture in the format of ParseMixtureJSON, with
// the shortest decimal that round-trips each float64.
func (m *Mixture) MarshalJSON() ([]byte, error) {
	d := m.Dim
	f := mixtureJSON{Weights: m.Weights, Means: m.Means, Covariances: make([][][]float64, m.K())}
	for k, c := range m.Covs {
		f.Covariances[k] = make([][]float64, d)
		for i := range d {
			f.Covariances[k][i] = c[i*d : (i+1)*d]
		}
	}
	return json.Marshal(f)
}
