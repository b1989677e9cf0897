package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the seed files in testdata/")

// sampleFile returns a small file with an assortment of shapes, including a
// scalar and a zero-size tensor, deliberately not in name order.
func sampleFile() *File {
	return &File{
		Tensors: []Tensor{
			{Name: "layer.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.25, 0.5, -0.125, 1000}},
			{Name: "layer.bias", Shape: []int{3}, Data: []float32{0, float32(math.Copysign(0, -1)), 7}},
			{Name: "scale", Shape: []int{}, Data: []float32{0.1}},
			{Name: "empty", Shape: []int{0, 4}, Data: []float32{}},
		},
		Metadata: map[string]string{"format": "pt", "step": "100", "note": "<a & b>"},
	}
}

func encode(t testing.TB, f *File, dt DType) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, f, dt); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b.Bytes()
}

// mustEncode is encode for use outside a test.
func mustEncode(f *File, dt DType) []byte {
	var b bytes.Buffer
	if err := Encode(&b, f, dt); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// sameTensors reports how got differs from want, comparing tensors by name,
// shapes exactly and data within tol (bit-exact when tol is 0).
func sameTensors(got, want *File, tol float64) error {
	if len(got.Tensors) != len(want.Tensors) {
		return fmt.Errorf("got %d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for _, w := range want.Tensors {
		g, ok := got.Get(w.Name)
		if !ok {
			return fmt.Errorf("tensor %q missing", w.Name)
		}
		if fmt.Sprint(g.Shape) != fmt.Sprint(w.Shape) || len(g.Data) != len(w.Data) {
			return fmt.Errorf("tensor %q: shape %v len %d, want %v len %d", w.Name, g.Shape, len(g.Data), w.Shape, len(w.Data))
		}
		for i := range w.Data {
			a, b := g.Data[i], w.Data[i]
			exact := math.Float32bits(a) == math.Float32bits(b)
			if tol == 0 && !exact || tol > 0 && math.Abs(float64(a-b)) > tol*math.Abs(float64(b)) {
				return fmt.Errorf("tensor %q[%d] = %v, want %v", w.Name, i, a, b)
			}
		}
	}
	if fmt.Sprint(got.Metadata) != fmt.Sprint(want.Metadata) {
		return fmt.Errorf("metadata %v, want %v", got.Metadata, want.Metadata)
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		dt  DType
		tol float64
	}{{F32, 0}, {F16, 1.0 / 2048}, {BF16, 1.0 / 256}} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			want := sampleFile()
			got, err := Read("rt", encode(t, want, tc.dt))
			if err != nil {
				t.Fatal(err)
			}
			if err := sameTensors(got, want, tc.tol); err != nil {
				t.Fatal(err)
			}
			// Read returns tensors in data-offset order, which Encode makes name order.
			names := []string{}
			for _, x := range got.Tensors {
				names = append(names, x.Name)
			}
			if s := strings.Join(names, ","); s != "empty,layer.bias,layer.weight,scale" {
				t.Errorf("tensor order %s", s)
			}
		})
	}
}

func TestEncodeDeterministic(t *testing.T) {
	a := encode(t, sampleFile(), F32)
	b := encode(t, sampleFile(), F32)
	f := sampleFile()
	f.Tensors[0], f.Tensors[3] = f.Tensors[3], f.Tensors[0]
	c := encode(t, f, F32)
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatal("Encode output differs between runs or input orders")
	}
	n := binary.LittleEndian.Uint64(a)
	if n%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", n)
	}
	if !bytes.Contains(a, []byte(`"<a & b>"`)) {
		t.Errorf("metadata was HTML-escaped: %s", a[8:8+n])
	}
}

