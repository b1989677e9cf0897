package imagefile

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// batch returns an NCHW batch whose values encode image, channel and
// position, so every pixel has a predictable, mostly distinct value.
func batch(n, c, h, w int) []float32 {
	x := make([]float32, n*c*h*w)
	i := 0
	for k := 0; k < n; k++ {
		for ch := 0; ch < c; ch++ {
			for y := 0; y < h; y++ {
				for xx := 0; xx < w; xx++ {
					// 0..250 in steps spread over k, ch, y, x, mapped to [-1, 1].
					v := (k*37 + ch*71 + y*13 + xx*5) % 251
					x[i] = float32(v)/125 - 1
					i++
				}
			}
		}
	}
	return x
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestToUint8(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	in := []float32{-1, 1, 0, -2, 2, -1e30, 1e30, nan, inf, -inf, -0.5, 0.5, 1.0 / 255, -1 + 1.0/255, 0.999}
	want := []uint8{0, 255, 128, 0, 255, 0, 255, 0, 255, 0, 64, 191, 128, 0, 255}
	// -0.5 → 0.25·255 = 63.75 → 64; 0.5 → 191.25 → 191;
	// 1/255 → (1+1/255)/2·255 = 128; -1+1/255 → 0.5 → 1 (half up) but the
	// float32 value is slightly below, so 0 or 1; computed below.
	want[13] = uint8(math.Floor((float64(in[13])+1)/2*255 + 0.5))
	got := ToUint8(in)
	if !bytes.Equal(got, want) {
		t.Fatalf("ToUint8(%v)\n got %v\nwant %v", in, got, want)
	}
	if len(ToUint8(nil)) != 0 {
		t.Fatal("ToUint8(nil) not empty")
	}
	// Monotone over a fine sweep, and every level 0..255 is reached.
	seen := [256]bool{}
	prev := uint8(0)
	for i := 0; i <= 100000; i++ {
		v := float32(-1 + 2*float64(i)/100000)
		p := ToUint8([]float32{v})[0]
		if p < prev {
			t.Fatalf("not monotone at %v: %d < %d", v, p, prev)
		}
		prev = p
		seen[p] = true
	}
	for l, ok := range seen {
		if !ok {
			t.Fatalf("level %d never produced", l)
		}
	}
}

// gridCase is one WriteGrid layout: the batch shape, the requested columns
// and padding, and the grid size (gw×gh) those must give.
type gridCase struct {
	n, c, h, w, cols, pad int
	gw, gh                int
}

// gridCases are the layouts TestWriteGridLayout checks.
var gridCases = []gridCase{
	{7, 3, 4, 5, 3, 2, 3*5 + 2*2, 3*4 + 2*2},
	{7, 1, 4, 5, 3, 2, 3*5 + 2*2, 3*4 + 2*2},
	{4, 1, 3, 3, 2, 0, 6, 6},
	{2, 3, 3, 2, 10, 1, 2*2 + 1, 3}, // cols > n: n columns
	{1, 1, 1, 1, 1, 5, 1, 1},
	{5, 3, 2, 2, 1, 1, 2, 5*2 + 4},
}

func TestWriteGridLayout(t *testing.T) {
	for _, tc := range gridCases {
		name := fmt.Sprintf("n%d_c%d_%dx%d_cols%d_pad%d", tc.n, tc.c, tc.h, tc.w, tc.cols, tc.pad)
		t.Run(name, func(t *testing.T) {
			x := batch(tc.n, tc.c, tc.h, tc.w)
			img := writeGridImage(t, tc, x)
			covered := checkGridPixels(t, tc, img, x)
			checkGridBorder(t, tc, img, covered)
		})
	}
}

// writeGridImage writes x as a grid into a fresh directory, checks that the
// directory holds only the grid, and decodes it, checking its size and that
// its colour model matches the channel count.
func writeGridImage(t *testing.T, tc gridCase, x []float32) image.Image {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.png")
	if err := WriteGrid(path, x, tc.n, tc.c, tc.h, tc.w, tc.cols, tc.pad, nil); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, dir); !reflect.DeepEqual(names, []string{"grid.png"}) {
		t.Fatalf("directory holds %v, want only grid.png", names)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != tc.gw || b.Dy() != tc.gh {
		t.Fatalf("grid is %dx%d, want %dx%d", b.Dx(), b.Dy(), tc.gw, tc.gh)
	}
	switch img.(type) {
	case *image.Gray:
		if tc.c != 1 {
			t.Fatalf("c=%d decoded as Gray", tc.c)
		}
	case *image.RGBA, *image.NRGBA:
		if tc.c != 3 {
			t.Fatalf("c=%d decoded as %T", tc.c, img)
		}
	default:
		t.Fatalf("decoded as %T", img)
	}
	return img
}

// checkGridPixels checks that every pixel of every image of x lands at its
// place in img with its value, and returns the set of grid pixels the
// images cover.
func checkGridPixels(t *testing.T, tc gridCase, img image.Image, x []float32) map[image.Point]bool {
	t.Helper()
	cols := min(tc.cols, tc.n)
	rows := (tc.n + cols - 1) / cols
	q := ToUint8(x)
	hw := tc.h * tc.w
	covered := make(map[image.Point]bool)
	for k := 0; k < tc.n; k++ {
		x0, y0 := (k%cols)*(tc.w+tc.pad), (k/cols)*(tc.h+tc.pad)
		for y := 0; y < tc.h; y++ {
			for xx := 0; xx < tc.w; xx++ {
				covered[image.Pt(x0+xx, y0+y)] = true
				r, g, b, a := img.At(x0+xx, y0+y).RGBA()
				var want [3]uint8
				for ch := 0; ch < 3; ch++ {
					want[ch] = q[k*tc.c*hw+min(ch, tc.c-1)*hw+y*tc.w+xx]
				}
				got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}
				if got != want || a != 0xffff {
					t.Fatalf("image %d pixel (%d,%d) at (%d,%d) = %v a=%x, want %v", k, xx, y, x0+xx, y0+y, got, a, want)
				}
			}
		}
	}
	if len(covered) != tc.n*hw || rows < 1 {
		t.Fatalf("covered %d pixels", len(covered))
	}
	return covered
}

