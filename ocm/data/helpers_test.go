package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// idxFile builds an IDX file with the given magic, dims and data.
func idxFile(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

// idxPair builds an n×h×w image file whose pixel k is byte(k*7+1) and a
// label file with labels k%classes.
func idxPair(n, h, w, classes int) (img, lbl []byte) {
	pix := make([]byte, n*h*w)
	for k := range pix {
		pix[k] = byte(k*7 + 1)
	}
	lab := make([]byte, n)
	for k := range lab {
		lab[k] = byte(k % classes)
	}
	img = idxFile(idxImagesMagic, []uint32{uint32(n), uint32(h), uint32(w)}, pix)
	lbl = idxFile(idxLabelsMagic, []uint32{uint32(n)}, lab)
	return img, lbl
}

// gz compresses b.
func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// cifarBatch builds n CIFAR-10 records: label k%10, pixel p of record k is
// byte(k+p).
func cifarBatch(n int) []byte {
	b := make([]byte, 0, n*cifarRecord)
	for k := range n {
		b = append(b, byte(k%10))
		for p := range cifarPixels {
			b = append(b, byte(k+p))
		}
	}
	return b
}

// writeFile writes b to dir/name and returns the path.
func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// pngBytes encodes img.
func pngBytes(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// grayImg is an h×w gray image with pixel (x, y) = base + y*w + x.
func grayImg(h, w, base int) *image.Gray {
	m := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetGray(x, y, color.Gray{Y: uint8(base + y*w + x)})
		}
	}
	return m
}

// rgbaImg is an h×w NRGBA image with R = base+p, G = 100+p, B = 200+p and
// alpha 128 (to be dropped).
func rgbaImg(h, w, base int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			p := y*w + x
			m.SetNRGBA(x, y, color.NRGBA{uint8(base + p), uint8(100 + p), uint8(200 + p), 128})
		}
	}
	return m
}

// wantFormatError checks err is a one-line *FormatError containing want.
func wantFormatError(t *testing.T, err error, want string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("got error %v (%T), want *FormatError containing %q", err, err, want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "data: ") {
		t.Fatalf("error %q: want one line starting \"data: \" containing %q", msg, want)
	}
	t.Logf("%s", msg)
}

// checkInvariants checks a data set accepted by a reader is consistent.
func checkInvariants(t testing.TB, ds *Images) {
	t.Helper()
	if ds.N < 1 || ds.C < 1 || ds.H < 1 || ds.W < 1 || len(ds.Pixels) != ds.N*ds.C*ds.H*ds.W {
		t.Fatalf("bad shape N=%d C=%d H=%d W=%d len(Pixels)=%d", ds.N, ds.C, ds.H, ds.W, len(ds.Pixels))
	}
	if ds.Labels == nil {
		return
	}
	if len(ds.Labels) != ds.N || ds.NumClasses < 1 || ds.NumClasses > MaxClasses {
		t.Fatalf("bad labels: %d labels for N=%d, NumClasses=%d", len(ds.Labels), ds.N, ds.NumClasses)
	}
	for i, l := range ds.Labels {
		if l < 0 || l >= ds.NumClasses {
			t.Fatalf("label %d = %d outside [0, %d)", i, l, ds.NumClasses)
		}
	}
}
