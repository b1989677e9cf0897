package safetensors

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotSafetensorsSaysWhatItIs: a PNG, a JPEG, or a gzip file given as weights is named for what it is, not by a header length.
func TestNotSafetensorsSaysWhatItIs(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ data, want string }{
		{"\x89PNG\r\n\x1a\n" + strings.Repeat("x", 64), "PNG image"},
		{"\xff\xd8\xff\xe0" + strings.Repeat("x", 64), "JPEG image"},
		{"\x1f\x8b\x08\x00" + strings.Repeat("x", 64), "gzip file"},
	} {
		p := filepath.Join(dir, "w")
		os.WriteFile(p, []byte(c.data), 0o644)
		_, err := ReadFile(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "header length 7") {
			t.Errorf("%q: %v, want %q", c.data[:4], err, c.want)
		}
	}
}
