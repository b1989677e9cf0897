// Package safetensors reads and writes the safetensors weight-file format.
//
// A safetensors file is an 8-byte little-endian header length N, then N bytes
// of a UTF-8 JSON object mapping tensor names to {"dtype", "shape",
// "data_offsets"} (plus an optional "__metadata__" string→string object),
// then the raw little-endian tensor bytes.
//
// Files come from elsewhere, so Read is paranoid: every length, offset and
// shape is checked before anything is allocated, the tensor byte ranges must
// tile the data buffer exactly, and malformed input gives a one-line
// *FormatError naming the file and the problem rather than a panic.
// PyTorch pickle/zip checkpoints are recognised and refused, never unpickled.
//
// In memory every tensor is float32; F16, BF16 and F64 data is converted on
// load, and Encode can store F32, F16 or BF16 (rounding to nearest even).
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
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest JSON header Read accepts (100 MiB).
const MaxHeaderSize = 100 << 20

// MaxDecodedSize is the largest decompressed size ReadFile accepts for a
// ".zst" file (4 GiB).
const MaxDecodedSize int64 = 4 << 30

// metadataKey is the reserved header key holding the string→string metadata.
const metadataKey = "__metadata__"

// Tensor is one named array read from or written to a file, always float32 in
// memory. Data is in row-major order and len(Data) is the product of Shape
// (1 for an empty Shape, i.e. a scalar).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// File is a parsed safetensors file.
type File struct {
	// Tensors is in data-offset order when read by Read; Encode stores it
	// sorted by name whatever the order here.
	Tensors []Tensor
	// Metadata is the optional "__metadata__" object; nil when absent.
	Metadata map[string]string
}

// Get returns the tensor called name, if present.
func (f *File) Get(name string) (*Tensor, bool) {
	if f == nil {
		return nil, false
	}
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// FormatError reports a file that is not a well-formed safetensors file.
type FormatError struct {
	// File is the name given to Read (usually the file path).
	File string
	// Reason is a one-line description of what was expected.
	Reason string
}

// Error returns "safetensors: FILE: REASON" on one line.
func (e *FormatError) Error() string {
	msg := "safetensors: " + e.File + ": " + e.Reason
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(msg)
}

// Read parses data, the whole contents of a safetensors file, converting every
// tensor to float32. name is used in error messages (the file path). Any
// problem with the bytes is reported as a *FormatError.
func Read(name string, data []byte) (*File, error) {
	f, err := parse(data, false)
	if err != nil {
		if why := notSafetensors(data); why != "" {
			err = errors.New(why)
		}
		return nil, &FormatError{File: name, Reason: err.Error()}
	}
	return f, nil
}

// notSafetensors says what data is when it starts like a file of another kind (a
// PyTorch checkpoint, an image, a compressed file), "" otherwise. It is consulted only
// once data has failed to parse.
func notSafetensors(data []byte) string {
	if kind := pickleKind(data); kind != "" {
		return "is a PyTorch " + kind + " checkpoint, not safetensors; read it with --arch NAME, or " +
			"convert it with safetensors.torch.save_file (it is never unpickled here)"
	}
	for _, k := range []struct{ magic, what string }{{"\x89PNG", "a PNG image"}, {"\xff\xd8\xff", "a JPEG image"},
		{"\x1f\x8b", "a gzip file"}, {"\x28\xb5\x2f\xfd", "a zstd file (name it .safetensors.zst)"}} {
		if bytes.HasPrefix(data, []byte(k.magic)) {
			return "is " + k.what + ", not a safetensors file"
		}
	}
	return ""
}

// pickleKind reports whether data starts like a PyTorch checkpoint: "pickle"
// for a pickle protocol 2–5 stream, "zip" for a zip archive (torch.save's
// default format since 1.6), "" otherwise. Read only consults it once data has
// failed to parse, so a valid safetensors file whose header length happens to
// begin with those bytes is still accepted.
func pickleKind(data []byte) string {
	switch {
	case len(data) >= 2 && data[0] == 0x80 && data[1] >= 2 && data[1] <= 5:
		return "pickle"
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "zip"
	}
	return ""
}

// parse does the work of Read; its errors are the FormatError reasons. requireSum
// refuses an ocm file without its data checksum (see IsOCMFormat).
func parse(data []byte, requireSum bool) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if err := checkHeaderLength(n, uint64(len(data)), uint64(len(data))); err != nil {
		return nil, err
	}
	entries, meta, err := parseHeader(data[8 : 8+n])
	if err != nil {
		return nil, err
	}
	buf := data[8+n:]
	if err := checkLayout(entries, uint64(len(buf))); err != nil {
		return nil, err
	}
	return finish(entries, meta, buf, requireSum)
}

