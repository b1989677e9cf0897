package assets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/klauspost/compress/zstd"
)

var update = flag.Bool("update", false, "rewrite checksums.txt from the *.safetensors.zst files in this folder")

// TestChecksums loads every embedded model (which verifies its SHA-256) and, with
// -update, first rewrites checksums.txt from the files on disk.
func TestChecksums(t *testing.T) {
	if *update {
		writeChecksums(t)
	}
	models, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(models) == 0 {
		t.Fatal("no embedded models")
	}
	for _, m := range models {
		data, _, err := Load(m.Name)
		if err != nil {
			t.Errorf("%s: %v", m.Name, err)
			continue
		}
		if len(data) < 8 {
			t.Errorf("%s: %d bytes", m.Name, len(data))
		}
	}
}

// TestCorruptionIsRefused flips one byte of a decompressed bundle and checks the
// SHA-256 comparison catches it.
func TestCorruptionIsRefused(t *testing.T) {
	models, _ := List()
	data, m, err := Load(models[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 1
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) == m.SHA256 {
		t.Fatal("a flipped byte kept the SHA-256")
	}
	if _, _, err := Load("no-such-model"); err == nil {
		t.Error("unknown model name accepted")
	}
}

func writeChecksums(t *testing.T) {
	paths, _ := filepath.Glob("*.safetensors.zst")
	sort.Strings(paths)
	var b bytes.Buffer
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := zstd.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(dec)
		dec.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), p)
	}
	if err := os.WriteFile("checksums.txt", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("rewrote checksums.txt for %d files: rebuild and run the tests again", len(paths))
}
