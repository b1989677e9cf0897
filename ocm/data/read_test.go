package data

import (
	"errors"
	"image"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadIDXRawAndGzip(t *testing.T) {
	img, lbl := idxPair(4, 3, 2, 3)
	dir := t.TempDir()
	for _, tc := range []struct {
		name     string
		img, lbl []byte
	}{{"raw", img, lbl}, {"gzip", gz(img), gz(lbl)}, {"mixed", gz(img), lbl}} {
		t.Run(tc.name, func(t *testing.T) {
			// Names without ".gz": gzip must be detected by magic.
			ip := writeFile(t, dir, tc.name+"-images", tc.img)
			lp := writeFile(t, dir, tc.name+"-labels", tc.lbl)
			ds, err := ReadIDX(ip, lp)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, ds)
			if ds.N != 4 || ds.C != 1 || ds.H != 3 || ds.W != 2 || ds.NumClasses != 3 {
				t.Fatalf("shape %+v", ds)
			}
			for k, u := range ds.Pixels {
				if u != byte(k*7+1) {
					t.Fatalf("pixel %d = %d, want %d", k, u, byte(k*7+1))
				}
			}
			if want := []int{0, 1, 2, 0}; !slices.Equal(ds.Labels, want) {
				t.Fatalf("labels %v, want %v", ds.Labels, want)
			}
		})
	}
	ds, err := ReadIDX(writeFile(t, dir, "nolabels", img), "")
	if err != nil || ds.Labels != nil || ds.NumClasses != 0 {
		t.Fatalf("without labels: %v, labels %v, classes %d", err, ds.Labels, ds.NumClasses)
	}
}

func TestReadIDXMissingFile(t *testing.T) {
	_, err := ReadIDX(filepath.Join(t.TempDir(), "nope"), "")
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v, want a not-exist error naming the file", err)
	}
}

func TestReadCIFAR10(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "data_batch_1.bin", cifarBatch(3))
	b := writeFile(t, dir, "data_batch_2.bin", cifarBatch(2))
	ds, err := ReadCIFAR10(a, b)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, ds)
	if ds.N != 5 || ds.C != 3 || ds.H != 32 || ds.W != 32 || ds.NumClasses != 10 {
		t.Fatalf("shape %d %d %d %d classes %d", ds.N, ds.C, ds.H, ds.W, ds.NumClasses)
	}
	if want := []int{0, 1, 2, 0, 1}; !slices.Equal(ds.Labels, want) {
		t.Fatalf("labels %v, want %v", ds.Labels, want)
	}
	// Image 4 is record 1 of the second file; green plane, pixel (y=1, x=2).
	p := 1024 + 32 + 2
	if got, want := ds.Image(4)[p], byte(1+p); got != want {
		t.Fatalf("pixel = %d, want %d", got, want)
	}
	if _, err := ReadCIFAR10(); err == nil {
		t.Fatal("no files: want an error")
	}
}