// checkHeaderLength checks header length n against MaxHeaderSize, against size, the
// whole file's length, and against limit, the most the file may hold.
func checkHeaderLength(n, size, limit uint64) error {
	switch {
	case n == 0:
		return errors.New("header length is 0, expected a JSON object")
	case n > MaxHeaderSize:
		return fmt.Errorf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	case n > size-8:
		return fmt.Errorf("header length %d runs past the end of the %d-byte file", n, size)
	case n > limit-8:
		return fmt.Errorf("header length %d runs past the %d-byte limit on this file", n, limit)
	}
	return nil
}

// finish verifies the data checksum, when the header records one, and converts
// every tensor of buf, the data section whose layout has been checked.
func finish(entries []entry, meta map[string]string, buf []byte, requireSum bool) (*File, error) {
	if want, ok := meta[DataSHA256Key]; ok {
		sum := sha256.Sum256(buf)
		if got := hex.EncodeToString(sum[:]); got != want {
			return nil, fmt.Errorf("data section SHA-256 %.16s… does not match the %.16s… recorded in the header (%s): the file is corrupted", got, want, DataSHA256Key)
		}
		delete(meta, DataSHA256Key) // checked; not the caller's metadata
		if len(meta) == 0 {
			meta = nil
		}
	} else if requireSum && len(entries) > 0 && IsOCMFormat(meta["format"]) {
		return nil, fmt.Errorf("metadata format %q is ocm's, whose files always record the data checksum %s, but it is missing: the file was altered; its weights are refused",
			meta["format"], DataSHA256Key)
	}
	f := &File{Tensors: make([]Tensor, len(entries)), Metadata: meta}
	for i, e := range entries {
		f.Tensors[i] = Tensor{Name: e.name, Shape: e.shape, Data: decode(e.dtype, buf[e.begin:e.end])}
	}
	return f, nil
}

// OCMFormatPrefix begins the metadata "format" of every file ocm writes: bundles,
// checkpoints and classifiers, named ocm-<kind>/<version> (see IsOCMFormat).
const OCMFormatPrefix = "ocm-"

// IsOCMFormat reports whether format names one of the file formats ocm writes,
// "ocm-<kind>/<version>". Encode always records the data checksum in them, so
// ReadFile, ReadFileSum and Decode refuse such a file without it (DataSHA256Key
// renamed or stripped): its weights cannot be trusted. Files of other tools (any
// other format, or none; the PyTorch-written test goldens' unversioned
// "ocm-unet-golden" among them) are read without a checksum. Read, which parses
// bytes already in memory (the embedded models, verified by their own SHA-256),
// accepts a missing one.
func IsOCMFormat(format string) bool {
	kind, version, ok := strings.Cut(strings.TrimPrefix(format, OCMFormatPrefix), "/")
	return ok && strings.HasPrefix(format, OCMFormatPrefix) && kind != "" && version != ""
}

// ReadFile reads and parses the safetensors file at path. If path ends in
// ".zst" the file is zstd-decompressed first. See ReadFileSum for the limits.
func ReadFile(path string) (*File, error) {
	f, _, err := ReadFileSum(path)
	return f, err
}

// Decode parses raw, the bytes of the file named name, as ReadFile does: zstd-
// decompressed first when name ends in ".zst", and refused when it is an ocm file
// without its data checksum.
func Decode(name string, raw []byte) (*File, error) {
	return readStream(name, bytes.NewReader(raw), int64(len(raw)))
}

// entry is one tensor's record in the header.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end uint64
}

// parseHeader walks the header JSON token by token, so that duplicate keys,
// unknown fields and wrongly typed values are all caught (encoding/json's
// Unmarshal would silently keep the last duplicate).
func parseHeader(h []byte) ([]entry, map[string]string, error) {
	if !utf8.Valid(h) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.UseNumber()
	if err := expectDelim(dec, '{', "header"); err != nil {
		return nil, nil, err
	}
	seen := make(map[string]bool)
	var entries []entry
	var meta map[string]string
	for dec.More() {
		key, err := readKey(dec, "header")
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("duplicate header key %q", key)
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = parseMetadata(dec); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := parseEntry(dec, key)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if err := expectDelim(dec, '}', "header"); err != nil {
		return nil, nil, err
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, jsonError(err)
		}
		return nil, nil, fmt.Errorf("header has %s after its JSON object, expected only space padding", describe(tok))
	}
	return entries, meta, nil
}

