package imagefile

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"ocm/nn/safetensors"
)

// PadGray is the grey level (0..255) of the border WriteGrid draws between
// images and of the empty cells of an incomplete last row: mid-grey, the
// pixel value of a sample value of 0, so the border stands apart from both
// black (-1) and white (+1) backgrounds.
const PadGray = 128

// maxPNGSide is the largest width or height a PNG may have (2³¹-1).
const maxPNGSide = 1<<31 - 1

// ToUint8 quantises samples in [-1, 1] to 8-bit pixels:
// pixel = round(255·clamp((v+1)/2, 0, 1)), rounding halves up. So -1 maps
// to 0, 0 to 128 and 1 to 255; values below -1 give 0, values above 1 give
// 255, and NaN gives 0. The result has the same length and order as x.
func ToUint8(x []float32) []uint8 {
	out := make([]uint8, len(x))
	for i, v := range x {
		out[i] = toByte(v)
	}
	return out
}

// toByte quantises one sample value; see ToUint8.
func toByte(v float32) uint8 {
	f := (float64(v) + 1) / 2
	if !(f > 0) { // also NaN
		return 0
	}
	if f >= 1 {
		return 255
	}
	return uint8(math.Floor(f*255 + 0.5))
}

// mulOK returns a·b for non-negative a and b, and false if it overflows int.
func mulOK(a, b int) (int, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt/b {
		return 0, false
	}
	return a * b, true
}

// checkShape validates an NCHW batch description against x and returns the
// number of values per image, c·h·w.
func checkShape(x []float32, n, c, h, w int) (int, error) {
	if n <= 0 {
		return 0, fmt.Errorf("n = %d, want > 0", n)
	}
	if c != 1 && c != 3 {
		return 0, fmt.Errorf("c = %d, want 1 (grayscale) or 3 (RGB)", c)
	}
	if h <= 0 || w <= 0 {
		return 0, fmt.Errorf("h×w = %d×%d, want both > 0", h, w)
	}
	hw, ok := mulOK(h, w)
	chw, ok2 := mulOK(c, hw)
	total, ok3 := mulOK(n, chw)
	if !ok || !ok2 || !ok3 {
		return 0, fmt.Errorf("shape (%d, %d, %d, %d) overflows int", n, c, h, w)
	}
	if len(x) != total {
		return 0, fmt.Errorf("len(x) = %d, want n·c·h·w = %d·%d·%d·%d = %d", len(x), n, c, h, w, total)
	}
	return chw, nil
}

// gridLayout returns the columns, rows and pixel size of a grid of n images
// of h×w with at most cols columns and pad pixels between neighbours.
func gridLayout(n, h, w, cols, pad int) (gc, gr, gw, gh int, err error) {
	if cols < 1 {
		return 0, 0, 0, 0, fmt.Errorf("cols = %d, want ≥ 1", cols)
	}
	if pad < 0 {
		return 0, 0, 0, 0, fmt.Errorf("pad = %d, want ≥ 0", pad)
	}
	gc = min(cols, n)
	gr = (n + gc - 1) / gc
	side := func(k, s int) (int, bool) {
		a, ok := mulOK(k, s)
		b, ok2 := mulOK(k-1, pad)
		if !ok || !ok2 || a > maxPNGSide-b {
			return 0, false
		}
		return a + b, true
	}
	gw, ok := side(gc, w)
	gh, ok2 := side(gr, h)
	if !ok || !ok2 {
		return 0, 0, 0, 0, fmt.Errorf("grid of %d×%d images of %d×%d with pad %d exceeds the PNG size limit", gr, gc, h, w, pad)
	}
	if px, ok := mulOK(gw, gh); !ok || px > math.MaxInt/4 {
		return 0, 0, 0, 0, fmt.Errorf("grid of %d×%d pixels is too large", gw, gh)
	}
	return gc, gr, gw, gh, nil
}

// renderGrid draws the n images of x (NCHW, already validated) into one
// image of gc columns with pad pixels of PadGray between them: image.Gray
// for c = 1, opaque image.NRGBA for c = 3.
func renderGrid(x []float32, n, c, h, w, gc, gw, gh, pad int) image.Image {
	hw := h * w
	if c == 1 {
		img := image.NewGray(image.Rect(0, 0, gw, gh))
		for i := range img.Pix {
			img.Pix[i] = PadGray
		}
		for k := 0; k < n; k++ {
			x0, y0 := (k%gc)*(w+pad), (k/gc)*(h+pad)
			src := x[k*hw : (k+1)*hw]
			for y := 0; y < h; y++ {
				row := img.Pix[(y0+y)*img.Stride+x0:]
				for xx, v := range src[y*w : (y+1)*w] {
					row[xx] = toByte(v)
				}
			}
		}
		return img
	}
	img := image.NewNRGBA(image.Rect(0, 0, gw, gh))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = PadGray, PadGray, PadGray, 255
	}
	for k := 0; k < n; k++ {
		x0, y0 := (k%gc)*(w+pad), (k/gc)*(h+pad)
		base := k * c * hw
		for y := 0; y < h; y++ {
			row := img.Pix[(y0+y)*img.Stride+4*x0:]
			for xx := 0; xx < w; xx++ {
				p := base + y*w + xx
				o := 4 * xx
				row[o] = toByte(x[p])
				row[o+1] = toByte(x[p+hw])
				row[o+2] = toByte(x[p+2*hw])
				row[o+3] = 255
			}
		}
	}
	return img
}