// TestHandMadeGolden checks Read against bytes built by hand, independent of
// Encode: each dtype, little-endian, with space padding and metadata.
func TestHandMadeGolden(t *testing.T) {
	header := `{"__metadata__":{"k":"v"},` +
		`"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"h":{"shape":[1,2],"dtype":"F16","data_offsets":[8,12]},` +
		`"b":{"dtype":"BF16","shape":[1],"data_offsets":[12,14]},` +
		`"d":{"dtype":"F64","shape":[],"data_offsets":[14,22]}}    `
	data := []byte{
		0x00, 0x00, 0xc0, 0x3f, // F32 1.5
		0x00, 0x00, 0x00, 0xc0, // F32 -2
		0x00, 0x3c, // F16 1
		0x00, 0xb8, // F16 -0.5
		0x40, 0x40, // BF16 3
		0, 0, 0, 0, 0, 0, 0x04, 0x40, // F64 2.5
	}
	file := append(binary.LittleEndian.AppendUint64(nil, uint64(len(header))), header...)
	file = append(file, data...)
	f, err := Read("golden", file)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Tensors: []Tensor{
			{Name: "w", Shape: []int{2}, Data: []float32{1.5, -2}},
			{Name: "h", Shape: []int{1, 2}, Data: []float32{1, -0.5}},
			{Name: "b", Shape: []int{1}, Data: []float32{3}},
			{Name: "d", Shape: []int{}, Data: []float32{2.5}},
		},
		Metadata: map[string]string{"k": "v"},
	}
	if err := sameTensors(f, want, 0); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"w", "h", "b", "d"} {
		if f.Tensors[i].Name != name {
			t.Errorf("Tensors[%d] = %q, want %q (data-offset order)", i, f.Tensors[i].Name, name)
		}
	}
}