// parseMetadata reads the "__metadata__" value, which must be an object
// mapping strings to strings.
func parseMetadata(dec *json.Decoder) (map[string]string, error) {
	const what = `"__metadata__"`
	if err := expectDelim(dec, '{', what); err != nil {
		return nil, err
	}
	meta := make(map[string]string)
	for dec.More() {
		key, err := readKey(dec, what)
		if err != nil {
			return nil, err
		}
		if _, dup := meta[key]; dup {
			return nil, fmt.Errorf("%s: duplicate key %q", what, key)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		s, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s: value of %q must be a string, found %s", what, key, describe(tok))
		}
		meta[key] = s
	}
	return meta, expectDelim(dec, '}', what)
}

// parseEntry reads one tensor's {"dtype", "shape", "data_offsets"} object and
// checks that its shape and dtype account for exactly its byte range.
func parseEntry(dec *json.Decoder, name string) (entry, error) {
	e := entry{name: name}
	what := fmt.Sprintf("tensor %q", name)
	if err := expectDelim(dec, '{', what); err != nil {
		return e, err
	}
	have := make(map[string]bool, 3)
	for dec.More() {
		field, err := readKey(dec, what)
		if err != nil {
			return e, err
		}
		if have[field] {
			return e, fmt.Errorf("%s: duplicate field %q", what, field)
		}
		have[field] = true
		switch field {
		case "dtype":
			err = readString(dec, &e.dtype, what+": dtype")
		case "shape":
			e.shape, err = readShape(dec, what)
		case "data_offsets":
			e.begin, e.end, err = readOffsets(dec, what)
		default:
			err = fmt.Errorf("%s: unknown field %q, expected only dtype, shape and data_offsets", what, field)
		}
		if err != nil {
			return e, err
		}
	}
	if err := expectDelim(dec, '}', what); err != nil {
		return e, err
	}
	for _, field := range []string{"dtype", "shape", "data_offsets"} {
		if !have[field] {
			return e, fmt.Errorf("%s: missing field %q", what, field)
		}
	}
	return e, checkEntrySize(e, what)
}

// checkEntrySize checks the dtype and that shape × dtype size, computed
// without overflow, equals the length of the entry's byte range.
func checkEntrySize(e entry, what string) error {
	size, err := dtypeSize(e.dtype)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	count, ok := elementCount(e.shape)
	if !ok || count > math.MaxUint64/size {
		return fmt.Errorf("%s: shape %v overflows a 64-bit byte count", what, e.shape)
	}
	if got, want := e.end-e.begin, count*size; got != want {
		return fmt.Errorf("%s: shape %v of %s needs %d bytes but data_offsets [%d, %d] hold %d",
			what, e.shape, e.dtype, want, e.begin, e.end, got)
	}
	return nil
}

// elementCount returns the product of shape (1 for a scalar), or false if it
// overflows uint64. Any zero dimension makes the count zero.
func elementCount(shape []int) (uint64, bool) {
	count := uint64(1)
	for _, d := range shape {
		if d == 0 {
			return 0, true
		}
	}
	for _, d := range shape {
		if count > math.MaxUint64/uint64(d) {
			return 0, false
		}
		count *= uint64(d)
	}
	return count, true
}

// dtypeSize returns the byte size of a dtype Read can convert to float32.
func dtypeSize(dtype string) (uint64, error) {
	switch dtype {
	case "F64":
		return 8, nil
	case "F32":
		return 4, nil
	case "F16", "BF16":
		return 2, nil
	case "BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64":
		return 0, fmt.Errorf("dtype %s (integer/bool) is not supported, expected a float dtype: F32, F16, BF16 or F64", dtype)
	case "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64":
		return 0, fmt.Errorf("dtype %s is not supported, expected F32, F16, BF16 or F64", dtype)
	}
	return 0, fmt.Errorf("unknown dtype %q, expected F32, F16, BF16 or F64", dtype)
}

// readShape reads a JSON array of non-negative integer dimensions.
func readShape(dec *json.Decoder, what string) ([]int, error) {
	what += ": shape"
	if err := expectDelim(dec, '[', what); err != nil {
		return nil, err
	}
	shape := []int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: expected integer dimensions, found %s", what, describe(tok))
		}
		d, err := strconv.ParseInt(string(num), 10, 64)
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: dimension %s is not a 64-bit integer", what, num)
		case d < 0:
			return nil, fmt.Errorf("%s: negative dimension %d", what, d)
		case d > math.MaxInt:
			return nil, fmt.Errorf("%s: dimension %d is too large for this platform", what, d)
		}
		shape = append(shape, int(d))
	}
	return shape, expectDelim(dec, ']', what)
}

