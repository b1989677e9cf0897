package imagefile

import (
	"archive/zip"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"ocm/nn/safetensors"
)

// npzMember is the array name numpy.savez gives its first positional
// argument, and what FID tools look for.
const npzMember = "arr_0.npy"

// npzTime is the fixed modification time stored in the archive, so the
// bytes do not depend on when the file was written.
var npzTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// npyHeader returns the .npy version 1.0 preamble for a C-ordered uint8
// array of the given shape: magic, version, little-endian header length and
// the header dict, padded with spaces and a final newline so that the whole
// preamble is a multiple of 64 bytes long.
func npyHeader(shape ...int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	dict := fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%s), }", strings.Join(dims, ", "))
	if len(shape) == 1 {
		dict = fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%s,), }", dims[0])
	}
	const pre = 6 + 2 + 2 // magic, version, header length
	total := pre + len(dict) + 1
	total = (total + 63) / 64 * 64
	h := make([]byte, 0, total)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(total-pre))
	h = append(h, dict...)
	for len(h) < total-1 {
		h = append(h, ' ')
	}
	return append(h, '\n')
}

// toNHWC quantises x (NCHW) with ToUint8's rule into NHWC order.
func toNHWC(x []float32, n, c, h, w int) []uint8 {
	hw := h * w
	out := make([]uint8, len(x))
	o := 0
	for k := 0; k < n; k++ {
		img := x[k*c*hw : (k+1)*c*hw]
		for p := 0; p < hw; p++ {
			for ch := 0; ch < c; ch++ {
				out[o] = toByte(img[ch*hw+p])
				o++
			}
		}
	}
	return out
}

// WriteNPZ writes the n images of x (NCHW, c = 1 or 3, values in [-1, 1])
// to path as a NumPy .npz archive, as numpy.savez(path, a) would: a zip
// (stored, uncompressed) holding one member "arr_0.npy", a .npy version 1.0
// uint8 array of shape (n, h, w, c) in C order — NHWC, with the channel axis
// last even when c = 1 — quantised as by ToUint8. This is the sample batch
// format that external FID tools (for example the guided-diffusion and
// EDM evaluation scripts) load with numpy.load(path)["arr_0"].
//
// The file is replaced atomically; on error it is left as it was.
func WriteNPZ(path string, x []float32, n, c, h, w int) error {
	if _, err := checkShape(x, n, c, h, w); err != nil {
		return fmt.Errorf("imagefile: write npz %s: %w", path, err)
	}
	data := toNHWC(x, n, c, h, w)
	hdr := npyHeader(n, h, w, c)
	err := safetensors.WriteFileAtomic(path, func(out io.Writer) error {
		zw := zip.NewWriter(out)
		fh := &zip.FileHeader{Name: npzMember, Method: zip.Store, Modified: npzTime}
		fh.SetMode(0o644)
		f, err := zw.CreateHeader(fh)
		if err != nil {
			return err
		}
		if _, err := f.Write(hdr); err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("imagefile: %w", err)
	}
	return nil
}