// TestPickleLookalikeHeader checks that a valid file whose 640-byte header
// length starts with the bytes 0x80 0x02 is not mistaken for a pickle.
func TestPickleLookalikeHeader(t *testing.T) {
	header := `{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	header += strings.Repeat(" ", 640-len(header))
	file := append(binary.LittleEndian.AppendUint64(nil, 640), header...)
	file = append(file, 0, 0, 0x80, 0x3f)
	if file[0] != 0x80 || file[1] != 0x02 {
		t.Fatalf("test setup: prefix % x", file[:2])
	}
	f, err := Read("lookalike", file)
	if err != nil {
		t.Fatal(err)
	}
	if x, ok := f.Get("x"); !ok || x.Data[0] != 1 {
		t.Fatalf("got %+v", f.Tensors)
	}
}

// rawFile builds a file from a header string and n data bytes.
func rawFile(header string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	for i := 0; i < n; i++ {
		b = append(b, byte(i))
	}
	return b
}

// validHeader describes two F32 tensors over a 16-byte buffer.
const validHeader = `{"__metadata__":{"k":"v"},` +
	`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
	`"b":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]}}`

type corruptCase struct {
	name string
	data []byte
	want string // substring of the error
}

// corruptCases returns malformed files, each derived from
// rawFile(validHeader, 16), and the problem their error must name.
func corruptCases() []corruptCase {
	valid := rawFile(validHeader, 16)
	hdr := func(old, new string) []byte { return rawFile(strings.Replace(validHeader, old, new, 1), 16) }
	withLen := func(n uint64) []byte {
		b := bytes.Clone(valid)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	return []corruptCase{
		{"empty", nil, "shorter than the 8-byte"},
		{"truncated in length", valid[:5], "shorter than the 8-byte"},
		{"truncated in header", valid[:30], "runs past the end"},
		{"truncated in data", valid[:len(valid)-3], "run past the 13-byte data buffer"},
		{"header length zero", withLen(0), "header length is 0"},
		{"header length huge", withLen(1 << 40), "exceeds the"},
		{"header length one too many", withLen(uint64(len(validHeader)) + 17), "runs past the end"},
		{"invalid JSON", rawFile(`{"a":{"dtype":`, 0), "not valid JSON"},
		{"JSON syntax", hdr(`"shape":[2],`, `"shape":[2] `), "not valid JSON"},
		{"not an object", rawFile(`[1,2,3]`, 0), "expected an object"},
		{"bad UTF-8", hdr(`"k":"v"`, "\"k\":\"\xff\""), "not valid UTF-8"},
		{"JSON after object", rawFile(validHeader+`{}`, 16), "after its JSON object"},
		{"duplicate key", hdr(`"b":`, `"a":`), `duplicate header key "a"`},
		{"duplicate field", hdr(`"shape":[2],`, `"shape":[2],"shape":[2],`), `duplicate field "shape"`},
		{"unknown field", hdr(`"shape":[2],`, `"shape":[2],"strides":[1],`), `unknown field "strides"`},
		{"missing field", hdr(`"shape":[2],`, ``), `missing field "shape"`},
		{"bad dtype", hdr(`"F32"`, `"F33"`), `unknown dtype "F33"`},
		{"integer dtype", hdr(`"F32"`, `"I64"`), "dtype I64 (integer/bool) is not supported"},
		{"dtype not string", hdr(`"F32"`, `32`), "dtype: expected a string, found number 32"},
		{"shape bytes mismatch", hdr(`[2]`, `[3]`), "needs 12 bytes but data_offsets [0, 8] hold 8"},
		{"negative dim", hdr(`[2,1]`, `[-2,-1]`), "negative dimension -2"},
		{"fractional dim", hdr(`[2,1]`, `[2.0,1]`), "dimension 2.0 is not a 64-bit integer"},
		{"dims overflow", hdr(`[2,1]`, `[4294967296,4294967296,4]`), "overflows a 64-bit byte count"},
		{"bytes overflow", hdr(`[2,1]`, `[4611686018427387904]`), "overflows a 64-bit byte count"},
		{"overlapping offsets", hdr(`[8,16]`, `[4,12]`), "overlap"},
		{"gap", hdr(`[2],"data_offsets":[0,8]`, `[1],"data_offsets":[0,4]`), "gap of 4 bytes after"},
		{"not from zero", rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "gap of 4 bytes after the start"},
		{"begin after end", hdr(`[8,16]`, `[16,8]`), "begin 16 is after end 8"},
		{"three offsets", hdr(`[8,16]`, `[8,16,16]`), "exactly 2 offsets"},
		{"offset past buffer", hdr(`[2,1],"data_offsets":[8,16]`, `[4,1],"data_offsets":[8,24]`), "run past the 16-byte data buffer"},
		{"trailing bytes", rawFile(validHeader, 20), "4 trailing bytes"},
		{"metadata not string", hdr(`"k":"v"`, `"k":1`), `value of "k" must be a string, found number 1`},
		{"metadata not object", hdr(`{"k":"v"}`, `["k","v"]`), `"__metadata__": expected an object`},
		{"entry not object", hdr(`"b":{"dtype":"F32","shape":[2,1],"data_offsets":[8,16]}`, `"b":null`), `tensor "b": expected an object, found null`},
		{"pickle signature", append([]byte("\x80\x02\x8a\x0alZ\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02}q\x00"), valid...), "PyTorch pickle checkpoint, not safetensors"},
		{"pickle protocol 5", append([]byte{0x80, 0x05, 0x95}, valid...), "PyTorch pickle checkpoint"},
		{"zip signature", append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl"), valid...), "PyTorch zip checkpoint"},
	}
}

func TestReadCorrupt(t *testing.T) {
	if _, err := Read("valid.safetensors", rawFile(validHeader, 16)); err != nil {
		t.Fatalf("base file: %v", err)
	}
	for _, tc := range corruptCases() {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Read("bad.safetensors", tc.data)
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, %v; want a *FormatError", f, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: bad.safetensors: ") || strings.ContainsAny(msg, "\n\r") {
				t.Errorf("badly formed message %q", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not mention %q", msg, tc.want)
			}
		})
	}
}

func TestFormatErrorOneLine(t *testing.T) {
	_, err := Read("a\nb", nil)
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %q", err)
	}
	_, err = Read("x", rawFile(strings.Replace(validHeader, `"b"`, `"b\nc"`, 1), 16))
	if err != nil {
		t.Fatalf("escaped newline in name refused: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	for name, f := range map[string]*File{
		"nil":       nil,
		"mismatch":  {Tensors: []Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1}}}},
		"negative":  {Tensors: []Tensor{{Name: "x", Shape: []int{-1}, Data: nil}}},
		"duplicate": {Tensors: []Tensor{{Name: "x", Data: []float32{1}}, {Name: "x", Data: []float32{2}}}},
		"reserved":  {Tensors: []Tensor{{Name: "__metadata__", Data: []float32{1}}}},
		"bad utf-8": {Tensors: []Tensor{{Name: "\xff", Data: []float32{1}}}},
	} {
		if err := Encode(io.Discard, f, F32); err == nil {
			t.Errorf("%s: Encode succeeded", name)
		}
	}
	if err := Encode(io.Discard, sampleFile(), DType(7)); err == nil {
		t.Error("invalid DType accepted")
	}
}

