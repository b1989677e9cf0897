package torchfile

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestPyTorchFiles reads the checkpoints testdata/gen_torchfile.py made with
// PyTorch's torch.save and compares every tensor with the values PyTorch listed.
func TestPyTorchFiles(t *testing.T) {
	raw, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, prefix, format string }{
		{"testdata/state_zip.pt", "", "zip"},
		{"testdata/state_legacy.pt", "", "legacy"},
		{"testdata/nested_zip.pt", "model.", "zip"},
	} {
		f, err := ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if f.Format != c.format || len(f.Tensors) != len(want) {
			t.Fatalf("%s: format %s, %d tensors, want %s and %d", c.path, f.Format, len(f.Tensors), c.format, len(want))
		}
		for name, w := range want {
			got, ok := f.Get(c.prefix + name)
			if !ok {
				t.Fatalf("%s: no tensor %q", c.path, c.prefix+name)
			}
			if !slices.Equal(got.Shape, w.Shape) || len(got.Data) != len(w.Values) {
				t.Fatalf("%s: %s shape %v (%d values), want %v", c.path, name, got.Shape, len(got.Data), w.Shape)
			}
			for i, v := range w.Values {
				if float64(got.Data[i]) != float64(float32(v)) {
					t.Fatalf("%s: %s[%d] = %v, want %v", c.path, name, i, got.Data[i], float32(v))
				}
			}
		}
		if c.prefix != "" && !slices.Equal(f.Skipped, []string{"epoch", "name"}) {
			t.Errorf("%s: skipped %v", c.path, f.Skipped)
		}
	}
}

// TestPyTorchRefusals reads what PyTorch's own pickler writes for objects that are
// not state dicts: each is refused, naming the global.
func TestPyTorchRefusals(t *testing.T) {
	for path, want := range map[string]string{
		"testdata/evil_system.pt":  "pickle names posix.system, which a state dict never needs",
		"testdata/evil_eval.pt":    "pickle names __builtin__.eval, which a state dict never needs", // protocol 2 writes Python 2 names
		"testdata/whole_module.pt": "pickle names torch.nn.modules.linear.Linear, which a state dict never needs",
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Read(path, data)
		if err == nil || !strings.HasPrefix(err.Error(), "checkpoint "+path+": ") || !strings.HasSuffix(err.Error(), ": "+want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
		t.Log(err)
	}
}