func TestReadPNGDir(t *testing.T) {
	t.Run("gray", func(t *testing.T) {
		dir := t.TempDir()
		// Written out of order; read sorted by name. A non-PNG file and
		// a sub-folder are ignored.
		for i, n := range []string{"c.png", "a.png", "b.PNG"} {
			writeFile(t, dir, n, pngBytes(t, grayImg(3, 4, 10*i)))
		}
		writeFile(t, dir, "notes.txt", []byte("hello"))
		os.Mkdir(filepath.Join(dir, "sub.png"), 0o755)
		ds, err := ReadPNGDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, ds)
		if ds.N != 3 || ds.C != 1 || ds.H != 3 || ds.W != 4 || ds.Labels != nil {
			t.Fatalf("shape %d %d %d %d", ds.N, ds.C, ds.H, ds.W)
		}
		// a.png has base 10, b.PNG 20, c.png 0; pixel (y=2, x=1) = base+9.
		for i, base := range []int{10, 20, 0} {
			if got := ds.Image(i)[9]; got != byte(base+9) {
				t.Fatalf("image %d pixel 9 = %d, want %d", i, got, base+9)
			}
		}
	})
	t.Run("rgb", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "0.png", pngBytes(t, rgbaImg(2, 3, 0)))
		writeFile(t, dir, "1.png", pngBytes(t, rgbaImg(2, 3, 50)))
		opaque := image.NewRGBA(image.Rect(0, 0, 3, 2))
		opaque.Set(2, 1, color.RGBA{7, 8, 9, 255})
		writeFile(t, dir, "2.png", pngBytes(t, opaque))
		ds, err := ReadPNGDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, ds)
		if ds.N != 3 || ds.C != 3 || ds.H != 2 || ds.W != 3 {
			t.Fatalf("shape %d %d %d %d", ds.N, ds.C, ds.H, ds.W)
		}
		im := ds.Image(1) // pixel p=4 (y=1, x=1): R=54, G=104, B=204, alpha dropped
		if im[4] != 54 || im[6+4] != 104 || im[12+4] != 204 {
			t.Fatalf("image 1 pixel 4 = %d %d %d, want 54 104 204", im[4], im[10], im[16])
		}
		im = ds.Image(2)
		if im[5] != 7 || im[11] != 8 || im[17] != 9 {
			t.Fatalf("image 2 pixel 5 = %d %d %d, want 7 8 9", im[5], im[11], im[17])
		}
	})
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(DefaultFashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST not installed at %s (apt-get install -y dataset-fashion-mnist): %v",
			DefaultFashionMNISTDir, err)
	}
	for _, tc := range []struct {
		train bool
		n     int
	}{{true, 60000}, {false, 10000}} {
		ds, err := FashionMNIST("", tc.train)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, ds)
		if ds.N != tc.n || ds.C != 1 || ds.H != 28 || ds.W != 28 || ds.NumClasses != 10 {
			t.Fatalf("train=%v: shape %d %d %d %d classes %d", tc.train, ds.N, ds.C, ds.H, ds.W, ds.NumClasses)
		}
		var count [10]int
		for _, l := range ds.Labels {
			count[l]++
		}
		for c, k := range count {
			if k != tc.n/10 { // Fashion-MNIST is balanced.
				t.Fatalf("train=%v: class %d has %d images, want %d", tc.train, c, k, tc.n/10)
			}
		}
		t.Logf("train=%v: %d images %d×%d, class counts %v", tc.train, ds.N, ds.H, ds.W, count)
	}
}

func TestFashionMNISTMissing(t *testing.T) {
	_, err := FashionMNIST(filepath.Join(t.TempDir(), "absent"), true)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "apt-get install -y dataset-fashion-mnist") {
		t.Fatalf("got %v, want a not-exist error with the install hint", err)
	}
	_, err = FashionMNIST(t.TempDir(), true)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Fatalf("got %v, want a not-exist error naming the file", err)
	}
}

// TestReadPNGDirModels covers 16-bit gray (high byte kept) and paletted
// (read as RGB) PNGs.
func TestReadPNGDirModels(t *testing.T) {
	dir := t.TempDir()
	g16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	g16.SetGray16(1, 0, color.Gray16{Y: 0xab12})
	writeFile(t, dir, "a.png", pngBytes(t, g16))
	ds, err := ReadPNGDir(dir)
	if err != nil || ds.C != 1 || ds.Pixels[1] != 0xab {
		t.Fatalf("gray16: %v, C=%d pixels %v", err, ds.C, ds.Pixels)
	}
	dir = t.TempDir()
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.Black, color.RGBA{10, 20, 30, 255}})
	pal.SetColorIndex(1, 0, 1)
	writeFile(t, dir, "a.png", pngBytes(t, pal))
	ds, err = ReadPNGDir(dir)
	if err != nil || ds.C != 3 || !slices.Equal(ds.Pixels, []uint8{0, 10, 0, 20, 0, 30}) {
		t.Fatalf("paletted: %v, C=%d pixels %v", err, ds.C, ds.Pixels)
	}
}
