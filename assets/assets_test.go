package assets

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"ocm/nn/safetensors"
)

var (
	update    = flag.Bool("update", false, "rewrite checksums.txt from the *"+PlainSuffix+" and *"+PackedSuffix+" files in this folder")
	packFlag  = flag.String("pack", "", "TestPack: embed the bundle at PATH as model NAME, given as NAME=PATH")
	dtypeFlag = flag.String("dtype", "f16", "TestPack: dtype to store the weights as: f16, bf16 or f32")
	sizesFlag = flag.String("sizes", "", "TestSizes: report packed sizes of the bundle at PATH, or of a synthetic 1M-parameter one for \"synthetic\"")
)

// TestChecksums loads every embedded model (which verifies its SHA-256) and, with
// -update, first rewrites checksums.txt from the files on disk.
func TestChecksums(t *testing.T) {
	if *update {
		writeChecksums(t)
	}
	models, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(models) == 0 {
		t.Fatal("no embedded models")
	}
	listed := make(map[string]bool)
	for _, m := range models {
		listed[m.File] = true
		data, _, err := Load(m.Name)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if _, err := safetensors.Read(m.File, data); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
	}
	embedded, err := fs.Glob(files, "*.zst")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range embedded {
		if !listed[f] {
			t.Errorf("%s is embedded but not in checksums.txt (run go test ./assets -run TestChecksums -update)", f)
		}
	}
}

// TestCorruptionIsRefused corrupts the first embedded model's file (a flipped
// byte, a truncation) and its decompressed bundle, and checks each is refused
// with one line naming the file.
func TestCorruptionIsRefused(t *testing.T) {
	models, err := List()
	if err != nil {
		t.Fatal(err)
	}
	m := models[0]
	raw, err := files.ReadFile(m.File)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decode(m, raw)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Clone(want)
	data[len(data)/2] ^= 1
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) == m.SHA256 {
		t.Fatal("a flipped byte kept the SHA-256")
	}
	// A few positions spread over the file, including the zstd frame header
	// and the trailing checksum, and a few truncations.
	positions := []int{0, 3, 4, 5, 6, 7, 8, 12, 100, len(raw) - 4, len(raw) - 1}
	for k := 1; k < 16; k++ {
		positions = append(positions, k*len(raw)/16)
	}
	for _, i := range positions {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x10
		checkFlip(t, m, bad, want, i, fmt.Sprintf("byte %d flipped", i))
	}
	for _, n := range []int{0, 3, 10, len(raw) / 2, len(raw) - 1} {
		checkRefused(t, m, raw[:n], fmt.Sprintf("truncated to %d bytes", n))
	}
	if _, _, err := Load("no-such-model"); err == nil {
		t.Error("unknown model name accepted")
	}
}

// checkFlip is checkRefused for raw with byte i changed, except that it
// accepts a change in the zstd frame header (its first 18 bytes) that
// decodes to want, the original bundle: the frame header has a bit that
// decoders must ignore. Load can never return anything but the recorded
// bundle, whose SHA-256 it checks.
func checkFlip(t *testing.T, m Model, raw, want []byte, i int, what string) string {
	t.Helper()
	if data, err := decode(m, raw); err == nil && i < 18 && bytes.Equal(data, want) {
		t.Logf("%s: %s: harmless, decoded to the same bundle", m.File, what)
		return "harmless"
	}
	return checkRefused(t, m, raw, what)
}

// checkRefused checks that decode refuses raw as m.File with a one-line error
// naming the file and a check, and returns which check it names.
func checkRefused(t *testing.T, m Model, raw []byte, what string) string {
	t.Helper()
	data, err := decode(m, raw)
	if err == nil {
		t.Errorf("%s: %s accepted (%d bytes decoded)", m.File, what, len(data))
		return ""
	}
	msg := err.Error()
	if !strings.Contains(msg, m.File) || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("%s: %s: error is not one line naming the file: %q", m.File, what, msg)
	}
	for _, check := range []string{"zstd decompression failed", "byte-unshuffle failed", "SHA-256 check failed"} {
		if strings.Contains(msg, check) {
			return check
		}
	}
	t.Errorf("%s: %s: error names no check: %q", m.File, what, msg)
	return ""
}

