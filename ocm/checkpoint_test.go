package ocm

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ocm/nn"
	"ocm/nn/safetensors"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// nanData is MixtureData whose batches listed in bad (or all, with always) are NaN.
type nanData struct {
	MixtureData
	bad    map[int]bool
	always bool
}

func (d nanData) Batch(dev rt.Device, i, n int) *rt.Tensor {
	b := d.MixtureData.Batch(dev, i, n)
	if !d.always && !d.bad[i] {
		return b
	}
	v := b.Data()
	v[0] = float32(math.NaN())
	return rt.FromSlice(dev, v, b.Shape()...)
}

func tinyTrainer(t *testing.T, data DataSource) *Trainer {
	t.Helper()
	s, err := sampler.NewSchedule(sampler.Linear, 100)
	if err != nil {
		t.Fatal(err)
	}
	net := nn.NewToyMLP(testDev, 2, 16, philox.Key{Seed: 3})
	cfg := TrainConfig{Steps: 20, Batch: 8, LR: 1e-3, EMADecay: 0.99, Seed: 5}
	return NewTrainer(testDev, net, s, data, cfg)
}

func snapshot(ps []*nn.Param) [][]float32 {
	var out [][]float32
	for _, p := range ps {
		out = append(out, p.Value.Data())
	}
	return out
}

// TestNonFiniteStepsAreSkipped feeds NaN data at steps 3 and 7: both steps are counted
// and skipped (no Adam or EMA update) and training goes on; with NaN data throughout
// the trainer stops with an error at the tenth step in a row, weights untouched.
func TestNonFiniteStepsAreSkipped(t *testing.T) {
	mix := MixtureData{Mix: Mog9(), Seed: 1}
	tr := tinyTrainer(t, nanData{MixtureData: mix, bad: map[int]bool{3: true, 7: true}})
	for tr.Step < 12 {
		if _, err := tr.TrainStep(); err != nil {
			t.Fatal(err)
		}
	}
	if tr.Skipped != 2 || tr.Streak != 0 || tr.Opt.Step != 10 || tr.EMA.Updates != 10 {
		t.Errorf("skipped %d (streak %d), Adam step %d, EMA updates %d; want 2, 0, 10, 10", tr.Skipped, tr.Streak, tr.Opt.Step, tr.EMA.Updates)
	}
	if !nn.FiniteParams(tr.Net.Params()) {
		t.Error("weights not finite")
	}

	tr = tinyTrainer(t, nanData{MixtureData: mix, always: true})
	before := snapshot(tr.Net.Params())
	var err error
	for err == nil && tr.Step < 20 {
		_, err = tr.TrainStep()
	}
	if err == nil || tr.Step != MaxSkipsInARow || tr.Skipped != MaxSkipsInARow || !strings.Contains(err.Error(), "non-finite") {
		t.Fatalf("after %d steps (%d skipped): %v", tr.Step, tr.Skipped, err)
	}
	after := snapshot(tr.Net.Params())
	for i := range before {
		for j := range before[i] {
			if before[i][j] != after[i][j] {
				t.Fatal("a skipped step changed the weights")
			}
		}
	}
}

// TestFinite: NaN and ±Inf anywhere are caught; huge finite values (whose Σ|x| would
// overflow float32) are not.
func TestFinite(t *testing.T) {
	huge := []float32{3e38, 3e38, -3e38, 1}
	if !nn.Finite(rt.FromSlice(testDev, huge, 4), nil) {
		t.Error("huge finite values reported non-finite")
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		v := []float32{1, 2, bad, 4}
		if nn.Finite(rt.FromSlice(testDev, []float32{0}, 1), rt.FromSlice(testDev, v, 2, 2)) {
			t.Errorf("%v not caught", bad)
		}
	}
}

// TestCheckpointRoundTrip writes a trainer's state after a few steps and restores it
// into a fresh trainer; broken files fail with one-line errors, and non-finite
// tensors are never written.
func TestCheckpointRoundTrip(t *testing.T) {
	mix := MixtureData{Mix: Mog9(), Seed: 1}
	tr := tinyTrainer(t, mix)
	for range 4 {
		if _, err := tr.TrainStep(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	f := &safetensors.File{Metadata: map[string]string{"format": CheckpointFormat}}
	tr.Optimisation(nil).AddTo(f, "state.train.")
	if _, err := WriteCheckpoint(dir, CheckpointName("fit:learned:ocm", 4), f); err != nil {
		t.Fatal(err)
	}
	path, g, err := ReadLatest(dir)
	if err != nil || filepath.Base(path) != "ckpt-fit-learned-ocm-4.safetensors" {
		t.Fatalf("%s: %v", path, err)
	}
	fresh := tinyTrainer(t, mix)
	if err := fresh.Optimisation(nil).RestoreFrom(testDev, path, g, "state.train."); err != nil {
		t.Fatal(err)
	}
	if fresh.Step != 4 || fresh.Opt.Step != 4 || fresh.EMA.Updates != 4 {
		t.Errorf("restored step %d, Adam step %d, EMA updates %d", fresh.Step, fresh.Opt.Step, fresh.EMA.Updates)
	}
	for _, c := range []struct {
		name string
		edit func(f *safetensors.File)
		want string
	}{
		{"missing moment", func(f *safetensors.File) { f.Tensors = f.Tensors[1:] }, "missing"},
		{"bad count", func(f *safetensors.File) { f.Metadata["state.train.step"] = "x" }, "not a count"},
		{"inconsistent", func(f *safetensors.File) { f.Metadata["state.train.adam_step"] = "99" }, "inconsistent"},
		{"shape", func(f *safetensors.File) { f.Tensors[0].Shape = []int{1, len(f.Tensors[0].Data)} }, "shape"},
	} {
		h := &safetensors.File{Metadata: map[string]string{}, Tensors: append([]safetensors.Tensor(nil), g.Tensors...)}
		for k, v := range g.Metadata {
			h.Metadata[k] = v
		}
		c.edit(h)
		err := tinyTrainer(t, mix).Optimisation(nil).RestoreFrom(testDev, path, h, "state.train.")
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want one line with %q", c.name, err, c.want)
		}
	}
	f.Tensors[0].Data[0] = float32(math.Inf(1))
	if _, err := WriteCheckpoint(dir, "ckpt-train-5.safetensors", f); err == nil {
		t.Error("wrote a non-finite tensor")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, LatestName)); strings.TrimSpace(string(b)) != filepath.Base(path) {
		t.Errorf("latest changed to %q", b)
	}
	if _, _, err := ReadLatest(t.TempDir()); err == nil {
		t.Error("no error for a folder without checkpoints")
	}
}

// TestPruneCheckpoints keeps the newest two checkpoints, the one latest names among
// them, and removes left-over temporary files.
func TestPruneCheckpoints(t *testing.T) {
	dir := t.TempDir()
	f := &safetensors.File{Metadata: map[string]string{"format": CheckpointFormat},
		Tensors: []safetensors.Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}}
	for step := range 5 {
		if _, err := WriteCheckpoint(dir, CheckpointName("train", step), f); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, ".ckpt-train-9.safetensors.tmp-123"), []byte("torn"), 0o644)
	if err := PruneCheckpoints(dir, 2); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "ckpt-train-3.safetensors ckpt-train-4.safetensors latest" {
		t.Errorf("left %v", names)
	}
}