func TestParseDType(t *testing.T) {
	for _, d := range []DType{F32, F16, BF16} {
		if got, err := ParseDType(strings.ToLower(d.String())); err != nil || got != d {
			t.Errorf("ParseDType(%q) = %v, %v", d, got, err)
		}
	}
	if _, err := ParseDType("I8"); err == nil {
		t.Error("ParseDType(I8) succeeded")
	}
}

func TestZstRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors.zst")
	want := sampleFile()
	if err := WriteFile(path, want, F32); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("not zstd: % x", raw[:4])
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameTensors(got, want, 0); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.safetensors.zst")
	if err := os.WriteFile(bad, raw[:len(raw)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); err == nil || !strings.Contains(err.Error(), "bad.safetensors.zst") {
		t.Fatalf("truncated zstd: got %v", err)
	}
}

func TestWriteFileAndMissing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := WriteFile(path, sampleFile(), BF16); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(filepath.Join(dir, "missing.safetensors"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Fatalf("got %v", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("partial ", 1<<18)) // past the buffer
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	func() {
		defer func() { recover() }()
		WriteFileAtomic(path, func(w io.Writer) error { panic("write panicked") })
	}()
	checkDir(t, dir, "old")
	if err := WriteFileAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, "new")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	checkDir(t, dir, "new")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode not kept: %v %v", fi.Mode(), err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, "no", "such", "dir"), func(io.Writer) error { return nil }); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// checkDir checks that dir holds only report.txt, with contents want.
func checkDir(t *testing.T, dir, want string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "report.txt" {
		names := []string{}
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only report.txt", names)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "report.txt"))
	if string(got) != want {
		t.Fatalf("report.txt = %q, want %q", got, want)
	}
}

// seedFiles are the committed testdata files, also used as fuzz seeds.
func seedFiles() map[string][]byte {
	one := &File{Tensors: []Tensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}}}
	return map[string][]byte{
		"sample_f32.safetensors":  mustEncode(sampleFile(), F32),
		"sample_f16.safetensors":  mustEncode(sampleFile(), F16),
		"sample_bf16.safetensors": mustEncode(sampleFile(), BF16),
		"one_f32.safetensors":     mustEncode(one, F32),
		"empty.safetensors":       mustEncode(&File{}, F32),
	}
}

// TestSeedFiles checks the committed testdata files still match Encode's
// output (the format has not drifted); go test -update rewrites them.
func TestSeedFiles(t *testing.T) {
	for name, want := range seedFiles() {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from Encode's output", path)
		}
		if _, err := Read(path, got); err != nil {
			t.Error(err)
		}
	}
}

func TestF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := f16ToF32(uint16(h))
		back := f32ToF16(f)
		if math.IsNaN(float64(f)) {
			if h&0x7c00 != 0x7c00 || h&0x3ff == 0 || back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x -> %v -> %#04x", h, f, back)
			}
			continue
		}
		if back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
}

func TestBF16Exhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := bf16ToF32(uint16(h))
		back := f32ToBF16(f)
		if math.IsNaN(float64(f)) != (back&0x7f80 == 0x7f80 && back&0x7f != 0) {
			t.Fatalf("NaN %#04x -> %v -> %#04x", h, f, back)
		}
		if !math.IsNaN(float64(f)) && back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
}

