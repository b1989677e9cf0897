// Package assets holds the models embedded in the ocm binary: safetensors
// bundles, zstd-compressed, each with the SHA-256 of its decompressed bytes
// recorded in checksums.txt and checked at load.
//
// An embedded file is in one of two forms, told apart by its name:
//
//	NAME.safetensors.zst       the bundle, zstd-compressed
//	NAME.safetensors.shuf.zst  the bundle packed by Pack: its tensor data
//	                           byte-shuffled by element size, then zstd-compressed
//
// Either way Load returns the plain safetensors bytes, whose SHA-256 is the one
// in checksums.txt. Byte-shuffling (all first bytes of every element, then all
// second bytes, …) puts the slowly varying sign and exponent bytes of the
// weights together, away from the near-random low mantissa bytes, which zstd
// compresses better (7–11% smaller on a barely trained 1M-parameter image
// model, a quarter smaller on smooth weights);
// storing the weights as float16 or bfloat16 halves them first.
//
// To add or replace an embedded model from a bundle written by ocm (a
// .safetensors or .safetensors.zst file), run from the repository root
//
//	go test ./assets -run '^TestPack$' -v -pack NAME=PATH -dtype f16
//
// with PATH absolute or relative to assets/ (where go test runs). It
// re-encodes PATH with every tensor stored as the -dtype (f16, bf16 or f32;
// the metadata is kept), logs the conversion error, refuses a dtype that
// overflows a weight to ±Inf, writes NAME.safetensors.shuf.zst here (removing
// a NAME.safetensors.zst it replaces) and rewrites checksums.txt. Then
// rebuild, and check sample quality with the new weights before committing;
// -dtype f32 keeps the weights exact.
//
// After adding, removing or replacing files here by hand, run
//
//	go test ./assets -run TestChecksums -update
//
// to rewrite checksums.txt; it fails on purpose once it has, so rebuild and
// run it again without -update.
//
// A corrupted embedded file is refused with a one-line error naming the file
// and the check that failed: zstd decompression, byte-unshuffle or SHA-256.
// (The one exception is harmless: the zstd frame header has a bit decoders
// must ignore, so flipping it still yields the recorded bundle.)
package assets

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// The pattern must match at least one file, so it names every .zst file rather
// than one pattern per suffix; TestChecksums checks that each is listed in
// checksums.txt.
//
//go:embed *.zst checksums.txt
var files embed.FS

// PlainSuffix ends the name of an embedded bundle that is only zstd-compressed.
const PlainSuffix = ".safetensors.zst"

// PackedSuffix ends the name of an embedded bundle written by Pack:
// byte-shuffled by element size, then zstd-compressed.
const PackedSuffix = ".safetensors.shuf.zst"

// maxBundleSize is the largest decompressed bundle Load and Unpack accept.
const maxBundleSize = 1 << 30

// maxHeaderSize is the largest safetensors JSON header the shuffle accepts,
// the same limit as nn/safetensors.MaxHeaderSize.
const maxHeaderSize = 100 << 20

// Model describes one embedded model.
type Model struct {
	Name   string // what --model selects, e.g. "mog9"
	File   string // embedded file name, NAME+PlainSuffix or NAME+PackedSuffix
	SHA256 string // of the decompressed (and unshuffled) bundle
}

// packed reports whether m's file is in Pack's form.
func (m Model) packed() bool { return strings.HasSuffix(m.File, PackedSuffix) }

// modelName returns the model name of an embedded file name and whether the
// file has one of the two known suffixes.
func modelName(file string) (string, bool) {
	for _, suf := range []string{PackedSuffix, PlainSuffix} {
		if name, ok := strings.CutSuffix(file, suf); ok && name != "" && !strings.Contains(name, "/") {
			return name, true
		}
	}
	return "", false
}

// List returns the embedded models, sorted by name.
func List() ([]Model, error) {
	sums, err := files.ReadFile("checksums.txt")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	return parseChecksums(sums)
}

