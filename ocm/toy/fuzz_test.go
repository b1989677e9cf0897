package toy

import (
	"strings"
	"testing"

	"ocm/nn/safetensors"
)

// FuzzLoadMetadata builds toy models from fuzzed bundle metadata (hidden widths,
// head widths, diffusion steps, schedule, mixture) over the tensors of a tiny
// model: Load must never panic, must refuse with one line, and a model it accepts
// must have exactly the file's tensors (so nothing was allocated beyond what the
// file holds).
func FuzzLoadMetadata(f *testing.F) {
	base := tinyBundle(f)
	md := base.Metadata
	f.Add(md["hidden"], md["head_hidden"], md["diffusion_steps"], md["schedule"], md["mixture"])
	f.Add("65536", "65536,65536", "100000000", "cosine", md["mixture"])
	f.Add("4", "2", "50", "linear", `{"weights":[1],"means":[[0,0]],"covariances":[[[1,0],[0,1]]]}`)
	f.Add("-1", "", "1e9", "", `{"weights":[1],"means":[[]],"covariances":[[[],[]]]}`)
	f.Fuzz(func(t *testing.T, hidden, headHidden, steps, schedule, mixture string) {
		meta := map[string]string{}
		for k, v := range md {
			meta[k] = v
		}
		meta["hidden"], meta["head_hidden"], meta["diffusion_steps"] = hidden, headHidden, steps
		meta["schedule"], meta["mixture"] = schedule, mixture
		file := &safetensors.File{Tensors: base.Tensors, Metadata: meta}
		m, err := Load(dev, "fuzz", file)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		if n := len(m.params()); n > len(file.Tensors) {
			t.Fatalf("accepted a model of %d tensors from a file of %d", n, len(file.Tensors))
		}
	})
}
