package safetensors

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadFileSizesFromHeader: a regular file, a stream of unknown length (a pipe)
// and bytes in memory give the same file, and a stream is read only as far as its
// header accounts for: one byte more is refused as trailing data.
func TestReadFileSizesFromHeader(t *testing.T) {
	want := sampleFile()
	data := mustEncode(want, F32)
	got, err := parseStream("pipe", bytes.NewReader(data), -1, MaxDecodedSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameTensors(got, want, 0); err != nil {
		t.Fatal(err)
	}
	_, err = parseStream("pipe", io.MultiReader(bytes.NewReader(data), strings.NewReader("x")), -1, MaxDecodedSize)
	if err == nil || !strings.Contains(err.Error(), "trailing bytes") {
		t.Fatalf("one byte past the data: %v", err)
	}
	_, err = parseStream("pipe", bytes.NewReader(data[:len(data)-1]), -1, MaxDecodedSize)
	if err == nil || !strings.Contains(err.Error(), "file ends") {
		t.Fatalf("one byte short: %v", err)
	}
	path := filepath.Join(t.TempDir(), "f.safetensors")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, sum, err := ReadFileSum(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameTensors(f, want, 0); err != nil {
		t.Fatal(err)
	}
	if len(sum) != 64 {
		t.Errorf("sum %q is not a hex SHA-256", sum)
	}
	if _, err := ReadFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "folder") {
		t.Errorf("a folder: %v", err)
	}
}

// FuzzStreamMatchesRead: reading a file as a stream of unknown length (a FIFO, a
// zstd stream) accepts exactly what parsing it whole accepts, with the same tensors.
func FuzzStreamMatchesRead(f *testing.F) {
	for _, tc := range corruptCases() {
		f.Add(tc.data)
	}
	f.Add(mustEncode(sampleFile(), F32))
	f.Add(mustEncode(sampleFile(), BF16))
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, err1 := parse(data, true)
		stream, err2 := parseStream("f", bytes.NewReader(data), -1, MaxDecodedSize)
		sized, err3 := parseStream("f", bytes.NewReader(data), int64(len(data)), MaxDecodedSize)
		if (err1 == nil) != (err2 == nil) || (err1 == nil) != (err3 == nil) {
			t.Fatalf("whole: %v; stream: %v; sized stream: %v", err1, err2, err3)
		}
		if err1 != nil {
			return
		}
		if err := sameTensors(stream, whole, 0); err != nil {
			t.Fatal(err)
		}
		if err := sameTensors(sized, whole, 0); err != nil {
			t.Fatal(err)
		}
	})
}