// checkGridBorder checks that every grid pixel no image covers (border,
// empty cells) is mid-grey.
func checkGridBorder(t *testing.T, tc gridCase, img image.Image, covered map[image.Point]bool) {
	t.Helper()
	for y := 0; y < tc.gh; y++ {
		for xx := 0; xx < tc.gw; xx++ {
			if covered[image.Pt(xx, y)] {
				continue
			}
			r, g, b, _ := img.At(xx, y).RGBA()
			if r>>8 != PadGray || g>>8 != PadGray || b>>8 != PadGray {
				t.Fatalf("border pixel (%d,%d) = %d,%d,%d, want %d", xx, y, r>>8, g>>8, b>>8, PadGray)
			}
		}
	}
}

// TestWriteGridKnownPixel checks one hand-computed placement: image 4 of a
// 3-column grid sits in row 1, column 1.
func TestWriteGridKnownPixel(t *testing.T) {
	const n, c, h, w, cols, pad = 6, 3, 4, 4, 3, 2
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = -1
	}
	// Image 4, pixel (x=1, y=2): R=1, G=0, B=-1.
	hw := h * w
	x[4*c*hw+0*hw+2*w+1] = 1
	x[4*c*hw+1*hw+2*w+1] = 0
	path := filepath.Join(t.TempDir(), "g.png")
	if err := WriteGrid(path, x, n, c, h, w, cols, pad, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	px, py := 1*(w+pad)+1, 1*(h+pad)+2 // (7, 8)
	r, g, bl, _ := img.At(px, py).RGBA()
	if r>>8 != 255 || g>>8 != 128 || bl>>8 != 0 {
		t.Fatalf("pixel (%d,%d) = %d,%d,%d, want 255,128,0", px, py, r>>8, g>>8, bl>>8)
	}
	if r, _, _, _ := img.At(px-1, py).RGBA(); r>>8 != 0 {
		t.Fatalf("neighbour = %d, want 0", r>>8)
	}
	if r, _, _, _ := img.At(w, 0).RGBA(); r>>8 != PadGray {
		t.Fatalf("border = %d, want %d", r>>8, PadGray)
	}
}

// roundTripText returns the text TestTextRoundTrip stores: multi-line and
// Latin-1 values, an empty value, and the longest allowed keyword.
func roundTripText() map[string]string {
	return map[string]string{
		"Title":                 "ocm samples",
		"ocm.step":              "12000",
		"Comment":               "multi\nline\ttext, ümlaut, ©, ÿ",
		"Empty":                 "",
		"Key ÄÖÜ ok":            "Latin-1 keyword",
		strings.Repeat("k", 79): "longest keyword",
	}
}

