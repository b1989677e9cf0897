package data

import (
	"os"
	"path/filepath"
	"testing"

	"ocm/ocm/hostiletest"
)

// TestHostileDataFiles: /dev/zero named as data is refused in a child process in
// under 5 s and 200 MB with one line: as IDX images, as a CIFAR-10 batch, and behind
// a PNG name in a folder (which is not read at all: only regular files are listed,
// and readPNG refuses anything else). A regression guard: the old code held here.
func TestHostileDataFiles(t *testing.T) {
	setup := func(dir string) {
		png := filepath.Join(dir, "png")
		if err := os.Mkdir(png, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/dev/zero", filepath.Join(png, "a.png")); err != nil {
			t.Fatal(err)
		}
	}
	hostiletest.Run(t, setup, []hostiletest.Case{
		{Name: "png-dev-zero", Want: "no *.png files", Run: func(dir string) error {
			_, err := ReadPNGDir(filepath.Join(dir, "png"))
			return err
		}},
		{Name: "idx-dev-zero", Want: "/dev/zero", Run: func(string) error {
			_, err := ReadIDX("/dev/zero", "")
			return err
		}},
		{Name: "cifar-dev-zero", Want: "/dev/zero", Run: func(string) error {
			_, err := ReadCIFAR10("/dev/zero")
			return err
		}},
	})
}
