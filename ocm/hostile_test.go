package ocm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ocm/ocm/hostiletest"
)

// TestHostileMixtureJSON: mixture files whose nesting asks for far more than their
// text holds are refused in a child process, in under 5 s and 200 MB, with one line
// naming the field: 100,000 empty covariance rows in a 300 KB file (the old parser
// allocated 80 GB for the square matrix they implied), 10 million of them (it
// panicked in makeslice), and 100,000 empty means.
func TestHostileMixtureJSON(t *testing.T) {
	rows := func(n int) string { return strings.TrimSuffix(strings.Repeat("[],", n), ",") }
	setup := func(dir string) {
		files := map[string]string{
			"rows-100k.json":  `{"weights":[1],"means":[[0,0]],"covariances":[[` + rows(100_000) + `]]}`,
			"rows-10M.json":   `{"weights":[1],"means":[[0,0]],"covariances":[[` + rows(10_000_000) + `]]}`,
			"means-100k.json": `{"weights":[1],"means":[` + rows(100_000) + `],"covariances":[[[1]]]}`,
		}
		for name, text := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func(name string) func(dir string) error {
		return func(dir string) error {
			_, err := LoadMixtureJSON(filepath.Join(dir, name))
			return err
		}
	}
	hostiletest.Run(t, setup, []hostiletest.Case{
		{Name: "cov-rows-100k", Want: "covariances: more than 1024 rows", Run: load("rows-100k.json")},
		{Name: "cov-rows-10M", Want: "covariances: more than 1024 rows", Run: load("rows-10M.json")},
		{Name: "means-100k", Want: "means: more than 10000 components", Run: load("means-100k.json")},
	})
}