// writeGridBytes writes x (three 1×5×4 images, two columns, pad 1) as a
// grid with text to path and returns the file's bytes.
func writeGridBytes(t *testing.T, path string, x []float32, text map[string]string) []byte {
	t.Helper()
	if err := WriteGrid(path, x, 3, 1, 5, 4, 2, 1, text); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTextRoundTrip(t *testing.T) {
	text := roundTripText()
	dir := t.TempDir()
	path := filepath.Join(dir, "t.png")
	x := batch(3, 1, 5, 4)
	b := writeGridBytes(t, path, x, text)
	got, err := ReadText(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, text) {
		t.Fatalf("ReadText = %q, want %q", got, text)
	}
	// image/png verifies every chunk CRC, including the ancillary tEXt ones.
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("image/png rejects the file: %v", err)
	}
	if _, err := png.DecodeConfig(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	checkTextChunks(t, b, len(text))
	if !bytes.Contains(b, []byte("Comment\x00multi\nline\ttext, \xfcmlaut, \xa9, \xff")) {
		t.Fatal("Comment not stored as Latin-1")
	}
	// Reproducible: writing again gives the same bytes.
	if b2 := writeGridBytes(t, filepath.Join(dir, "t2.png"), x, text); !bytes.Equal(b, b2) {
		t.Fatal("two writes of the same grid differ")
	}
	// No text: ReadText gives an empty map, and the file is plain image/png.
	path3 := filepath.Join(dir, "t3.png")
	writeGridBytes(t, path3, x, nil)
	if got, err := ReadText(path3); err != nil || len(got) != 0 || got == nil {
		t.Fatalf("ReadText(no text) = %v, %v", got, err)
	}
}

// pngChunks walks the chunks of the PNG file b, failing on a bad CRC, and
// returns the chunk types in file order and the keyword of each tEXt chunk.
func pngChunks(t *testing.T, b []byte) (types, keys []string) {
	t.Helper()
	off := 8
	for off < len(b) {
		n := int(binary.BigEndian.Uint32(b[off:]))
		typ := string(b[off+4 : off+8])
		if crc32.ChecksumIEEE(b[off+4:off+8+n]) != binary.BigEndian.Uint32(b[off+8+n:]) {
			t.Fatalf("bad CRC in %s", typ)
		}
		types = append(types, typ)
		if typ == "tEXt" {
			data := b[off+8 : off+8+n]
			keys = append(keys, string(data[:bytes.IndexByte(data, 0)]))
		}
		off += 12 + n
	}
	return types, keys
}

// checkTextChunks checks that the PNG file b has valid chunk CRCs, starts
// with IHDR and ends with IEND, holds its ntext tEXt chunks directly after
// IHDR, and stores them in strictly sorted key order.
func checkTextChunks(t *testing.T, b []byte, ntext int) {
	t.Helper()
	types, keys := pngChunks(t, b)
	if len(types) < 3+ntext || types[0] != "IHDR" || types[len(types)-1] != "IEND" {
		t.Fatalf("chunks %v", types)
	}
	for i := 1; i <= ntext; i++ {
		if types[i] != "tEXt" {
			t.Fatalf("chunk %d is %s, want tEXt (chunks %v)", i, types[i], types)
		}
	}
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			t.Fatalf("keys not sorted: %q", keys)
		}
	}
}

func TestReadTextErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "t.png")
	if err := WriteGrid(path, batch(1, 3, 2, 2), 1, 3, 2, 2, 1, 0, map[string]string{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	textAt := bytes.Index(good, []byte("tEXt"))
	for name, mutate := range map[string]func([]byte) []byte{
		"signature": func(b []byte) []byte { b[1] = 'X'; return b },
		"crc":       func(b []byte) []byte { b[textAt+4] ^= 1; return b }, // keyword byte
		"truncated": func(b []byte) []byte { return b[:len(b)-5] },
		"no IEND":   func(b []byte) []byte { return b[:len(b)-12] },
		"length":    func(b []byte) []byte { binary.BigEndian.PutUint32(b[textAt-4:], 1<<31); return b },
		"empty":     func(b []byte) []byte { return nil },
	} {
		p := filepath.Join(dir, "bad.png")
		if err := os.WriteFile(p, mutate(bytes.Clone(good)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadText(p)
		if err == nil {
			t.Errorf("%s: ReadText accepted a broken file", name)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
	if _, err := ReadText(filepath.Join(dir, "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
}

// badArgBatch is a valid batch of two 3×2×2 images that the bad-argument
// cases slice or pair with a wrong shape. No test writes to it.
var badArgBatch = batch(2, 3, 2, 2)

// badArgCase is one invalid set of writer arguments. gridOnly marks
// arguments only WriteGrid takes (cols, pad); textSensitive marks text
// only WriteGrid and WriteEach take.
type badArgCase struct {
	name          string
	x             []float32
	n, c, h, w    int
	cols, pad     int
	text          map[string]string
	gridOnly      bool
	textSensitive bool
}

// badArgCases are the invalid arguments every writer that takes them must
// reject.
var badArgCases = []badArgCase{
	{"n=0", badArgBatch[:0], 0, 3, 2, 2, 1, 0, nil, false, false},
	{"n<0", badArgBatch, -2, 3, 2, 2, 1, 0, nil, false, false},
	{"c=2", badArgBatch[:16], 2, 2, 2, 2, 1, 0, nil, false, false},
	{"c=4", badArgBatch[:16], 1, 4, 2, 2, 1, 0, nil, false, false},
	{"c=0", badArgBatch[:0], 2, 0, 2, 2, 1, 0, nil, false, false},
	{"h=0", badArgBatch[:0], 2, 3, 0, 2, 1, 0, nil, false, false},
	{"w<0", badArgBatch, 2, 3, 2, -2, 1, 0, nil, false, false},
	{"len short", badArgBatch[:23], 2, 3, 2, 2, 1, 0, nil, false, false},
	{"len long", append(badArgBatch[:24:24], 0), 2, 3, 2, 2, 1, 0, nil, false, false},
	{"nil x", nil, 2, 3, 2, 2, 1, 0, nil, false, false},
	{"overflow", badArgBatch, math.MaxInt / 2, 3, 1 << 20, 1 << 20, 1, 0, nil, false, false},
	{"cols=0", badArgBatch, 2, 3, 2, 2, 0, 0, nil, true, false},
	{"cols<0", badArgBatch, 2, 3, 2, 2, -1, 0, nil, true, false},
	{"pad<0", badArgBatch, 2, 3, 2, 2, 1, -1, nil, true, false},
	{"huge pad", badArgBatch, 2, 3, 2, 2, 1, math.MaxInt / 2, nil, true, false},
	{"empty key", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"": "v"}, false, true},
	{"long key", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{strings.Repeat("k", 80): "v"}, false, true},
	{"NUL key", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"a\x00b": "v"}, false, true},
	{"NUL value", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"k": "a\x00b"}, false, true},
	{"non-Latin-1 key", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"ключ": "v"}, false, true},
	{"non-Latin-1 value", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"k": "€"}, false, true},
	{"invalid UTF-8", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"k": "\xff"}, false, true},
	{"leading space", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{" k": "v"}, false, true},
	{"double space", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"a  b": "v"}, false, true},
	{"control key", badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"a\nb": "v"}, false, true},
}

// writerCall is one named writer call that writes at or next to path.
type writerCall struct {
	name string
	run  func(path string) error
}

// badArgCalls builds, for every bad-argument case, a call of each writer
// that takes those arguments, plus one call per writer into a directory
// under dir that does not exist.
func badArgCalls(dir string) []writerCall {
	var calls []writerCall
	for _, a := range badArgCases {
		calls = append(calls, writerCall{"WriteGrid " + a.name, func(p string) error {
			return WriteGrid(p, a.x, a.n, a.c, a.h, a.w, a.cols, a.pad, a.text)
		}})
		if a.gridOnly {
			continue
		}
		calls = append(calls, writerCall{"WriteEach " + a.name, func(p string) error {
			paths, err := WriteEach(filepath.Dir(p), "bad_", a.x, a.n, a.c, a.h, a.w, a.text)
			if paths != nil {
				return fmt.Errorf("paths %v returned with error %v", paths, err)
			}
			return err
		}})
		if a.textSensitive {
			continue
		}
		calls = append(calls, writerCall{"WriteNPZ " + a.name, func(p string) error {
			return WriteNPZ(p, a.x, a.n, a.c, a.h, a.w)
		}})
	}
	x := badArgBatch
	return append(calls,
		writerCall{"WriteEach missing dir", func(p string) error {
			_, err := WriteEach(filepath.Join(dir, "nope"), "s_", x, 2, 3, 2, 2, nil)
			return err
		}},
		writerCall{"WriteGrid missing dir", func(p string) error {
			return WriteGrid(filepath.Join(dir, "nope", "g.png"), x, 2, 3, 2, 2, 1, 0, nil)
		}},
		writerCall{"WriteNPZ missing dir", func(p string) error {
			return WriteNPZ(filepath.Join(dir, "nope", "s.npz"), x, 2, 3, 2, 2)
		}},
	)
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, c := range badArgCalls(dir) {
		checkRejected(t, dir, c)
	}
	checkFailedWriteKeepsFile(t, dir)
}

