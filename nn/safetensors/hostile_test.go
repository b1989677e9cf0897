package safetensors

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"ocm/ocm/hostiletest"
)

// writeZstd writes head followed by zeros zero bytes, zstd-compressed, to path.
func writeZstd(path string, head []byte, zeros int64) {
	fh, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	zw, err := zstd.NewWriter(fh, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		panic(err)
	}
	if _, err := zw.Write(head); err != nil {
		panic(err)
	}
	if _, err := io.CopyN(zw, zeroReader{}, zeros); err != nil {
		panic(err)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	if err := fh.Close(); err != nil {
		panic(err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// headerOnly is a safetensors file's length and header declaring one F32 tensor of
// n values, without the data.
func headerOnly(n int64) []byte {
	h := []byte(`{"w":{"dtype":"F32","shape":[` + itoa(n) + `],"data_offsets":[0,` + itoa(4*n) + `]}}`)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	return append(out, h...)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestHostileFiles: files whose sizes lie are refused, each in a child process, in
// under 5 s with a peak RSS under 200 MB and a one-line error: /dev/zero (a device
// that never ends), a sparse 8 GB file, zstd bombs (a valid small file followed by
// 256 MB of zeros; a header declaring a gigabyte the 1 KB file cannot honestly
// hold), and /dev/zero behind a .zst name. The old reader read each to the end.
func TestHostileFiles(t *testing.T) {
	read := func(name string) func(dir string) error {
		return func(dir string) error {
			p := name
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, name)
			}
			_, err := ReadFile(p)
			return err
		}
	}
	setup := func(dir string) {
		sparse, err := os.Create(filepath.Join(dir, "sparse.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sparse.Truncate(8 << 30); err != nil {
			t.Skipf("no sparse files here: %v", err)
		}
		sparse.Close()
		small := mustEncode(&File{Tensors: []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}}, F32)
		writeZstd(filepath.Join(dir, "trailing.safetensors.zst"), small, 256<<20)
		writeZstd(filepath.Join(dir, "declared.safetensors.zst"), headerOnly(1<<28), 16<<20)
		if err := os.Symlink("/dev/zero", filepath.Join(dir, "zero.safetensors.zst")); err != nil {
			t.Fatal(err)
		}
	}
	hostiletest.Run(t, setup, []hostiletest.Case{
		{Name: "dev-zero", Want: "header length is 0", Run: read("/dev/zero")},
		{Name: "sparse-8GB", Want: "more than the", Run: read("sparse.safetensors")},
		{Name: "zst-trailing-zeros", Want: "trailing bytes", Run: read("trailing.safetensors.zst")},
		{Name: "zst-declared-gigabyte", Want: "limit", Run: read("declared.safetensors.zst")},
		{Name: "dev-zero-as-zst", Want: "zstd", Run: read("zero.safetensors.zst")},
	})
}

// TestOCMFileNeedsChecksum: a file in one of ocm's formats whose checksum key was
// renamed is refused when read from disk, with the reason; a third-party file
// without the key (another format, or an unversioned ocm-* name such as the
// PyTorch-written goldens') is read; Read (the embedded models, checked by their own SHA-256)
// accepts both. The old reader loaded the renamed one, so a flipped data byte went
// unnoticed.
func TestOCMFileNeedsChecksum(t *testing.T) {
	dir := t.TempDir()
	for _, format := range []string{"ocm-toy-bundle/1", "pt", "ocm-unet-golden"} {
		f := sampleFile()
		f.Metadata["format"] = format
		data := bytes.Replace(mustEncode(f, F32), []byte(`"`+DataSHA256Key+`"`), []byte(`"ocm.data_sha25X"`), 1)
		data[len(data)-3] ^= 1
		path := filepath.Join(dir, strings.ReplaceAll(format, "/", "_")+".safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFile(path)
		if format != "ocm-toy-bundle/1" && err != nil {
			t.Errorf("a third-party file without the key: %v", err)
		}
		if format == "ocm-toy-bundle/1" && (err == nil || !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), DataSHA256Key)) {
			t.Errorf("an ocm file without the key: %v", err)
		}
		if _, err := Read(path, data); err != nil {
			t.Errorf("Read of %s: %v", format, err)
		}
	}
}
