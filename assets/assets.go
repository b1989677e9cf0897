// Package assets holds the models embedded in the ocm binary: zstd-compressed
// safetensors bundles, each with its SHA-256 checked at load.
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
)

//go:embed *.safetensors.zst checksums.txt
var files embed.FS

// Model describes one embedded model.
type Model struct {
	Name   string // what --model selects, e.g. "mog9"
	File   string // embedded file name
	SHA256 string // of the decompressed bundle
}

// List returns the embedded models, sorted by name.
func List() ([]Model, error) {
	sums, err := files.ReadFile("checksums.txt")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	var out []Model
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("assets: checksums.txt: malformed line %q", line)
		}
		name := strings.TrimSuffix(f[1], ".safetensors.zst")
		out = append(out, Model{Name: name, File: f[1], SHA256: f[0]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Load returns the decompressed bundle of the named model after checking its SHA-256.
func Load(name string) ([]byte, Model, error) {
	models, err := List()
	if err != nil {
		return nil, Model{}, err
	}
	for _, m := range models {
		if m.Name != name {
			continue
		}
		raw, err := files.ReadFile(m.File)
		if err != nil {
			return nil, m, fmt.Errorf("assets: %w", err)
		}
		dec, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, m, fmt.Errorf("assets: %s: %w", m.File, err)
		}
		defer dec.Close()
		data, err := io.ReadAll(dec)
		if err != nil {
			return nil, m, fmt.Errorf("assets: %s: zstd: %w", m.File, err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
			return nil, m, fmt.Errorf("assets: %s: SHA-256 %s does not match the recorded %s (corrupted binary?)", m.File, got, m.SHA256)
		}
		return data, m, nil
	}
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return nil, Model{}, fmt.Errorf("no embedded model %q (embedded: %s)", name, strings.Join(names, ", "))
}
