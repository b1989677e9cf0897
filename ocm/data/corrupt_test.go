package data

import (
	"bytes"
	"image"
	"os"
	"path/filepath"
	"testing"
)

// TestCorruptIDX writes every corrupted IDX pair to disk and reads it back
// with ReadIDX (the file path, not just the in-memory parser).
func TestCorruptIDX(t *testing.T) {
	for _, tc := range idxCases() {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ip := writeFile(t, dir, "images", tc.img)
			lp := ""
			if tc.lbl != nil {
				lp = writeFile(t, dir, "labels", tc.lbl)
			}
			ds, err := ReadIDX(ip, lp)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkInvariants(t, ds)
				return
			}
			wantFormatError(t, err, tc.want)
			// The in-memory parser the fuzz test uses agrees.
			var lbl []byte
			if tc.lbl != nil {
				lbl = tc.lbl
			}
			_, err2 := parseIDX(ip, tc.img, lp, lbl)
			if err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("parseIDX gave %v, ReadIDX %v", err2, err)
			}
		})
	}
}

func TestCorruptCIFAR10(t *testing.T) {
	for _, tc := range cifarCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "data_batch_1.bin", tc.data)
			ds, err := ReadCIFAR10(p)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				checkInvariants(t, ds)
				return
			}
			wantFormatError(t, err, tc.want)
			if _, err2 := parseCIFAR10(p, tc.data); err2 == nil || err2.Error() != err.Error() {
				t.Fatalf("parseCIFAR10 gave %v, ReadCIFAR10 %v", err2, err)
			}
		})
	}
}

func TestCorruptPNGDir(t *testing.T) {
	gray := pngBytes(t, grayImg(2, 2, 0))
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  string
	}{
		{"empty dir", nil, "no *.png files in the folder"},
		{"only other files", map[string][]byte{"a.jpg": gray}, "no *.png files in the folder"},
		{"size mismatch", map[string][]byte{"a.png": gray, "b.png": pngBytes(t, grayImg(3, 2, 0))},
			"b.png: image is gray 3×2, want gray 2×2 like a.png"},
		{"colour mismatch", map[string][]byte{"a.png": gray, "b.png": pngBytes(t, rgbaImg(2, 2, 0))},
			"b.png: image is 3-channel colour 2×2, want gray 2×2 like a.png"},
		{"not a png", map[string][]byte{"a.png": gray, "b.png": []byte("GIF89a not a png")},
			"b.png: not a valid PNG: png: invalid format: not a PNG file"},
		{"truncated png", map[string][]byte{"a.png": gray[:len(gray)-20]}, "a.png: not a valid PNG"},
		{"too large", map[string][]byte{"a.png": pngBytes(t, image.NewGray(image.Rect(0, 0, 4097, 1)))},
			"a.png: image size 1×4097 outside 1×1 … 4096×4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, b := range tc.files {
				writeFile(t, dir, n, b)
			}
			_, err := ReadPNGDir(dir)
			wantFormatError(t, err, tc.want)
		})
	}
}

// TestCorruptFashionMNIST checks FashionMNIST rejects IDX files that parse
// but are not Fashion-MNIST (a label of 10, a wrong image size).
func TestCorruptFashionMNIST(t *testing.T) {
	img, lbl := idxPair(11, 28, 28, 11) // labels 0…10
	dir := t.TempDir()
	writeFile(t, dir, "t10k-images-idx3-ubyte", img)
	writeFile(t, dir, "t10k-labels-idx1-ubyte.gz", gz(lbl))
	_, err := FashionMNIST(dir, false)
	wantFormatError(t, err, "not Fashion-MNIST: want 28×28 images with labels 0–9, got 28×28 with 11 classes")

	img, lbl = idxPair(2, 27, 28, 2)
	writeFile(t, dir, "train-images-idx3-ubyte", img)
	writeFile(t, dir, "train-labels-idx1-ubyte", lbl)
	_, err = FashionMNIST(dir, true)
	wantFormatError(t, err, "got 27×28 with 2 classes")
}

// TestTestdata checks the committed fuzz seeds are what the generators
// make (run with UPDATE_TESTDATA=1 to rewrite them).
func TestTestdata(t *testing.T) {
	img, lbl := idxPair(3, 4, 4, 10)
	want := map[string][]byte{
		"idx-images": img, "idx-labels": lbl,
		"idx-images.gz": gz(img), "idx-labels.gz": gz(lbl),
		"cifar-1.bin": cifarBatch(1),
	}
	for name, b := range want {
		p := filepath.Join("testdata", name)
		if os.Getenv("UPDATE_TESTDATA") != "" {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(name) == ".gz" {
			continue // gzip output may differ across Go versions; checked below
		}
		if !bytes.Equal(got, b) {
			t.Fatalf("%s differs from the generator (UPDATE_TESTDATA=1 rewrites it)", p)
		}
	}
	ds, err := ReadIDX("testdata/idx-images.gz", "testdata/idx-labels.gz")
	if err != nil || ds.N != 3 || ds.H != 4 || !bytes.Equal(ds.Pixels, img[16:]) {
		t.Fatalf("testdata gzip files: %v", err)
	}
}