// TestChecksumsFile checks that malformed checksums.txt lines are refused.
func TestChecksumsFile(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	good := sha + "  a" + PlainSuffix + "\n" + sha + "  b" + PackedSuffix + "\n"
	models, err := parseChecksums([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 2 || models[0].Name != "a" || models[0].packed() || models[1].Name != "b" || !models[1].packed() {
		t.Errorf("parsed %+v", models)
	}
	for _, bad := range []string{
		sha + "  a" + PlainSuffix + "\n" + sha + "  a" + PackedSuffix, // one model twice
		sha + "  a.safetensors",   // unknown suffix
		sha + "  " + PackedSuffix, // no name
		"abcd  a" + PlainSuffix,   // short SHA-256
		sha + "  a" + PlainSuffix + " extra",
	} {
		if _, err := parseChecksums([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestShuffleLayout checks the shuffled byte order on a hand-made bundle whose
// tensors have different element sizes, and that unshuffling inverts it.
func TestShuffleLayout(t *testing.T) {
	header := `{"__metadata__":{"k":"v"},"x":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},` +
		`"y":{"dtype":"F32","shape":[2],"data_offsets":[6,14]},"z":{"dtype":"F32","shape":[0],"data_offsets":[14,14]},` +
		`"w":{"dtype":"BF16","shape":[],"data_offsets":[14,16]},"v":{"dtype":"U8","shape":[2],"data_offsets":[16,18]}}`
	data := []byte{1, 2, 3, 4, 5, 6, 10, 11, 12, 13, 20, 21, 22, 23, 7, 8, 30, 31}
	// U8 first, then the 2-byte x and w as one run, then the 4-byte y.
	want := []byte{30, 31, 1, 3, 5, 7, 2, 4, 6, 8, 10, 20, 11, 21, 12, 22, 13, 23}
	st := rawBundle(header, data)
	shuf, err := shuffle(st, false)
	if err != nil {
		t.Fatal(err)
	}
	start := len(st) - len(data)
	if !bytes.Equal(shuf[:start], st[:start]) {
		t.Error("shuffle changed the header")
	}
	if got := shuf[start:]; !bytes.Equal(got, want) {
		t.Errorf("shuffled data %v, want %v", got, want)
	}
	back, err := shuffle(shuf, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, st) {
		t.Errorf("unshuffle gave %v, want %v", back, st)
	}
}

// TestShuffleRefusesMalformed checks that layouts the shuffle cannot follow
// are refused rather than mangled.
func TestShuffleRefusesMalformed(t *testing.T) {
	for _, c := range []struct {
		header string
		data   int
	}{
		{`{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,5]}}`, 5},                                                      // half an element
		{`{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}`, 8},                                                      // trailing bytes
		{`{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,6]}}`, 4},                                                      // past the end
		{`{"x":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}}`, 4},                                                      // gap
		{`{"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"F16","shape":[2],"data_offsets":[2,6]}}`, 6}, // overlap
		{`{"x":{"dtype":"F16","shape":[1],"data_offsets":[4,2]}}`, 4},                                                      // begin after end
		{`{"x":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, 1},                                                       // sub-byte dtype
		{`{"x":{"dtype":"F16","shape":[1],"data_offsets":[0]}}`, 2},                                                        // one offset
		{`{"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}`, 2},                                                       // bad JSON
		{`["x"]`, 0}, // not an object
	} {
		st := rawBundle(c.header, make([]byte, c.data))
		if _, err := shuffle(st, true); err == nil {
			t.Errorf("%s with %d data bytes accepted", c.header, c.data)
		}
	}
	for _, st := range [][]byte{nil, {1, 2, 3}, {0, 0, 0, 0, 0, 0, 0, 0}, {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'}} {
		if _, err := shuffle(st, true); err == nil {
			t.Errorf("%v accepted", st)
		}
	}
}

// TestRoundTrip packs F32, F16 and BF16 bundles (odd-sized, empty and scalar
// tensors, metadata) and checks that the load path gives them back exactly.
func TestRoundTrip(t *testing.T) {
	for _, dtype := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		st := encode(t, testBundle(), dtype)
		packed, err := Pack(st)
		if err != nil {
			t.Fatalf("%v: %v", dtype, err)
		}
		m := model("rt-"+dtype.String()+PackedSuffix, st)
		got, err := decode(m, packed)
		if err != nil {
			t.Fatalf("%v: %v", dtype, err)
		}
		if !bytes.Equal(got, st) {
			t.Fatalf("%v: round trip changed the bundle", dtype)
		}
		if _, err := safetensors.Read(m.File, got); err != nil {
			t.Fatal(err)
		}
		shuf, err := shuffle(st, false)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(shuf, st) {
			t.Errorf("%v: shuffle left the bundle as it was", dtype)
		}
		t.Logf("%v: %d-byte bundle packs to %d bytes", dtype, len(st), len(packed))
	}
}

// TestPackedCorruption flips every byte of a packed blob, truncates it at
// every length, corrupts its shuffled header and its recorded SHA-256, and
// checks each is refused with one line naming the file and the check.
func TestPackedCorruption(t *testing.T) {
	st := encode(t, testBundle(), safetensors.F16)
	packed, err := Pack(st)
	if err != nil {
		t.Fatal(err)
	}
	m := model("corrupt"+PackedSuffix, st)
	checks := make(map[string]int)
	for i := range packed {
		bad := bytes.Clone(packed)
		bad[i] ^= byte(1 << (i % 8))
		checks[checkFlip(t, m, bad, st, i, fmt.Sprintf("bit %d of byte %d flipped", i%8, i))]++
	}
	for n := range len(packed) {
		checks[checkRefused(t, m, packed[:n], fmt.Sprintf("truncated to %d bytes", n))]++
	}
	checks[checkRefused(t, m, append(bytes.Clone(packed), 0), "one byte appended")]++
	t.Logf("%d-byte blob: refusals by check: %v", len(packed), checks)

	// A well-compressed blob whose shuffled bundle is malformed.
	bad := zstdBest(t, rawBundle(`{"x":{"dtype":"F16","shape":[3],"data_offsets":[0,5]}}`, make([]byte, 5)))
	if check := checkRefused(t, m, bad, "odd F16 byte range"); check != "byte-unshuffle failed" {
		t.Errorf("malformed shuffle input refused by %q", check)
	}
	bad = zstdBest(t, []byte("short"))
	if check := checkRefused(t, m, bad, "5-byte bundle"); check != "byte-unshuffle failed" {
		t.Errorf("5-byte bundle refused by %q", check)
	}
	// An intact blob with a different recorded SHA-256.
	other := m
	other.SHA256 = strings.Repeat("0", 64)
	if check := checkRefused(t, other, packed, "wrong SHA-256"); check != "SHA-256 check failed" {
		t.Errorf("wrong SHA-256 refused by %q", check)
	}
	// The shuffled bundle unshuffles into a different, well-formed bundle if
	// the stored layout changes: the SHA-256 catches it.
	shuf, err := shuffle(st, false)
	if err != nil {
		t.Fatal(err)
	}
	swapped := bytes.Clone(shuf)
	k := len(swapped) - 10
	swapped[k], swapped[k+1] = swapped[k+1]^0x40, swapped[k]
	if check := checkRefused(t, m, zstdBest(t, swapped), "shuffled data changed"); check != "SHA-256 check failed" {
		t.Errorf("changed shuffled data refused by %q", check)
	}
}

// TestShuffleShrinks checks that byte-shuffling helps on smooth weights: the
// packed F16 bundle is smaller than the same bundle only zstd-compressed.
func TestShuffleShrinks(t *testing.T) {
	f := smoothBundle(1<<16, 1)
	for _, dtype := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		st := encode(t, f, dtype)
		packed, err := Pack(st)
		if err != nil {
			t.Fatal(err)
		}
		plain := len(zstdBest(t, st))
		t.Logf("smooth %v: %d bytes, zstd %d (%.1f%%), shuffled+zstd %d (%.1f%%)",
			dtype, len(st), plain, pct(plain, len(st)), len(packed), pct(len(packed), len(st)))
		if dtype == safetensors.F16 {
			if len(packed) >= plain {
				t.Errorf("shuffled F16 blob is %d bytes, not smaller than the unshuffled %d", len(packed), plain)
			}
		}
	}
}

// TestPack embeds a bundle as a model: with -pack NAME=PATH it re-encodes
// PATH as -dtype, packs it into NAME+PackedSuffix here, removes a
// NAME+PlainSuffix it replaces, and rewrites checksums.txt. See the package
// comment.
func TestPack(t *testing.T) {
	if *packFlag == "" {
		t.Skip("no -pack NAME=PATH given")
	}
	name, path, ok := strings.Cut(*packFlag, "=")
	if !ok || path == "" || !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`).MatchString(name) {
		t.Fatalf("-pack %q: expected NAME=PATH, NAME made of letters, digits, '-' and '_'", *packFlag)
	}
	dtype, err := safetensors.ParseDType(*dtypeFlag)
	if err != nil {
		t.Fatalf("-dtype: %v", err)
	}
	src, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, src, dtype); err != nil {
		t.Fatal(err)
	}
	st := buf.Bytes()
	stored, err := safetensors.Read(path+" as "+dtype.String(), st)
	if err != nil {
		t.Fatal(err)
	}
	if err := reportConversion(t, src, stored, dtype); err != nil {
		t.Fatal(err)
	}
	packed, err := Pack(st)
	if err != nil {
		t.Fatal(err)
	}
	file := name + PackedSuffix
	if err := safetensors.WriteFileAtomic(file, func(w io.Writer) error { _, err := w.Write(packed); return err }); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(name + PlainSuffix); err == nil {
		t.Logf("removed %s, which %s replaces", name+PlainSuffix, file)
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	sums, err := diskChecksums(".")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("checksums.txt", sums, 0o644); err != nil {
		t.Fatal(err)
	}
	// Load the written file the way the rebuilt binary will.
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode(model(file, st), raw); err != nil {
		t.Fatal(err)
	}
	var params int
	for _, tn := range src.Tensors {
		params += len(tn.Data)
	}
	t.Logf("%s: %d parameters, %d-byte %s bundle, packed to %d bytes (%.1f%%); rewrote checksums.txt: rebuild to embed it",
		file, params, len(st), dtype, len(packed), pct(len(packed), len(st)))
}

// reportConversion logs how far the dtype moved the weights and returns an
// error if it overflowed a finite weight to ±Inf or changed a NaN/Inf.
func reportConversion(t *testing.T, src, stored *safetensors.File, dtype safetensors.DType) error {
	var maxAbs, maxRel, sumSq, sumSqErr float64
	var flushed, count int
	for _, a := range src.Tensors {
		b, ok := stored.Get(a.Name)
		if !ok || len(b.Data) != len(a.Data) {
			return fmt.Errorf("tensor %q lost in re-encoding", a.Name)
		}
		for i, x := range a.Data {
			y := b.Data[i]
			fx, fy := float64(x), float64(y)
			switch {
			case math.IsNaN(fx) || math.IsInf(fx, 0):
				if math.IsNaN(fx) != math.IsNaN(fy) || (!math.IsNaN(fx) && fx != fy) {
					return fmt.Errorf("tensor %q[%d]: %v stored as %v", a.Name, i, x, y)
				}
				continue
			case math.IsInf(fy, 0):
				return fmt.Errorf("tensor %q[%d]: %v overflows %v (use -dtype bf16 or f32)", a.Name, i, x, dtype)
			}
			d := math.Abs(fx - fy)
			maxAbs = max(maxAbs, d)
			if fx != 0 {
				maxRel = max(maxRel, d/math.Abs(fx))
				if fy == 0 {
					flushed++
				}
			}
			sumSq += fx * fx
			sumSqErr += d * d
			count++
		}
	}
	rel := 0.0
	if sumSq > 0 {
		rel = math.Sqrt(sumSqErr / sumSq)
	}
	t.Logf("%v conversion of %d weights: max abs error %.3g, max relative error %.3g, RMS error / RMS weight %.3g, %d nonzero weights flushed to 0",
		dtype, count, maxAbs, maxRel, rel, flushed)
	return nil
}

// TestSizes reports, with -sizes PATH (or -sizes synthetic), the size of a
// bundle stored as F32, F16 and BF16, zstd-compressed with and without
// byte-shuffling.
func TestSizes(t *testing.T) {
	if *sizesFlag == "" {
		t.Skip("no -sizes PATH given")
	}
	var f *safetensors.File
	if *sizesFlag == "synthetic" {
		f = smoothBundle(1<<18, 4)
	} else {
		var err error
		if f, err = safetensors.ReadFile(*sizesFlag); err != nil {
			t.Fatal(err)
		}
	}
	var params int
	for _, tn := range f.Tensors {
		params += len(tn.Data)
	}
	t.Logf("%s: %d parameters in %d tensors", *sizesFlag, params, len(f.Tensors))
	for _, dtype := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		st := encode(t, f, dtype)
		packed, err := Pack(st)
		if err != nil {
			t.Fatal(err)
		}
		plain := len(zstdBest(t, st))
		def := len(zstdLevel(t, st, zstd.SpeedDefault))
		t.Logf("%-4v raw %9d  zstd-default %9d  zstd-best %9d (%.1f%%)  shuffled+zstd-best %9d (%.1f%%)",
			dtype, len(st), def, plain, pct(plain, len(st)), len(packed), pct(len(packed), len(st)))
	}
}

// writeChecksums rewrites checksums.txt from the files on disk and fails, since
// the test binary still embeds the old files.
func writeChecksums(t *testing.T) {
	sums, err := diskChecksums(".")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("checksums.txt", sums, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("rewrote checksums.txt for %d files: rebuild and run the tests again", bytes.Count(sums, []byte("\n")))
}

// diskChecksums returns checksums.txt for the *.zst files in dir: each must be
// a NAME+PlainSuffix or NAME+PackedSuffix file holding a readable
// safetensors bundle, and no NAME may appear twice.
func diskChecksums(dir string) ([]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.zst"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		file := filepath.Base(p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var data []byte
		if strings.HasSuffix(file, PackedSuffix) {
			data, err = Unpack(file, raw)
		} else {
			data, err = decompress(file, raw)
		}
		if err != nil {
			return nil, err
		}
		if _, err := safetensors.Read(file, data); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), file)
	}
	if _, err := parseChecksums(b.Bytes()); err != nil { // suffixes, duplicate names
		return nil, err
	}
	return b.Bytes(), nil
}

// model returns a Model for file whose recorded SHA-256 is that of st.
func model(file string, st []byte) Model {
	sum := sha256.Sum256(st)
	name, _ := modelName(file)
	return Model{Name: name, File: file, SHA256: hex.EncodeToString(sum[:])}
}

// rawBundle returns a safetensors file made of header and data as given.
func rawBundle(header string, data []byte) []byte {
	st := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	st = append(st, header...)
	return append(st, data...)
}

// testBundle returns a small bundle with odd-sized, empty and scalar tensors,
// values spanning several magnitudes, and metadata.
func testBundle() *safetensors.File {
	r := rand.New(rand.NewPCG(1, 2))
	f := &safetensors.File{Metadata: map[string]string{"format": "assets-test/1", "note": "ünïcode, \"quotes\""}}
	for _, shape := range [][]int{{3, 5}, {7}, {0}, {4, 0, 3}, {}, {33, 17}, {1}, {2, 3, 5}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(5)-3)))
		}
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: fmt.Sprintf("t%d.%v", len(f.Tensors), shape), Shape: shape, Data: data})
	}
	return f
}

// smoothBundle returns a bundle of k tensors of n smoothly varying weights.
func smoothBundle(n, k int) *safetensors.File {
	r := rand.New(rand.NewPCG(3, 4))
	f := &safetensors.File{Metadata: map[string]string{"format": "assets-test/smooth"}}
	for j := range k {
		data := make([]float32, n)
		for i := range data {
			x := float64(i) / float64(n)
			data[i] = float32(0.05*math.Sin(40*x+float64(j)) + 0.02*math.Cos(300*x) + 0.002*r.NormFloat64())
		}
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: fmt.Sprintf("w%d", j), Shape: []int{n / 64, 64}, Data: data})
	}
	return f
}

// encode returns f in safetensors format stored as dtype.
func encode(t *testing.T, f *safetensors.File, dtype safetensors.DType) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := safetensors.Encode(&b, f, dtype); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zstdBest compresses b at the level Pack uses, without shuffling.
func zstdBest(t *testing.T, b []byte) []byte {
	return zstdLevel(t, b, zstd.SpeedBestCompression)
}

// zstdLevel compresses b at level.
func zstdLevel(t *testing.T, b []byte, level zstd.EncoderLevel) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// pct returns a as a percentage of b.
func pct(a, b int) float64 { return 100 * float64(a) / float64(b) }
