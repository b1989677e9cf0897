// Package data reads the image data sets that ocm trains on and serves them
// as reproducible shuffled batches scaled to [-1, 1].
//
// Readers: ReadIDX (MNIST / Fashion-MNIST IDX files, raw or gzip),
// ReadCIFAR10 (CIFAR-10 binary batches), ReadPNGDir (a folder of PNG files)
// and FashionMNIST (the Debian package dataset-fashion-mnist). All of them
// return an *Images in NCHW uint8 layout.
//
// The files come from elsewhere, so the parsers are paranoid: they never
// panic on malformed input, never allocate more than the data actually
// present (or a bounded amount promised by a header that the file size
// confirms), and report malformed input as a *FormatError that names the
// file and what was expected. I/O errors (missing file, permission) are
// returned wrapped, so errors.Is(err, fs.ErrNotExist) still works.
//
// Shape legend (shared with package nn): N images, C channels, H/W spatial.
// The package uses only the standard library.
package data

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Limits applied to every reader. They are far above the real data sets
// (Fashion-MNIST train is 47 040 000 pixels, CIFAR-10 184 320 000) and far
// below what would exhaust memory.
const (
	// MaxPixels bounds N·C·H·W of any data set.
	MaxPixels = 1_000_000_000
	// MaxSide bounds the height and the width of one image.
	MaxSide = 4096
	// MaxFiles bounds the number of PNG files in a folder.
	MaxFiles = 1 << 20
	// MaxClasses bounds NumClasses.
	MaxClasses = 1000
)

// Images is a data set of N images of C×H×W uint8 pixels with optional
// labels.
type Images struct {
	N, C, H, W int
	// Pixels holds N·C·H·W bytes in NCHW order.
	Pixels []uint8
	// Labels is nil or has N entries in [0, NumClasses).
	Labels []int
	// NumClasses is 0 when Labels is nil.
	NumClasses int
}

// ContentHash is the SHA-256 (hex) of the data set: its shape, its pixels and its
// labels, so two data sets have the same hash only when every example and label is
// the same. It reads every pixel (about 0.1 s for Fashion-MNIST's 47 M); callers
// that need it often keep it.
func (im *Images) ContentHash() string {
	h := sha256.New()
	var b []byte
	for _, v := range []int{im.N, im.C, im.H, im.W, im.NumClasses, len(im.Labels)} {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	h.Write(b)
	h.Write(im.Pixels)
	b = b[:0]
	for _, l := range im.Labels {
		b = binary.LittleEndian.AppendUint32(b, uint32(l))
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Image returns the C·H·W pixels of image i (a sub-slice, not a copy).
func (im *Images) Image(i int) []uint8 {
	n := im.C * im.H * im.W
	return im.Pixels[i*n : (i+1)*n]
}

// FormatError reports malformed input: File names the file (or stream) and
// Reason says what was wrong and what was expected.
type FormatError struct {
	File   string
	Reason string
}

// Error returns "data: FILE: REASON" (or "data: REASON" without a file).
func (e *FormatError) Error() string {
	if e.File == "" {
		return "data: " + e.Reason
	}
	return "data: " + e.File + ": " + e.Reason
}

// formatErr builds a *FormatError with a Sprintf reason.
func formatErr(file, format string, args ...any) error {
	return &FormatError{File: file, Reason: fmt.Sprintf(format, args...)}
}

// ioErr wraps an I/O error (which already names its path) with the package
// prefix, keeping it unwrappable.
func ioErr(err error) error {
	return fmt.Errorf("data: %w", err)
}

// DefaultFashionMNISTDir is where the Debian package dataset-fashion-mnist
// installs the data set.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist/"

// FashionMNIST reads the Fashion-MNIST training set (60000 images) when train
// is true, else the test set (10000 images), from dir (DefaultFashionMNISTDir
// when ""). It accepts train-images-idx3-ubyte, t10k-labels-idx1-ubyte etc.
// raw or with a .gz suffix, and checks the images are 28×28 with 10 classes.
func FashionMNIST(dir string, train bool) (*Images, error) {
	if dir == "" {
		dir = DefaultFashionMNISTDir
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("data: Fashion-MNIST folder %s not found "+
			"(install it with `apt-get install -y dataset-fashion-mnist`): %w",
			dir, fs.ErrNotExist)
	}
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	imgPath, err := findFile(dir, prefix+"-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	lblPath, err := findFile(dir, prefix+"-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	ds, err := ReadIDX(imgPath, lblPath)
	if err != nil {
		return nil, err
	}
	if ds.H != 28 || ds.W != 28 || ds.NumClasses > 10 {
		return nil, formatErr(imgPath, "not Fashion-MNIST: want 28×28 images "+
			"with labels 0–9, got %d×%d with %d classes", ds.H, ds.W, ds.NumClasses)
	}
	ds.NumClasses = 10
	return ds, nil
}

// findFile returns dir/name or dir/name.gz, whichever exists.
func findFile(dir, name string) (string, error) {
	for _, n := range []string{name, name + ".gz"} {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", ioErr(err)
		}
	}
	return "", fmt.Errorf("data: %s: neither %s nor %s.gz found: %w",
		dir, name, name, fs.ErrNotExist)
}

// checkedPixels multiplies dims, failing as soon as the product passes
// MaxPixels (so it never overflows: each factor is below 2^32 and the running
// product below 2^30).
func checkedPixels(dims ...uint64) (int, bool) {
	p := uint64(1)
	for _, d := range dims {
		p *= d
		if p > MaxPixels {
			return 0, false
		}
	}
	return int(p), true
}