func TestF16Rounding(t *testing.T) {
	p := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	for _, tc := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00},
		{1e6, 0x7c00}, {-1e6, 0xfc00}, {float32(math.Inf(1)), 0x7c00},
		{1 + p(-11), 0x3c00}, {1 + 3*p(-11), 0x3c02}, {1 + p(-11) + p(-20), 0x3c01},
		{p(-14), 0x0400}, {p(-14) - p(-25), 0x0400}, {p(-14) - p(-24), 0x03ff},
		{p(-24), 0x0001}, {p(-25), 0x0000}, {p(-25) + p(-40), 0x0001}, {3 * p(-25), 0x0002},
		{p(-26), 0}, {float32(math.Copysign(0, -1)), 0x8000}, {-p(-30), 0x8000},
	} {
		if got := f32ToF16(tc.in); got != tc.want {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
	if h := f32ToF16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN -> %#04x", h)
	}
}

// nearestEven returns the index in vals (ascending) nearest to x, ties going
// to the even index, standing in for the even mantissa.
func nearestEven(vals []float64, x float64) int {
	i := sort.SearchFloat64s(vals, x)
	if i == 0 {
		return 0
	}
	if i == len(vals) {
		return len(vals) - 1
	}
	lo, hi := x-vals[i-1], vals[i]-x
	if lo < hi || lo == hi && (i-1)%2 == 0 {
		return i - 1
	}
	return i
}

// TestHalfRoundingRandom compares f32ToF16 and f32ToBF16 on random inputs
// with a brute-force round-to-nearest-even reference.
func TestHalfRoundingRandom(t *testing.T) {
	// Non-negative finite values in bit order, plus the value Inf stands in
	// for when rounding (the next power of two after the largest finite).
	f16 := make([]float64, 0x7c01)
	for h := range f16 {
		f16[h] = float64(f16ToF32(uint16(h)))
	}
	f16[0x7c00] = 65536
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		bits := rng.Uint32()
		if i%2 == 0 { // concentrate on the binary16 range
			bits = bits&0x807fffff | uint32(100+rng.IntN(45))<<23
		}
		x := math.Float32frombits(bits)
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			continue
		}
		a := math.Abs(float64(x))
		sign := uint16(bits>>16) & 0x8000
		want := sign | uint16(nearestEven(f16, a))
		if a > 65536 {
			want = sign | 0x7c00
		}
		if got := f32ToF16(x); got != want {
			t.Fatalf("f32ToF16(%g) = %#04x, want %#04x", x, got, want)
		}
		// bfloat16 reference: the two neighbours of |x| in bfloat16 bits.
		lo := uint16(bits>>16) & 0x7fff
		c0 := float64(bf16ToF32(lo))
		c1 := float64(bf16ToF32(lo + 1)) // lo+1 = 0x7f80 is Inf; treat it as 2^128
		if lo+1 == 0x7f80 {
			c1 = math.Ldexp(1, 128)
		}
		pick := lo
		if d0, d1 := a-c0, c1-a; d1 < d0 || d1 == d0 && lo&1 == 1 {
			pick = lo + 1
		}
		want = sign | pick
		if got := f32ToBF16(x); got != want {
			t.Fatalf("f32ToBF16(%g) = %#04x, want %#04x", x, got, want)
		}
	}
}

// TestDataChecksum: Encode records the data section's SHA-256; Read refuses a file
// whose weights changed (a flipped byte in the data, not the header), hides the key
// from the caller, and reads files without the key (other tools') unchecked.
func TestDataChecksum(t *testing.T) {
	f := sampleFile()
	data := mustEncode(f, F32)
	back, err := Read("x", data)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := back.Metadata[DataSHA256Key]; ok {
		t.Error("the checksum key is returned as metadata")
	}
	bad := bytes.Clone(data)
	bad[len(bad)-3] ^= 0x01 // inside the last tensor's data
	_, err = Read("flipped.safetensors", bad)
	if err == nil || !strings.Contains(err.Error(), "SHA-256") || !strings.Contains(err.Error(), "flipped.safetensors") {
		t.Fatalf("a flipped weight byte: %v", err)
	}
	// The same flip in a file without the key is read (nothing to check it against).
	plain := bytes.Replace(data, []byte(`"`+DataSHA256Key+`"`), []byte(`"ocm.data_sha25X"`), 1)
	plain[len(plain)-3] ^= 0x01
	if _, err := Read("plain", plain); err != nil {
		t.Fatalf("a file without the checksum key: %v", err)
	}
}