// parseChecksums parses checksums.txt: one "SHA256  FILE" line per model.
func parseChecksums(sums []byte) ([]Model, error) {
	var out []Model
	seen := make(map[string]string)
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("assets: checksums.txt: malformed line %q", line)
		}
		if b, err := hex.DecodeString(f[0]); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("assets: checksums.txt: %s: %q is not a hex SHA-256", f[1], f[0])
		}
		name, ok := modelName(f[1])
		if !ok {
			return nil, fmt.Errorf("assets: checksums.txt: %q does not end in %s or %s", f[1], PlainSuffix, PackedSuffix)
		}
		if prev, dup := seen[name]; dup {
			return nil, fmt.Errorf("assets: checksums.txt: model %q is in both %s and %s", name, prev, f[1])
		}
		seen[name] = f[1]
		out = append(out, Model{Name: name, File: f[1], SHA256: strings.ToLower(f[0])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Load returns the decompressed bundle of the named model after checking its
// SHA-256. Errors about the embedded file are one line naming the file and
// the check that failed.
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
		data, err := decode(m, raw)
		return data, m, err
	}
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	return nil, Model{}, fmt.Errorf("no embedded model %q (embedded: %s)", name, strings.Join(names, ", "))
}

// decode turns raw, the contents of m.File, into the bundle bytes: zstd
// decompression, byte-unshuffle for a packed file, then the SHA-256 check.
func decode(m Model, raw []byte) ([]byte, error) {
	var data []byte
	var err error
	if m.packed() {
		data, err = Unpack(m.File, raw)
	} else {
		data, err = decompress(m.File, raw)
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != m.SHA256 {
		return nil, fmt.Errorf("assets: %s: SHA-256 check failed: %s does not match the recorded %s (corrupted binary?)", m.File, got, m.SHA256)
	}
	return data, nil
}

// decompress zstd-decompresses raw, the contents of the file called name.
func decompress(name string, raw []byte) ([]byte, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxBundleSize))
	if err != nil {
		return nil, fmt.Errorf("assets: %s: zstd: %w", name, err)
	}
	defer dec.Close()
	if len(raw) == 0 {
		return nil, fmt.Errorf("assets: %s: zstd decompression failed: empty file", name)
	}
	data, err := dec.DecodeAll(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("assets: %s: zstd decompression failed: %w", name, err)
	}
	return data, nil
}

// Pack returns the compact embedded form of a safetensors bundle: the 8-byte
// header length and JSON header as they are, the tensor data byte-shuffled by
// element size (all first bytes of every element, then all second bytes, …;
// tensors of different element sizes are shuffled in separate groups), all
// zstd-compressed at the best level (which decodes as fast as the others).
// Any dtype with whole-byte elements is accepted; to store weights as float16
// re-encode them first with safetensors.Encode. Pack checks that Unpack gives
// back st exactly.
func Pack(st []byte) ([]byte, error) {
	shuf, err := shuffle(st, false)
	if err != nil {
		return nil, fmt.Errorf("assets: pack: %w", err)
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBestCompression),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(true))
	if err != nil {
		return nil, fmt.Errorf("assets: pack: zstd: %w", err)
	}
	packed := enc.EncodeAll(shuf, nil)
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("assets: pack: zstd: %w", err)
	}
	back, err := Unpack("packed bundle", packed)
	if err != nil {
		return nil, fmt.Errorf("assets: pack: round trip: %w", err)
	}
	if !bytes.Equal(back, st) {
		return nil, errors.New("assets: pack: round trip changed the bundle")
	}
	return packed, nil
}

// Unpack inverts Pack: it zstd-decompresses packed, the contents of the file
// called name, and byte-unshuffles the tensor data. It does not check a
// SHA-256; Load does. Errors are one line naming the file and the step that
// failed.
func Unpack(name string, packed []byte) ([]byte, error) {
	shuf, err := decompress(name, packed)
	if err != nil {
		return nil, err
	}
	st, err := shuffle(shuf, true)
	if err != nil {
		return nil, fmt.Errorf("assets: %s: byte-unshuffle failed: %w", name, err)
	}
	return st, nil
}

// span is one tensor's byte range in the data section and its element size.
type span struct {
	name       string
	begin, end uint64
	size       uint64
}

