package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildsWriteTheirVersion builds ocm twice with different versions stamped at link
// time and checks that each writes its own into the manifest of samples.json (the
// commit comes the same way from the vcs stamp: manifest's TestBuildFromStamps).
func TestBuildsWriteTheirVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	dir := t.TempDir()
	got := map[string]string{}
	for _, v := range []string{"9.9.1-test", "9.9.2-test"} {
		bin := filepath.Join(dir, "ocm-"+v)
		build := exec.Command("go", "build", "-o", bin, "-ldflags", "-X main.version="+v, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out := filepath.Join(dir, "out-"+v)
		if b, err := exec.Command(bin, "--sample", "--model", "mog9", "--num-samples", "10", "--out", out, "--quiet").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, b)
		}
		raw, err := os.ReadFile(filepath.Join(out, "samples.json"))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Manifest struct {
				Build struct {
					Version string `json:"version"`
				} `json:"ocm"`
				Command []string `json:"command"`
			} `json:"manifest"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		got[v] = rec.Manifest.Build.Version
		if len(rec.Manifest.Command) != 9 {
			t.Errorf("command %q: want ocm and its 8 arguments", rec.Manifest.Command)
		}
	}
	for v, w := range got {
		if v != w {
			t.Errorf("the build stamped %s wrote version %q", v, w)
		}
	}
}
