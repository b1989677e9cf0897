package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestBuildFromStamps: two builds from different commits (or one with local changes)
// describe themselves differently.
func TestBuildFromStamps(t *testing.T) {
	a := buildFrom("1.0", []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "CGO_ENABLED", Value: "0"}})
	b := buildFrom("1.0", []debug.BuildSetting{{Key: "vcs.revision", Value: "fedcba9876543210fedc"}, {Key: "vcs.modified", Value: "true"}})
	none := buildFrom("1.0", nil)
	if a.String() != "1.0 (commit 0123456789ab)" || b.String() != "1.0 (commit fedcba987654+modified)" {
		t.Errorf("got %q and %q", a, b)
	}
	if !strings.Contains(none.String(), "no vcs stamp") || a.CGO != "0" {
		t.Errorf("unstamped build %q, cgo %q", none, a.CGO)
	}
}

func TestManifestRecordsInputs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mix.json")
	os.WriteFile(p, []byte("abc"), 0o644)
	m := New([]string{"ocm", "--eval"}, Build{Version: "v"}, "cpu", 7)
	if err := m.AddMixture(p); err != nil {
		t.Fatal(err)
	}
	m.AddInput("mixture", p, "") // recorded once
	if len(m.Inputs) != 1 || m.Inputs[0].SHA256 != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("inputs %+v: want one, with the SHA-256 of abc", m.Inputs)
	}
	if err := m.AddInput("config", filepath.Join(dir, "missing.json"), ""); err == nil {
		t.Error("a missing input file is not an error")
	}
	m.Stamp(map[string]float64{"train": 0.25})
	var back map[string]any
	if err := json.Unmarshal([]byte(m.JSON()), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"command", "ocm", "device", "seed", "inputs", "data_split", "wall_seconds", "final_losses", "started_utc"} {
		if _, ok := back[k]; !ok {
			t.Errorf("manifest JSON lacks %s: %s", k, m.JSON())
		}
	}
}