// checkRejected runs c with a path in the empty directory dir and checks
// that it returns a package-prefixed error without panicking and leaves
// nothing behind in dir.
func checkRejected(t *testing.T, dir string, c writerCall) {
	t.Helper()
	p := filepath.Join(dir, "out.file")
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s panicked: %v", c.name, r)
			}
		}()
		err = c.run(p)
	}()
	if err == nil {
		t.Errorf("%s: no error", c.name)
		return
	}
	if !strings.HasPrefix(err.Error(), "imagefile: ") {
		t.Errorf("%s: error %q lacks the package prefix", c.name, err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Fatalf("%s: left %v behind", c.name, names)
	}
}

// checkFailedWriteKeepsFile checks that a WriteGrid rejected for its text
// leaves an existing file in the empty directory dir untouched and adds
// nothing beside it.
func checkFailedWriteKeepsFile(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "keep.png")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteGrid(p, badArgBatch, 2, 3, 2, 2, 1, 0, map[string]string{"": ""}); err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("existing file changed to %q", b)
	}
	if names := listDir(t, dir); !reflect.DeepEqual(names, []string{"keep.png"}) {
		t.Fatalf("left %v", names)
	}
}

func TestWriteEach(t *testing.T) {
	dir := t.TempDir()
	const n, c, h, w = 3, 3, 3, 2
	x := batch(n, c, h, w)
	text := map[string]string{"ocm.seed": "7"}
	paths, err := WriteEach(dir, "samples_", x, n, c, h, w, text)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"samples_0000.png", "samples_0001.png", "samples_0002.png"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths %v, want %v", paths, want)
	}
	if names := listDir(t, dir); len(names) != n {
		t.Fatalf("directory holds %v", names)
	}
	q := ToUint8(x)
	hw := h * w
	for k, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != image.Rect(0, 0, w, h) {
			t.Fatalf("%s: bounds %v", p, img.Bounds())
		}
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				r, g, bl, _ := img.At(xx, y).RGBA()
				o := k*c*hw + y*w + xx
				if uint8(r>>8) != q[o] || uint8(g>>8) != q[o+hw] || uint8(bl>>8) != q[o+2*hw] {
					t.Fatalf("%s (%d,%d) = %d,%d,%d", p, xx, y, r>>8, g>>8, bl>>8)
				}
			}
		}
		got, err := ReadText(p)
		if err != nil || !reflect.DeepEqual(got, text) {
			t.Fatalf("%s: ReadText = %v, %v", p, got, err)
		}
	}
	// More than 10⁴ images widen the index.
	for _, tc := range []struct {
		k, n int
		want string
	}{
		{0, 1, "s0000.png"}, {9999, 10000, "s9999.png"}, {0, 10001, "s00000.png"},
		{10000, 10001, "s10000.png"}, {42, 1234567, "s0000042.png"},
	} {
		if got := eachName("s", tc.k, tc.n); got != tc.want {
			t.Errorf("eachName(s, %d, %d) = %q, want %q", tc.k, tc.n, got, tc.want)
		}
	}
}

// parseNPY checks a .npy version 1.0 preamble for a uint8 C-order array and
// returns the shape string and the data.
func parseNPY(t *testing.T, b []byte) (string, []byte) {
	t.Helper()
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("bad npy magic/version % x", b[:min(len(b), 10)])
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if (10+hl)%64 != 0 {
		t.Fatalf("header total %d not a multiple of 64", 10+hl)
	}
	hdr := string(b[10 : 10+hl])
	if !strings.HasSuffix(hdr, "\n") {
		t.Fatalf("header %q does not end in newline", hdr)
	}
	dict := strings.TrimRight(hdr, " \n")
	const pre = "{'descr': '|u1', 'fortran_order': False, 'shape': ("
	const post = "), }"
	if !strings.HasPrefix(dict, pre) || !strings.HasSuffix(dict, post) {
		t.Fatalf("header dict %q", dict)
	}
	return dict[len(pre) : len(dict)-len(post)], b[10+hl:]
}

