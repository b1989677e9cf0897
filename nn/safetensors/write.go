package safetensors

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// DType is the element type Encode stores tensors as.
type DType int

// The storage dtypes Encode supports. The zero value is F32.
const (
	F32  DType = iota // IEEE 754 binary32, stored exactly
	F16               // IEEE 754 binary16, rounded to nearest even
	BF16              // bfloat16, rounded to nearest even
)

// String returns the safetensors name of d ("F32", "F16", "BF16").
func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case BF16:
		return "BF16"
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// ParseDType parses a storage dtype name, case-insensitively: "F32",
// "F16", "BF16", or "float32", "float16", "bfloat16".
func ParseDType(s string) (DType, error) {
	switch strings.ToLower(s) {
	case "f32", "float32":
		return F32, nil
	case "f16", "float16":
		return F16, nil
	case "bf16", "bfloat16":
		return BF16, nil
	}
	return 0, fmt.Errorf("safetensors: unknown dtype %q, expected F32, F16 or BF16", s)
}

// size returns the byte size of one element of d.
func (d DType) size() (uint64, error) {
	switch d {
	case F32:
		return 4, nil
	case F16, BF16:
		return 2, nil
	}
	return 0, fmt.Errorf("safetensors: encode: invalid dtype %v", d)
}

// headerEntry is one tensor's header record as Encode writes it.
type headerEntry struct {
	Dtype       string    `json:"dtype"`
	Shape       []int     `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

// DataSHA256Key is the metadata key under which Encode records the SHA-256 of the
// data section, and which Read verifies when present: a flipped byte in a weight is
// then refused instead of silently changing the model. Files from other tools have
// no such key and are read without the check.
const DataSHA256Key = "ocm.data_sha256"

// Encode writes f to w in safetensors format with every tensor stored as
// dtype, recording the data section's SHA-256 in the metadata (DataSHA256Key)
// when there is at least one tensor. Tensors are stored sorted by name (header keys and data alike),
// metadata is included when non-empty, and the header is padded with spaces
// to a multiple of 8 bytes, so the output depends only on the contents of f.
func Encode(w io.Writer, f *File, dtype DType) error {
	size, err := dtype.size()
	if err != nil {
		return err
	}
	tensors, err := sortedTensors(f)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	buf := make([]byte, 0, 64<<10)
	for _, t := range tensors {
		if err := writeData(&body, buf, t.Data, dtype); err != nil {
			return fmt.Errorf("safetensors: encode: tensor %q: %w", t.Name, err)
		}
	}
	md := maps.Clone(f.Metadata)
	delete(md, DataSHA256Key)
	if len(tensors) > 0 {
		if md == nil {
			md = map[string]string{}
		}
		sum := sha256.Sum256(body.Bytes())
		md[DataSHA256Key] = hex.EncodeToString(sum[:])
	}
	header, err := buildHeader(tensors, md, dtype, size)
	if err != nil {
		return err
	}
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	if _, err := w.Write(body.Bytes()); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	return nil
}

// sortedTensors checks f's tensors and returns them sorted by name.
func sortedTensors(f *File) ([]*Tensor, error) {
	if f == nil {
		return nil, errors.New("safetensors: encode: nil File")
	}
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("safetensors: encode: metadata %q is not valid UTF-8", k)
		}
	}
	tensors := make([]*Tensor, len(f.Tensors))
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if err := checkTensor(t); err != nil {
			return nil, fmt.Errorf("safetensors: encode: tensor %q: %w", t.Name, err)
		}
		tensors[i] = t
	}
	sort.Slice(tensors, func(i, j int) bool { return tensors[i].Name < tensors[j].Name })
	for i := 1; i < len(tensors); i++ {
		if tensors[i].Name == tensors[i-1].Name {
			return nil, fmt.Errorf("safetensors: encode: duplicate tensor name %q", tensors[i].Name)
		}
	}
	return tensors, nil
}

// checkTensor checks that t can be stored: a usable name, non-negative
// dimensions, and len(Data) equal to the product of Shape.
func checkTensor(t *Tensor) error {
	switch {
	case t.Name == metadataKey:
		return errors.New("name is reserved for metadata")
	case !utf8.ValidString(t.Name):
		return errors.New("name is not valid UTF-8")
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
	}
	count, ok := elementCount(t.Shape)
	if !ok || count != uint64(len(t.Data)) {
		return fmt.Errorf("shape %v does not match %d data elements", t.Shape, len(t.Data))
	}
	return nil
}

// buildHeader returns the JSON header for tensors (already sorted by name and
// stored in that order), padded with spaces to a multiple of 8 bytes.
func buildHeader(tensors []*Tensor, meta map[string]string, dtype DType, size uint64) ([]byte, error) {
	h := make(map[string]any, len(tensors)+1)
	if len(meta) > 0 {
		h[metadataKey] = meta
	}
	var off uint64
	for _, t := range tensors {
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		n := uint64(len(t.Data)) * size
		h[t.Name] = headerEntry{Dtype: dtype.String(), Shape: shape, DataOffsets: [2]uint64{off, off + n}}
		off += n
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(h); err != nil { // map keys come out sorted
		return nil, fmt.Errorf("safetensors: encode header: %w", err)
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	for len(out)%8 != 0 {
		out = append(out, ' ')
	}
	return out, nil
}

// writeData writes data to w as little-endian dtype elements, converting
// through buf in chunks so no full-size copy is made.
func writeData(w io.Writer, buf []byte, data []float32, dtype DType) error {
	le := binary.LittleEndian
	for len(data) > 0 {
		buf = buf[:0]
		for len(data) > 0 && len(buf)+4 <= cap(buf) {
			switch dtype {
			case F32:
				buf = le.AppendUint32(buf, math.Float32bits(data[0]))
			case F16:
				buf = le.AppendUint16(buf, f32ToF16(data[0]))
			default:
				buf = le.AppendUint16(buf, f32ToBF16(data[0]))
			}
			data = data[1:]
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes f to path atomically (see WriteFileAtomic) with tensors
// stored as dtype. If path ends in ".zst" the output is zstd-compressed.
func WriteFile(path string, f *File, dtype DType) error {
	if !strings.HasSuffix(path, ".zst") {
		return WriteFileAtomic(path, func(w io.Writer) error { return Encode(w, f, dtype) })
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return fmt.Errorf("safetensors: zstd: %w", err)
		}
		err = Encode(zw, f, dtype)
		if cerr := zw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("safetensors: zstd: %w", cerr)
		}
		return err
	})
}

// f32ToF16 converts f to IEEE 754 binary16 bits, rounding to nearest even.
// Values too large become ±Inf, values too small become subnormals or ±0,
// and NaN stays NaN (quieted, keeping the top payload bits).
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased binary16 exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 { // below half the smallest subnormal (or zero)
			return sign
		}
		// Subnormal: value = m × 2^(exp-150) = k × 2^-24 with k = m >> (14-e).
		return sign | uint16(roundShift(mant|0x800000, uint(14-e)))
	}
	// Normal: a carry out of the mantissa correctly bumps the exponent,
	// up to 0x7c00 (Inf).
	return sign | uint16(roundShift(uint32(e)<<23|mant, 13))
}

// roundShift returns v >> s rounded to nearest, ties to even (1 ≤ s ≤ 31).
func roundShift(v uint32, s uint) uint32 {
	q := v >> s
	rem := v & (1<<s - 1)
	half := uint32(1) << (s - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	return q
}

// f32ToBF16 converts f to bfloat16 bits, rounding to nearest even; NaN stays
// NaN (quieted).
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}