// encodePNG encodes img with image/png and splices the prepared tEXt chunks
// in right after IHDR.
func encodePNG(img image.Image, chunks []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	// Signature (8 bytes), then IHDR: length 13, type, 13 data bytes, CRC.
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(b) < ihdrEnd || string(b[:8]) != pngSignature || string(b[12:16]) != "IHDR" {
		return nil, errors.New("image/png output does not start with IHDR")
	}
	if len(chunks) == 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b)+len(chunks))
	out = append(out, b[:ihdrEnd]...)
	out = append(out, chunks...)
	out = append(out, b[ihdrEnd:]...)
	return out, nil
}

// writeBytes writes data to path atomically.
func writeBytes(path string, data []byte) error {
	return safetensors.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteGrid writes the n images of x (NCHW, c = 1 or 3, values in [-1, 1])
// as one PNG at path, tiled row by row into a grid of cols columns and
// ceil(n/cols) rows, with pad pixels of mid-grey border (PadGray) between
// neighbouring images and no border around the outside. If cols > n the grid
// has n columns. Image k's top-left pixel lands at
// ((k mod cols)·(w+pad), (k div cols)·(h+pad)); the unused cells of an
// incomplete last row are mid-grey too. The grid is 8-bit grayscale for
// c = 1 and 8-bit RGB for c = 3.
//
// Each entry of text is stored as a PNG tEXt chunk right after IHDR, in
// sorted key order; see ReadText. Keys and values must be representable in
// Latin-1 (every rune ≤ U+00FF) and contain no NUL; keys must be 1 to 79
// bytes of printable Latin-1 (32–126, 161–255) without leading, trailing or
// consecutive spaces, as the PNG specification requires. text may be nil.
//
// The file is replaced atomically; on error it is left as it was.
func WriteGrid(path string, x []float32, n, c, h, w, cols int, pad int, text map[string]string) error {
	if _, err := checkShape(x, n, c, h, w); err != nil {
		return fmt.Errorf("imagefile: write grid %s: %w", path, err)
	}
	gc, _, gw, gh, err := gridLayout(n, h, w, cols, pad)
	if err != nil {
		return fmt.Errorf("imagefile: write grid %s: %w", path, err)
	}
	chunks, err := textChunks(text)
	if err != nil {
		return fmt.Errorf("imagefile: write grid %s: %w", path, err)
	}
	data, err := encodePNG(renderGrid(x, n, c, h, w, gc, gw, gh, pad), chunks)
	if err != nil {
		return fmt.Errorf("imagefile: write grid %s: %w", path, err)
	}
	if err := writeBytes(path, data); err != nil {
		return fmt.Errorf("imagefile: %w", err)
	}
	return nil
}

// eachName is the file name WriteEach gives image k of n: prefix, k
// zero-padded to at least four digits and to as many as n-1 has, ".png".
func eachName(prefix string, k, n int) string {
	digits := max(4, len(strconv.Itoa(n-1)))
	return fmt.Sprintf("%s%0*d.png", prefix, digits, k)
}

// WriteEach writes each of the n images of x (NCHW, c = 1 or 3, values in
// [-1, 1]) to its own PNG in the existing directory dir, named prefix
// followed by the zero-padded image index and ".png" — at least four
// digits, more when n > 10000 (samples_0000.png, samples_0001.png, ...) —
// and returns the paths in index order. Every file gets the same text
// chunks, validated as for WriteGrid.
//
// Each file is replaced atomically. If writing one fails, the files this
// call already wrote are removed (files they replaced are not restored) and
// nil is returned with the error.
func WriteEach(dir, prefix string, x []float32, n, c, h, w int, text map[string]string) ([]string, error) {
	chw, err := checkShape(x, n, c, h, w)
	if err != nil {
		return nil, fmt.Errorf("imagefile: write images %s: %w", filepath.Join(dir, prefix+"*.png"), err)
	}
	if _, _, _, _, err := gridLayout(1, h, w, 1, 0); err != nil {
		return nil, fmt.Errorf("imagefile: write images %s: %w", filepath.Join(dir, prefix+"*.png"), err)
	}
	chunks, err := textChunks(text)
	if err != nil {
		return nil, fmt.Errorf("imagefile: write images %s: %w", filepath.Join(dir, prefix+"*.png"), err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("imagefile: write images: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("imagefile: write images: %s is not a directory", dir)
	}
	paths := make([]string, 0, n)
	fail := func(err error) ([]string, error) {
		for _, p := range paths {
			os.Remove(p)
		}
		return nil, err
	}
	for k := 0; k < n; k++ {
		p := filepath.Join(dir, eachName(prefix, k, n))
		data, err := encodePNG(renderGrid(x[k*chw:(k+1)*chw], 1, c, h, w, 1, w, h, 0), chunks)
		if err != nil {
			return fail(fmt.Errorf("imagefile: write image %s: %w", p, err))
		}
		if err := writeBytes(p, data); err != nil {
			return fail(fmt.Errorf("imagefile: %w", err))
		}
		paths = append(paths, p)
	}
	return paths, nil
}