// shuffle byte-shuffles (or with inverse, unshuffles) the data section of
// the safetensors bytes st, returning a new slice; the 8-byte length and the
// JSON header are left as they are, so the layout read from them serves both
// ways. The tensors are grouped by element size, smallest first (in the usual
// bundle there is one group: all of them); within a group they are taken in
// data-offset order as one run of elements, and the group is stored as all
// the first bytes of its elements, then all the second bytes, and so on.
// Shuffling a whole group rather than each tensor keeps like bytes together
// across small tensors, which zstd compresses better.
func shuffle(st []byte, inverse bool) ([]byte, error) {
	start, spans, err := layout(st)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].size < spans[j].size })
	out := make([]byte, len(st))
	copy(out[:start], st[:start])
	in, dst := st[start:], out[start:]
	var pos uint64 // where the group starts in the shuffled data section
	for g := 0; g < len(spans); {
		size := spans[g].size
		h, n := g, uint64(0) // the group is spans[g:h], n elements in all
		for ; h < len(spans) && spans[h].size == size; h++ {
			n += (spans[h].end - spans[h].begin) / size
		}
		var k uint64 // index in the group of the span's first element
		for _, s := range spans[g:h] {
			m := (s.end - s.begin) / size
			for j := range size {
				plane := pos + j*n + k // where byte j of element k goes
				for i := range m {
					if inverse {
						dst[s.begin+i*size+j] = in[plane+i]
					} else {
						dst[plane+i] = in[s.begin+i*size+j]
					}
				}
			}
			k += m
		}
		pos += n * size
		g = h
	}
	return out, nil
}

// layout reads the safetensors header of st and returns where the data
// section starts and the tensors' byte ranges in it, sorted by offset. It
// checks only what the shuffle needs: the ranges tile the data section
// exactly and each holds whole elements of its dtype.
func layout(st []byte) (uint64, []span, error) {
	if len(st) < 8 {
		return 0, nil, fmt.Errorf("%d bytes, shorter than the 8-byte header length", len(st))
	}
	n := binary.LittleEndian.Uint64(st[:8])
	if n == 0 || n > maxHeaderSize || n > uint64(len(st)-8) {
		return 0, nil, fmt.Errorf("header length %d is not in [1, min(%d, %d)]", n, maxHeaderSize, len(st)-8)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(st[8:8+n], &header); err != nil {
		return 0, nil, fmt.Errorf("header is not a JSON object: %w", err)
	}
	var spans []span
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			Dtype       string   `json:"dtype"`
			DataOffsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return 0, nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		size, ok := elementSize[e.Dtype]
		switch {
		case !ok:
			return 0, nil, fmt.Errorf("tensor %q: dtype %q has no whole-byte element size", name, e.Dtype)
		case len(e.DataOffsets) != 2 || e.DataOffsets[0] > e.DataOffsets[1]:
			return 0, nil, fmt.Errorf("tensor %q: data_offsets %v are not [begin, end]", name, e.DataOffsets)
		case (e.DataOffsets[1]-e.DataOffsets[0])%size != 0:
			return 0, nil, fmt.Errorf("tensor %q: data_offsets %v do not hold whole %d-byte %s elements",
				name, e.DataOffsets, size, e.Dtype)
		}
		spans = append(spans, span{name: name, begin: e.DataOffsets[0], end: e.DataOffsets[1], size: size})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		return spans[i].end < spans[j].end
	})
	dataLen := uint64(len(st)) - 8 - n
	var pos uint64
	for _, s := range spans {
		if s.begin != pos || s.end > dataLen {
			return 0, nil, fmt.Errorf("tensor %q: data_offsets [%d, %d] do not follow on from %d in the %d-byte data section",
				s.name, s.begin, s.end, pos, dataLen)
		}
		pos = s.end
	}
	if pos != dataLen {
		return 0, nil, fmt.Errorf("tensors cover %d of the %d-byte data section", pos, dataLen)
	}
	return 8 + n, spans, nil
}

// elementSize is the byte size of each safetensors dtype with whole-byte
// elements.
var elementSize = map[string]uint64{
	"F64": 8, "I64": 8, "U64": 8,
	"F32": 4, "I32": 4, "U32": 4,
	"F16": 2, "BF16": 2, "I16": 2, "U16": 2,
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
}
