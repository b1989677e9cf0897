package safetensors

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that every failure is a one-line
// *FormatError, and that any file it accepts re-encodes and re-parses to the
// same tensors.
func FuzzRead(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.safetensors"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, tc := range corruptCases() {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Read("fuzz", data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("bad error %q (%T)", err, err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, got, F32); err != nil {
			t.Fatalf("re-encode of an accepted file: %v", err)
		}
		again, err := Read("re-encoded", buf.Bytes())
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if err := sameTensors(again, got, 0); err != nil {
			t.Fatalf("re-encoded file differs: %v", err)
		}
		if err := Encode(&buf, got, BF16); err != nil {
			t.Fatalf("BF16 encode: %v", err)
		}
	})
}