func TestWriteNPZ(t *testing.T) {
	for _, c := range []int{1, 3} {
		t.Run(fmt.Sprintf("c%d", c), func(t *testing.T) {
			const n, h, w = 5, 4, 3
			x := batch(n, c, h, w)
			dir := t.TempDir()
			path := filepath.Join(dir, "samples.npz")
			if err := WriteNPZ(path, x, n, c, h, w); err != nil {
				t.Fatal(err)
			}
			if names := listDir(t, dir); !reflect.DeepEqual(names, []string{"samples.npz"}) {
				t.Fatalf("directory holds %v", names)
			}
			zr, err := zip.OpenReader(path)
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			if len(zr.File) != 1 || zr.File[0].Name != "arr_0.npy" {
				t.Fatalf("members %v", zr.File)
			}
			rc, err := zr.File[0].Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc) // checks the CRC-32 at EOF
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			shape, data := parseNPY(t, b)
			if want := fmt.Sprintf("%d, %d, %d, %d", n, h, w, c); shape != want {
				t.Fatalf("shape (%s), want (%s)", shape, want)
			}
			// NHWC: data[((k·h+y)·w+x)·c+ch] is NCHW x[((k·c+ch)·h+y)·w+x].
			q := ToUint8(x)
			if len(data) != len(q) {
				t.Fatalf("%d data bytes, want %d", len(data), len(q))
			}
			for k := 0; k < n; k++ {
				for ch := 0; ch < c; ch++ {
					for y := 0; y < h; y++ {
						for xx := 0; xx < w; xx++ {
							if g, wv := data[((k*h+y)*w+xx)*c+ch], q[((k*c+ch)*h+y)*w+xx]; g != wv {
								t.Fatalf("[%d,%d,%d,%d] = %d, want %d", k, y, xx, ch, g, wv)
							}
						}
					}
				}
			}
			// Reproducible bytes.
			path2 := filepath.Join(dir, "again.npz")
			if err := WriteNPZ(path2, x, n, c, h, w); err != nil {
				t.Fatal(err)
			}
			b1, _ := os.ReadFile(path)
			b2, _ := os.ReadFile(path2)
			if !bytes.Equal(b1, b2) {
				t.Fatal("two writes differ")
			}
		})
	}
}

func TestNPYHeader(t *testing.T) {
	for _, shape := range [][]int{{7}, {1, 1, 1, 1}, {50000, 32, 32, 3}, {123456789, 1000, 1000, 3}} {
		h := npyHeader(shape...)
		if len(h)%64 != 0 || h[len(h)-1] != '\n' || int(binary.LittleEndian.Uint16(h[8:]))+10 != len(h) {
			t.Fatalf("%v: bad header %q", shape, h)
		}
	}
	if got := string(npyHeader(7)); !strings.Contains(got, "'shape': (7,), }") {
		t.Fatalf("1-d header %q", got)
	}
}

// TestWriteNPZNumpy loads WriteNPZ output with numpy.load in a subprocess,
// if /usr/bin/python3 has numpy, and compares dtype, shape, sum and CRC-32
// of the array with what Go computes.
func TestWriteNPZNumpy(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	args := []string{"-c", `import sys, zlib
try:
    import numpy as np
except ImportError:
    sys.exit(77)
for p in sys.argv[1:]:
    a = np.load(p)["arr_0"]
    print(a.dtype, tuple(a.shape), int(a.astype(np.int64).sum()), zlib.crc32(np.ascontiguousarray(a).tobytes()))`}
	var want []string
	for i, s := range [][4]int{{5, 1, 4, 3}, {3, 3, 7, 6}, {1, 3, 1, 1}} {
		n, c, h, w := s[0], s[1], s[2], s[3]
		x := batch(n, c, h, w)
		p := filepath.Join(dir, fmt.Sprintf("s%d.npz", i))
		if err := WriteNPZ(p, x, n, c, h, w); err != nil {
			t.Fatal(err)
		}
		data := toNHWC(x, n, c, h, w)
		sum := 0
		for _, v := range data {
			sum += int(v)
		}
		want = append(want, fmt.Sprintf("uint8 (%d, %d, %d, %d) %d %d", n, h, w, c, sum, crc32.ChecksumIEEE(data)))
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, py, args...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 77 {
		t.Skip("numpy not importable")
	}
	if err != nil {
		t.Fatalf("numpy.load failed: %v\n%s", err, out)
	}
	if got := strings.Split(strings.TrimSpace(string(out)), "\n"); !reflect.DeepEqual(got, want) {
		t.Fatalf("numpy sees\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
