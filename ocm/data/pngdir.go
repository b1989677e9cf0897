package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxPNGBytes bounds the size of one PNG file read into memory.
const maxPNGBytes = 256 << 20

// ReadPNGDir reads every *.png file (the suffix in any case) of dir, sorted
// by name, as one data set without labels. All images must have the same
// size (at most MaxSide×MaxSide) and the same number of channels: gray
// (8- or 16-bit, keeping the high byte) gives C = 1; RGB, RGBA and paletted
// images give C = 3, with alpha dropped (the colour is taken
// non-premultiplied). Sub-folders and other files are ignored.
func ReadPNGDir(dir string) (*Images, error) {
	names, err := listPNG(dir)
	if err != nil {
		return nil, err
	}
	var ds *Images
	for i, name := range names {
		img, c, err := readPNG(name)
		if err != nil {
			return nil, err
		}
		b := img.Bounds()
		if ds == nil {
			pix, ok := checkedPixels(uint64(len(names)), uint64(c), uint64(b.Dy()), uint64(b.Dx()))
			if !ok {
				return nil, formatErr(name, "%d images of %d×%d×%d exceed %d pixels in all",
					len(names), c, b.Dy(), b.Dx(), MaxPixels)
			}
			ds = &Images{N: len(names), C: c, H: b.Dy(), W: b.Dx(), Pixels: make([]uint8, pix)}
		} else if c != ds.C || b.Dy() != ds.H || b.Dx() != ds.W {
			return nil, formatErr(name, "image is %s %d×%d, want %s %d×%d like %s",
				colourName(c), b.Dy(), b.Dx(), colourName(ds.C), ds.H, ds.W, filepath.Base(names[0]))
		}
		copyPixels(ds.Image(i), img, c)
	}
	return ds, nil
}

// listPNG returns the sorted paths of the *.png regular files in dir.
func listPNG(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, ioErr(err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.EqualFold(filepath.Ext(e.Name()), ".png") {
			continue
		}
		if len(names) == MaxFiles {
			return nil, formatErr(dir, "more than %d PNG files", MaxFiles)
		}
		names = append(names, filepath.Join(dir, e.Name()))
	}
	if len(names) == 0 {
		return nil, formatErr(dir, "no *.png files in the folder")
	}
	return names, nil
}

// readPNG decodes one PNG after checking its header (size and colour model)
// and returns it with its channel count.
func readPNG(name string) (image.Image, int, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, 0, ioErr(err)
	}
	if !st.Mode().IsRegular() { // a device or a FIFO: its size says nothing
		return nil, 0, formatErr(name, "not a regular file (%v), expected a PNG file", st.Mode().Type())
	}
	if st.Size() > maxPNGBytes {
		return nil, 0, formatErr(name, "file of %d bytes exceeds the %d-byte limit", st.Size(), maxPNGBytes)
	}
	raw, err := readAtMost(name, maxPNGBytes)
	if err != nil {
		return nil, 0, err
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, formatErr(name, "not a valid PNG: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return nil, 0, formatErr(name, "image size %d×%d outside 1×1 … %d×%d", cfg.Height, cfg.Width, MaxSide, MaxSide)
	}
	c := 3
	if cfg.ColorModel == color.GrayModel || cfg.ColorModel == color.Gray16Model {
		c = 1
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, formatErr(name, "not a valid PNG: %v", err)
	}
	return img, c, nil
}

// readAtMost reads the file name, refusing one that grows past limit bytes while
// it is read.
func readAtMost(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, ioErr(err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, ioErr(err)
	}
	if int64(len(raw)) > limit {
		return nil, formatErr(name, "file exceeds the %d-byte limit", limit)
	}
	return raw, nil
}

// copyPixels writes img into dst (C×H×W) with c channels.
func copyPixels(dst []uint8, img image.Image, c int) {
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	plane := h * w
	for y := range h {
		for x := range w {
			p := y*w + x
			if c == 1 {
				dst[p] = grayAt(img, b.Min.X+x, b.Min.Y+y)
				continue
			}
			n := nrgbaAt(img, b.Min.X+x, b.Min.Y+y)
			dst[p], dst[plane+p], dst[2*plane+p] = n.R, n.G, n.B
		}
	}
}

// grayAt returns the 8-bit gray value at (x, y). Images whose PNG header
// says gray decode as *image.Gray, *image.Gray16, or (gray with a tRNS
// transparent value) NRGBA with R = G = B, whose alpha is dropped.
func grayAt(img image.Image, x, y int) uint8 {
	switch m := img.(type) {
	case *image.Gray:
		return m.GrayAt(x, y).Y
	case *image.Gray16:
		return uint8(m.Gray16At(x, y).Y >> 8)
	}
	return nrgbaAt(img, x, y).R
}

// nrgbaAt returns the non-premultiplied colour at (x, y), with fast paths
// for *image.NRGBA and opaque *image.RGBA pixels.
func nrgbaAt(img image.Image, x, y int) color.NRGBA {
	switch m := img.(type) {
	case *image.NRGBA:
		return m.NRGBAAt(x, y)
	case *image.RGBA:
		if c := m.RGBAAt(x, y); c.A == 0xff {
			return color.NRGBA{c.R, c.G, c.B, c.A}
		}
	}
	return color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
}

// colourName names a channel count for error messages.
func colourName(c int) string {
	if c == 1 {
		return "gray"
	}
	return fmt.Sprintf("%d-channel colour", c)
}