// readOffsets reads data_offsets, an array of exactly two non-negative
// integers begin ≤ end.
func readOffsets(dec *json.Decoder, what string) (begin, end uint64, err error) {
	what += ": data_offsets"
	if err := expectDelim(dec, '[', what); err != nil {
		return 0, 0, err
	}
	var offs []uint64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, 0, jsonError(err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return 0, 0, fmt.Errorf("%s: expected integers, found %s", what, describe(tok))
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: offset %s is not a non-negative 64-bit integer", what, num)
		}
		if len(offs) == 2 {
			return 0, 0, fmt.Errorf("%s: expected exactly 2 offsets [begin, end], found more", what)
		}
		offs = append(offs, v)
	}
	if err := expectDelim(dec, ']', what); err != nil {
		return 0, 0, err
	}
	if len(offs) != 2 {
		return 0, 0, fmt.Errorf("%s: expected exactly 2 offsets [begin, end], found %d", what, len(offs))
	}
	if offs[0] > offs[1] {
		return 0, 0, fmt.Errorf("%s: begin %d is after end %d", what, offs[0], offs[1])
	}
	return offs[0], offs[1], nil
}

// readKey reads an object key.
func readKey(dec *json.Decoder, what string) (string, error) {
	var s string
	return s, readString(dec, &s, what+" key")
}

// readString reads one JSON string token into *s.
func readString(dec *json.Decoder, s *string, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	str, ok := tok.(string)
	if !ok {
		return fmt.Errorf("%s: expected a string, found %s", what, describe(tok))
	}
	*s = str
	return nil
}

// expectDelim reads one token, which must be the delimiter d.
func expectDelim(dec *json.Decoder, d json.Delim, what string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if tok != d {
		kind := map[json.Delim]string{'{': "an object", '}': "the end of the object",
			'[': "an array", ']': "the end of the array"}[d]
		return fmt.Errorf("%s: expected %s, found %s", what, kind, describe(tok))
	}
	return nil
}

// jsonError turns a json.Decoder error into a header error.
func jsonError(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("header is not valid JSON: it ends before the object is closed")
	}
	return fmt.Errorf("header is not valid JSON: %v", err)
}

// describe names a JSON token for error messages, shortening long strings.
func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("'%c'", rune(t))
	case string:
		if len(t) > 40 {
			t = t[:40] + "..."
		}
		return fmt.Sprintf("string %q", t)
	case json.Number:
		return "number " + string(t)
	case bool:
		return fmt.Sprintf("boolean %t", t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// checkLayout sorts entries by data offset and checks that their byte ranges
// tile the bufLen-byte data buffer exactly: starting at 0, with no gaps, no
// overlaps and no trailing bytes.
func checkLayout(entries []entry, bufLen uint64) error {
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	var pos uint64
	prev := "the start of the data buffer"
	for _, e := range entries {
		switch {
		case e.end > bufLen:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] run past the %d-byte data buffer",
				e.name, e.begin, e.end, bufLen)
		case e.begin < pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] overlap %s, which ends at %d",
				e.name, e.begin, e.end, prev, pos)
		case e.begin > pos:
			return fmt.Errorf("tensor %q: data_offsets [%d, %d] leave a gap of %d bytes after %s",
				e.name, e.begin, e.end, e.begin-pos, prev)
		}
		pos, prev = e.end, fmt.Sprintf("tensor %q", e.name)
	}
	if pos != bufLen {
		return fmt.Errorf("%d trailing bytes after the last tensor's data, expected the tensors to cover the %d-byte data buffer",
			bufLen-pos, bufLen)
	}
	return nil
}

// decode converts little-endian raw bytes of a checked dtype to float32.
func decode(dtype string, raw []byte) []float32 {
	le := binary.LittleEndian
	switch dtype {
	case "F64":
		out := make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
		return out
	case "F32":
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out
	}
	out := make([]float32, len(raw)/2)
	conv := f16ToF32
	if dtype == "BF16" {
		conv = bf16ToF32
	}
	for i := range out {
		out[i] = conv(le.Uint16(raw[2*i:]))
	}
	return out
}

// f16ToF32 converts IEEE 754 binary16 bits to float32 (exactly; NaN payloads
// are kept).
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		v := float32(mant) * (1.0 / (1 << 24)) // subnormal or zero: mant × 2⁻²⁴
		return math.Float32frombits(math.Float32bits(v) | sign)
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// bf16ToF32 converts bfloat16 bits to float32 (exactly).
func bf16ToF32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}
