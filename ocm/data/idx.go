package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// IDX magic numbers: two zero bytes, the dtype (0x08 = uint8) and the number
// of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// ReadIDX reads an MNIST-style IDX image file (magic 0x00000803: N×H×W
// uint8) and, unless labelsPath is "", the matching IDX label file (magic
// 0x00000801: N uint8). Either file may be gzip-compressed; gzip is detected
// by its magic bytes, not by the name. The result has C = 1 and, with labels,
// NumClasses = max label + 1.
func ReadIDX(imagesPath, labelsPath string) (*Images, error) {
	dims, pix, err := readIDXFile(imagesPath, idxImagesMagic)
	if err != nil {
		return nil, err
	}
	var lbl []byte
	if labelsPath != "" {
		if _, lbl, err = readIDXFile(labelsPath, idxLabelsMagic); err != nil {
			return nil, err
		}
	}
	return assembleIDX(imagesPath, dims, pix, labelsPath, lbl)
}

// parseIDX is ReadIDX on in-memory files (lbl nil: no labels). The fuzz
// tests call it.
func parseIDX(imgName string, img []byte, lblName string, lbl []byte) (*Images, error) {
	dims, pix, err := decodeIDX(imgName, bytes.NewReader(img), int64(len(img)), idxImagesMagic)
	if err != nil {
		return nil, err
	}
	var lb []byte
	if lbl != nil {
		if _, lb, err = decodeIDX(lblName, bytes.NewReader(lbl), int64(len(lbl)), idxLabelsMagic); err != nil {
			return nil, err
		}
	}
	return assembleIDX(imgName, dims, pix, lblName, lb)
}

// assembleIDX checks the image and label parts agree and builds the Images.
func assembleIDX(imgName string, dims []int, pix []byte, lblName string, lbl []byte) (*Images, error) {
	ds := &Images{N: dims[0], C: 1, H: dims[1], W: dims[2], Pixels: pix}
	if ds.N == 0 || ds.H == 0 || ds.W == 0 {
		return nil, formatErr(imgName, "empty data set: dims %s, want all dims ≥ 1", dimString(dims))
	}
	if ds.H > MaxSide || ds.W > MaxSide {
		return nil, formatErr(imgName, "image size %d×%d exceeds the limit %d×%d",
			ds.H, ds.W, MaxSide, MaxSide)
	}
	if lbl == nil {
		return ds, nil
	}
	if len(lbl) != ds.N {
		return nil, formatErr(lblName, "label count %d does not match image count %d in %s",
			len(lbl), ds.N, imgName)
	}
	ds.Labels = make([]int, len(lbl))
	for i, b := range lbl {
		ds.Labels[i] = int(b)
		ds.NumClasses = max(ds.NumClasses, int(b)+1)
	}
	return ds, nil
}

// readIDXFile opens path and decodes it with decodeIDX.
func readIDXFile(path string, magic uint32) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, ioErr(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, ioErr(err)
	}
	return decodeIDX(path, f, st.Size(), magic)
}

// decodeIDX reads one IDX stream of the given magic from r, raw or gzip.
// size is the length of r in bytes. It returns the dims and the data bytes.
// Memory is bounded: a raw stream's size is checked against the header
// before the data is read, and a gzip stream is read through a LimitReader
// of the expected size + 1, so its buffer grows only with real data.
func decodeIDX(name string, r io.Reader, size int64, magic uint32) ([]int, []byte, error) {
	br := bufio.NewReader(r)
	gz := false
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, formatErr(name, "bad gzip header: %v", err)
		}
		defer zr.Close()
		r, gz = zr, true
	} else {
		r = br
	}
	dims, err := readIDXHeader(name, r, magic, gz)
	if err != nil {
		return nil, nil, err
	}
	u := make([]uint64, len(dims))
	for i, d := range dims {
		u[i] = uint64(d)
	}
	want, ok := checkedPixels(u...)
	if !ok {
		return nil, nil, formatErr(name, "dims %s give more than %d bytes", dimString(dims), MaxPixels)
	}
	hdr := int64(4 + 4*len(dims))
	if !gz && size != hdr+int64(want) {
		return nil, nil, formatErr(name, "dims %s need %d bytes after the %d-byte header (file of %d bytes), file has %d bytes",
			dimString(dims), want, hdr, hdr+int64(want), size)
	}
	body, err := readBody(name, r, want, gz)
	return dims, body, err
}

// readBody reads exactly want bytes and checks the stream ends there.
func readBody(name string, r io.Reader, want int, gz bool) ([]byte, error) {
	var body []byte
	var err error
	if gz {
		body, err = io.ReadAll(io.LimitReader(r, int64(want)+1))
	} else {
		body = make([]byte, want+1)
		var n int
		n, err = io.ReadFull(r, body)
		body = body[:n]
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		return nil, streamErr(name, err, gz)
	}
	if len(body) < want {
		return nil, formatErr(name, "truncated data: dims need %d bytes after the header, got %d", want, len(body))
	}
	if len(body) > want {
		return nil, formatErr(name, "trailing bytes: dims need %d bytes after the header, the data is longer", want)
	}
	return body, nil
}

// readIDXHeader reads the magic and the big-endian dims.
func readIDXHeader(name string, r io.Reader, magic uint32, gz bool) ([]int, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, headerErr(name, "the magic number", err, gz)
	}
	got := binary.BigEndian.Uint32(b[:])
	kind := map[uint32]string{idxImagesMagic: "image", idxLabelsMagic: "label"}[magic]
	switch {
	case got>>16 != 0:
		return nil, formatErr(name, "not an IDX file: magic 0x%08x, want 0x%08x (IDX %s file)", got, magic, kind)
	case b[2] != 0x08:
		return nil, formatErr(name, "unsupported IDX dtype 0x%02x, want 0x08 (uint8)", b[2])
	case got != magic:
		return nil, formatErr(name, "IDX file has %d dims (magic 0x%08x), want %d for an IDX %s file (magic 0x%08x)",
			b[3], got, magic&0xff, kind, magic)
	}
	dims := make([]int, magic&0xff)
	for i := range dims {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, headerErr(name, fmt.Sprintf("dim %d of %d", i+1, len(dims)), err, gz)
		}
		dims[i] = int(binary.BigEndian.Uint32(b[:]))
	}
	return dims, nil
}

// headerErr reports a failed header read.
func headerErr(name, what string, err error, gz bool) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return formatErr(name, "truncated header: file ends in %s", what)
	}
	return streamErr(name, err, gz)
}

// streamErr turns a read error into a FormatError for gzip streams (corrupt
// data, bad checksum) and an I/O error otherwise.
func streamErr(name string, err error, gz bool) error {
	if gz {
		return formatErr(name, "bad gzip stream (corrupt or truncated): %v", err)
	}
	return ioErr(fmt.Errorf("%s: %w", name, err))
}

// dimString formats dims as "60000×28×28".
func dimString(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = fmt.Sprint(d)
	}
	return strings.Join(s, "×")
}
