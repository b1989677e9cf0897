package data

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestIsImageSpec(t *testing.T) {
	for spec, want := range map[string]bool{
		"fashion-mnist": true, "idx:a.gz": true, "idx:a,b": true, "cifar10:x.bin": true, "png:dir": true,
		"mog9": false, "mog40": false, "mix.json": false, "fashion-mnist:x": false, "cifar10": false, "": false,
	} {
		if got := IsImageSpec(spec); got != want {
			t.Errorf("IsImageSpec(%q) = %v, want %v", spec, got, want)
		}
	}
}

// TestOpenDispatches: each kind reaches its reader (a missing file names that file),
// and a spec that is no image data set is ErrNotImages.
func TestOpenDispatches(t *testing.T) {
	if _, err := Open("mog9", "", false); !errors.Is(err, ErrNotImages) {
		t.Errorf("Open(mog9): %v, want ErrNotImages", err)
	}
	dir := t.TempDir()
	for _, spec := range []string{"idx:" + filepath.Join(dir, "none.idx"), "cifar10:" + filepath.Join(dir, "none.bin"),
		"png:" + filepath.Join(dir, "none")} {
		_, err := Open(spec, "", false)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Open(%q): %v, want a missing-file error", spec, err)
		}
	}
	if _, err := Open("fashion-mnist", dir, true); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(fashion-mnist) in an empty folder: %v, want a missing-file error", err)
	}
}
