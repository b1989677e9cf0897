package safetensors

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Bounds on a ".zst" file: its decompressed size may not exceed ZstdFloor +
// ZstdRatio × its compressed size (weights compress by less than 2×; only a
// decompression bomb needs more), nor MaxDecodedSize, nor the content size its first
// frame declares; the decoder's window is at most zstdMaxWindow.
const (
	ZstdFloor     int64 = 64 << 20
	ZstdRatio     int64 = 256
	zstdMaxWindow       = 128 << 20
)

// ReadFileSum reads and parses the safetensors file at path as ReadFile does and
// also returns the SHA-256 (hex) of its bytes as stored (compressed ones for .zst).
//
// Every size is checked before it is allocated: the header length against
// MaxHeaderSize and the file's real size, the tensors' byte ranges against the
// file's size (a regular file) or MaxDecodedSize (a device, a FIFO, a zstd stream)
// before any tensor data is read. Data of unknown length is read only as far as the
// header accounts for, the buffer growing with what arrives, so /dev/zero or a FIFO
// costs no more than it sends. A ".zst" file is decompressed as a stream under the
// bounds of ZstdFloor and ZstdRatio. An ocm file without its data checksum is
// refused (see IsOCMFormat). Every refusal is a one-line *FormatError.
func ReadFileSum(path string) (*File, string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("safetensors: read %s: %w", path, err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("safetensors: read %s: %w", path, err)
	}
	if fi.IsDir() {
		return nil, "", &FormatError{File: path, Reason: "is a folder, not a safetensors file"}
	}
	size := int64(-1) // unknown: a device or a FIFO
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	h := sha256.New()
	f, err := readStream(path, io.TeeReader(fh, h), size)
	if err != nil {
		return nil, "", err
	}
	return f, hex.EncodeToString(h.Sum(nil)), nil
}

// readStream parses the file name from r, whose size is known (a regular file or
// bytes in memory) or -1, zstd-decompressing it first when name ends in ".zst".
func readStream(name string, r io.Reader, size int64) (*File, error) {
	if !strings.HasSuffix(name, ".zst") {
		return parseStream(name, r, size, MaxDecodedSize)
	}
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, 64<<10)
	limit := MaxDecodedSize
	if size >= 0 {
		limit = min(limit, ZstdFloor+ZstdRatio*size)
	}
	if b, _ := br.Peek(zstd.HeaderMaxSize); len(b) > 0 {
		var h zstd.Header
		if h.Decode(b) == nil && h.HasFCS && h.FrameContentSize > uint64(limit) {
			return nil, &FormatError{File: name, Reason: fmt.Sprintf(
				"zstd frame declares %d decompressed bytes, more than the %d-byte limit for this file", h.FrameContentSize, limit)}
		}
	}
	dec, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		return nil, &FormatError{File: name, Reason: "zstd: " + err.Error()}
	}
	defer dec.Close()
	out := &zstdReader{name: name, r: dec, in: in, limit: limit}
	f, err := parseStream(name, out, -1, limit)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, io.LimitReader(br, 1<<20)); err != nil { // the rest, for the caller's hash
		return nil, fmt.Errorf("safetensors: read %s: %w", name, err)
	}
	return f, nil
}

