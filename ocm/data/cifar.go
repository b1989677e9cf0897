package data

import (
	"bufio"
	"bytes"
	"io"
	"os"
)

// CIFAR-10 binary layout: each record is one label byte followed by the
// 32×32 red plane, then green, then blue (so a record is already CHW).
const (
	cifarSide    = 32
	cifarPixels  = 3 * cifarSide * cifarSide
	cifarRecord  = 1 + cifarPixels
	cifarClasses = 10
)

// ReadCIFAR10 reads CIFAR-10 binary batches (data_batch_1.bin …
// test_batch.bin) and concatenates them in the order given. Each file must be
// a non-empty whole number of 3073-byte records whose label byte is 0–9. The
// result has C = 3, H = W = 32 and NumClasses = 10.
func ReadCIFAR10(paths ...string) (*Images, error) {
	if len(paths) == 0 {
		return nil, formatErr("", "ReadCIFAR10: no batch files given")
	}
	sizes := make([]int64, len(paths))
	var total int64
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, ioErr(err)
		}
		if err := checkCIFARSize(p, st.Size()); err != nil {
			return nil, err
		}
		sizes[i] = st.Size()
		total += st.Size() / cifarRecord
		if total > MaxPixels/cifarPixels {
			return nil, formatErr(p, "the batches hold more than %d pixels in all", MaxPixels)
		}
	}
	ds := newCIFAR(int(total))
	at := 0
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, ioErr(err)
		}
		n, err := decodeCIFAR(p, bufio.NewReaderSize(f, 1<<16), sizes[i], ds, at)
		f.Close()
		if err != nil {
			return nil, err
		}
		at += n
	}
	return ds, nil
}

// parseCIFAR10 is ReadCIFAR10 on one in-memory batch; the fuzz tests call it.
func parseCIFAR10(name string, data []byte) (*Images, error) {
	size := int64(len(data))
	if err := checkCIFARSize(name, size); err != nil {
		return nil, err
	}
	if size/cifarRecord > MaxPixels/cifarPixels {
		return nil, formatErr(name, "more than %d pixels", MaxPixels)
	}
	ds := newCIFAR(int(size / cifarRecord))
	if _, err := decodeCIFAR(name, bytes.NewReader(data), size, ds, 0); err != nil {
		return nil, err
	}
	return ds, nil
}

// checkCIFARSize checks a batch size is a positive multiple of 3073.
func checkCIFARSize(name string, size int64) error {
	if size == 0 || size%cifarRecord != 0 {
		return formatErr(name, "size %d bytes is not a positive multiple of the %d-byte CIFAR-10 record "+
			"(%d whole records + %d bytes)", size, cifarRecord, size/cifarRecord, size%cifarRecord)
	}
	return nil
}

// newCIFAR allocates a CIFAR-10 data set of n images.
func newCIFAR(n int) *Images {
	return &Images{N: n, C: 3, H: cifarSide, W: cifarSide,
		Pixels: make([]uint8, n*cifarPixels), Labels: make([]int, n), NumClasses: cifarClasses}
}

// decodeCIFAR reads size/3073 records from r into ds starting at image at,
// returning the number of records read.
func decodeCIFAR(name string, r io.Reader, size int64, ds *Images, at int) (int, error) {
	n := int(size / cifarRecord)
	var rec [cifarRecord]byte
	for i := range n {
		if _, err := io.ReadFull(r, rec[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return 0, formatErr(name, "truncated: file ended in record %d of %d", i, n)
			}
			return 0, ioErr(err)
		}
		if rec[0] >= cifarClasses {
			return 0, formatErr(name, "record %d (byte offset %d): label %d out of range 0–9",
				i, int64(i)*cifarRecord, rec[0])
		}
		ds.Labels[at+i] = int(rec[0])
		copy(ds.Pixels[(at+i)*cifarPixels:], rec[1:])
	}
	return n, nil
}