// parseStream parses a safetensors file from r: size bytes long, or of unknown
// length (-1) but at most limit bytes.
func parseStream(name string, r io.Reader, size, limit int64) (*File, error) {
	fail := func(format string, a ...any) (*File, error) {
		return nil, &FormatError{File: name, Reason: fmt.Sprintf(format, a...)}
	}
	if size > limit {
		return fail("file is %d bytes, more than the %d-byte limit", size, limit)
	}
	var lenBuf [8]byte
	got, err := io.ReadFull(r, lenBuf[:])
	if err != nil && !isEOF(err) {
		return nil, readError(name, err)
	}
	if got < 8 {
		return fail("file is %d bytes, shorter than the 8-byte header length", got)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	known := uint64(math.MaxUint64)
	if size >= 0 {
		known = uint64(size)
	}
	if err := checkHeaderLength(n, known, uint64(limit)); err != nil {
		if why := notSafetensors(lenBuf[:]); why != "" {
			return fail("%s", why)
		}
		return fail("%v", err)
	}
	header, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, readError(name, err)
	}
	if uint64(len(header)) < n {
		return fail("header length %d runs past the end of the %d-byte file", n, 8+len(header))
	}
	entries, meta, err := parseHeader(header)
	if err != nil {
		return fail("%v", err)
	}
	buf, err := readData(name, r, entries, size, int64(8+n), limit)
	if err != nil {
		return nil, err
	}
	f, err := finish(entries, meta, buf, true)
	if err != nil {
		return fail("%v", err)
	}
	return f, nil
}

// readData checks the layout of entries against the data section (the rest of a
// file of size bytes, or as long as the entries say when size is -1; at most limit
// less the head bytes before it) and reads it, then checks that nothing follows.
func readData(name string, r io.Reader, entries []entry, size, head, limit int64) ([]byte, error) {
	fail := func(format string, a ...any) ([]byte, error) {
		return nil, &FormatError{File: name, Reason: fmt.Sprintf(format, a...)}
	}
	var bufLen uint64
	for _, e := range entries {
		bufLen = max(bufLen, e.end)
	}
	if size >= 0 {
		bufLen = uint64(size - head)
	}
	if err := checkLayout(entries, bufLen); err != nil {
		return fail("%v", err)
	}
	if bufLen > uint64(limit-head) {
		return fail("its tensors need %d bytes of data, more than the %d-byte limit on this file", bufLen, limit)
	}
	var buf []byte
	var err error
	if size >= 0 { // the file really is this long
		buf = make([]byte, bufLen)
		var k int
		k, err = io.ReadFull(r, buf)
		buf = buf[:k]
	} else { // grows with what arrives
		buf, err = io.ReadAll(io.LimitReader(r, int64(bufLen)))
	}
	if err != nil && !isEOF(err) {
		return nil, readError(name, err)
	}
	if uint64(len(buf)) < bufLen {
		return fail("file ends %d bytes into its %d-byte data section", len(buf), bufLen)
	}
	var one [1]byte
	if k, err := io.ReadFull(r, one[:]); k > 0 {
		return fail("trailing bytes after the last tensor's data, expected the tensors to cover the %d-byte data buffer", bufLen)
	} else if err != nil && !isEOF(err) {
		return nil, readError(name, err)
	}
	return buf, nil
}

func isEOF(err error) bool { return err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) }

// readError is a failure to read name: a *FormatError from the decompressor as it
// is, anything else wrapped.
func readError(name string, err error) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return fe
	}
	return fmt.Errorf("safetensors: read %s: %w", name, err)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

// Read implements io.Reader.
func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// zstdReader is a decompressed stream that fails, with a *FormatError, past limit
// bytes or past ZstdFloor + ZstdRatio × the compressed bytes read so far.
type zstdReader struct {
	name  string
	r     io.Reader
	in    *countingReader
	n     int64
	limit int64
}

// Read implements io.Reader.
func (z *zstdReader) Read(p []byte) (int, error) {
	k, err := z.r.Read(p)
	z.n += int64(k)
	if z.n > z.limit || z.n > ZstdFloor+ZstdRatio*z.in.n {
		return k, &FormatError{File: z.name, Reason: fmt.Sprintf(
			"decompresses to more than %d bytes from %d compressed ones (limits: %d bytes, %d + %d× the compressed size)",
			z.n-int64(k), z.in.n, z.limit, ZstdFloor, ZstdRatio)}
	}
	if err != nil && err != io.EOF {
		return k, &FormatError{File: z.name, Reason: "zstd: " + err.Error()}
	}
	return k, err
}
