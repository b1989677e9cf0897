package ocm

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"ocm/nn"
	"ocm/nn/safetensors"
	rt "ocm/runtime"
)

// Checkpoint files. A checkpoint folder holds one safetensors file per checkpoint,
// ckpt-<phase>-<step>.safetensors (a phase's colons become dashes), and the file
// LatestName, which holds the name of the newest one. Both are replaced atomically
// (temporary file in the folder, fsync, rename, folder fsync), the checkpoint first,
// so a crash at any moment leaves latest naming a complete checkpoint.
//
// A checkpoint holds the model's tensors under their bundle names, and for every
// optimisation in it (the backbone's, or each head's) the Adam moments
// adam.m.<param> and adam.v.<param>, the EMA shadows ema.<param>, and the metadata
// <prefix>step, <prefix>adam_step, <prefix>ema_updates, <prefix>skipped and
// <prefix>streak. All randomness of a step is keyed by (seed, step), so the step
// is also the data cursor and the position of every random stream.
const (
	CheckpointFormat = "ocm-checkpoint/1"
	LatestName       = "latest"
)

// CheckpointName is the file name of the checkpoint of phase at step.
func CheckpointName(phase string, step int) string {
	return fmt.Sprintf("ckpt-%s-%d.safetensors", strings.ReplaceAll(phase, ":", "-"), step)
}

// WriteCheckpoint writes f as dir/name and then points dir/latest at it, both
// atomically; it returns the checkpoint's path. It refuses tensors with non-finite
// values, so a checkpoint never holds broken weights.
func WriteCheckpoint(dir, name string, f *safetensors.File) (string, error) {
	for _, t := range f.Tensors {
		if !finite32(t.Data) {
			return "", fmt.Errorf("ocm: checkpoint %s: tensor %s has non-finite values; not saved", name, t.Name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("ocm: checkpoint folder: %w", err)
	}
	path := filepath.Join(dir, name)
	if err := safetensors.WriteFile(path, f, safetensors.F32); err != nil {
		return "", fmt.Errorf("ocm: checkpoint: %w", err)
	}
	err := safetensors.WriteFileAtomic(filepath.Join(dir, LatestName), func(w io.Writer) error {
		_, err := io.WriteString(w, name+"\n")
		return err
	})
	if err != nil {
		return "", fmt.Errorf("ocm: checkpoint: %w", err)
	}
	return path, nil
}

// ErrNoCheckpoint is returned by FindCheckpoint and ReadLatest when the folder
// holds no checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ReadLatest is FindCheckpoint without its note.
func ReadLatest(dir string) (path string, f *safetensors.File, err error) {
	path, f, _, err = FindCheckpoint(dir)
	return path, f, err
}

// FindCheckpoint reads the checkpoint to resume from in dir: the one dir/latest
// names, when it reads as a complete checkpoint (checksum, format, finite values).
// When latest is missing or broken (torn, naming a missing, truncated or corrupt
// file), it takes the newest complete checkpoint of the folder instead (newest by
// modification time, then by name) and returns a one-line note saying which it took
// and why; note is "" when latest was good. With no complete checkpoint it returns
// latest's problem, or ErrNoCheckpoint when the folder has no checkpoint at all.
func FindCheckpoint(dir string) (path string, f *safetensors.File, note string, err error) {
	named, latestErr := latestName(dir)
	if latestErr == nil {
		path = filepath.Join(dir, named)
		if f, latestErr = readCheckpoint(path); latestErr == nil {
			return path, f, "", nil
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "ckpt-*.safetensors"))
	sortNewestFirst(paths)
	for _, p := range paths {
		if filepath.Base(p) == named {
			continue
		}
		if f, err := readCheckpoint(p); err == nil {
			return p, f, fmt.Sprintf("ocm: %s; resuming from %s, the newest complete checkpoint", oneLine(latestErr), p), nil
		}
	}
	if errors.Is(latestErr, fs.ErrNotExist) && named == "" && len(paths) == 0 {
		return "", nil, "", fmt.Errorf("ocm: %s: %w (no file %s)", dir, ErrNoCheckpoint, LatestName)
	}
	return "", nil, "", fmt.Errorf("ocm: checkpoint: %w (and no other complete checkpoint in %s)", latestErr, dir)
}

// latestName returns the file name dir/latest holds.
func latestName(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, LatestName))
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, LatestName), err)
	}
	name := strings.TrimSpace(string(b))
	if name == "" || strings.ContainsAny(name, "/\\") || !strings.HasPrefix(name, "ckpt-") || !strings.HasSuffix(name, ".safetensors") {
		return "", fmt.Errorf("%s holds %q, not a checkpoint file name", filepath.Join(dir, LatestName), short(name))
	}
	return name, nil
}

// readCheckpoint reads the checkpoint at path and checks its format and values.
func readCheckpoint(path string) (*safetensors.File, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if f.Metadata["format"] != CheckpointFormat {
		return nil, fmt.Errorf("%s: not a checkpoint (metadata format %q, want %q)", path, f.Metadata["format"], CheckpointFormat)
	}
	if err := CheckTensorsFinite(path, f); err != nil {
		return nil, err
	}
	return f, nil
}

// sortNewestFirst sorts paths by modification time, newest first, then by name
// (descending); files that cannot be stat'ed go last.
func sortNewestFirst(paths []string) {
	mod := map[string]time.Time{}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			mod[p] = fi.ModTime()
		}
	}
	slices.SortFunc(paths, func(a, b string) int { return cmp.Or(mod[b].Compare(mod[a]), strings.Compare(b, a)) })
}

// oneLine is err's message on one line.
func oneLine(err error) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(err.Error())
}

// Optimisation is what a checkpoint holds of one Trainer or HeadFitter: its
// parameters with their names in the file, optimiser, average and counters.
type Optimisation struct {
	Params   []*nn.Param // the parameters the optimiser updates
	Names    []string    // their names in the checkpoint (the bundle's)
	Opt      *nn.Adam
	EMA      *nn.EMA
	Counters *Counters
}

// Optimisation returns the trainer's state, its parameters named by names (nil: the
// parameters' own names).
func (t *Trainer) Optimisation(names []string) Optimisation {
	return newOptimisation(t.Net.Params(), names, t.Opt, t.EMA, &t.Counters)
}

// Optimisation returns the fitter's state, its parameters named by names (nil: the
// parameters' own names).
func (f *HeadFitter) Optimisation(names []string) Optimisation {
	return newOptimisation(f.Head.Params(), names, f.Opt, f.EMA, &f.Counters)
}

func newOptimisation(ps []*nn.Param, names []string, opt *nn.Adam, ema *nn.EMA, c *Counters) Optimisation {
	if names == nil {
		for _, p := range ps {
			names = append(names, p.Name)
		}
	}
	return Optimisation{Params: ps, Names: names, Opt: opt, EMA: ema, Counters: c}
}

// AddTo adds the optimiser moments, the EMA shadows and the counters (metadata keys
// prefix+…) to f. The parameters themselves are the caller's to add.
func (o Optimisation) AddTo(f *safetensors.File, prefix string) {
	add := func(name string, t *rt.Tensor) {
		if t != nil {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name, Shape: t.Shape(), Data: t.Data()})
		}
	}
	for i, p := range o.Params {
		m, v := o.Opt.Moments(p)
		add("adam.m."+o.Names[i], m)
		add("adam.v."+o.Names[i], v)
		add("ema."+o.Names[i], o.EMA.Shadow[p])
	}
	c := o.Counters
	for k, v := range map[string]int{"step": c.Step, "adam_step": o.Opt.Step, "ema_updates": o.EMA.Updates,
		"skipped": c.Skipped, "streak": c.Streak} {
		f.Metadata[prefix+k] = strconv.Itoa(v)
	}
}

// RestoreFrom sets the moments, shadows and counters from checkpoint f (named name
// in errors), checking every name, shape and count. Parameters are the caller's.
func (o Optimisation) RestoreFrom(dev rt.Device, name string, f *safetensors.File, prefix string) error {
	n, err := checkpointInts(name, f.Metadata, prefix)
	if err != nil {
		return err
	}
	for i, p := range o.Params {
		get := func(kind string, need bool) (*rt.Tensor, error) {
			t, ok := f.Get(kind + o.Names[i])
			switch {
			case !ok && need:
				return nil, fmt.Errorf("ocm: %s: tensor %q is missing", name, kind+o.Names[i])
			case !ok:
				return nil, nil
			case !rt.SameShape(t.Shape, p.Value.Shape()):
				return nil, fmt.Errorf("ocm: %s: tensor %q has shape %v, want %v", name, t.Name, t.Shape, p.Value.Shape())
			}
			return rt.FromSlice(dev, t.Data, t.Shape...), nil
		}
		m, err1 := get("adam.m.", n["adam_step"] > 0 && !p.Frozen)
		v, err2 := get("adam.v.", m != nil)
		s, err3 := get("ema.", true)
		if err := cmp.Or(err1, err2, err3); err != nil {
			return err
		}
		if m != nil {
			o.Opt.SetMoments(p, m, v)
		}
		o.EMA.Shadow[p] = s
	}
	o.Opt.Step, o.EMA.Updates = n["adam_step"], n["ema_updates"]
	*o.Counters = Counters{Step: n["step"], Skipped: n["skipped"], Streak: n["streak"]}
	return nil
}

// checkpointInts parses and cross-checks the counters of one optimisation.
func checkpointInts(name string, md map[string]string, prefix string) (map[string]int, error) {
	n := map[string]int{}
	for _, k := range []string{"step", "adam_step", "ema_updates", "skipped", "streak"} {
		v, err := strconv.Atoi(md[prefix+k])
		if err != nil || v < 0 {
			return nil, fmt.Errorf("ocm: %s: metadata %s%s = %q is not a count", name, prefix, k, md[prefix+k])
		}
		n[k] = v
	}
	if n["adam_step"] > n["step"] || n["ema_updates"] > n["step"] || n["streak"] > n["skipped"] ||
		n["skipped"] > n["step"] || n["streak"] >= MaxSkipsInARow {
		return nil, fmt.Errorf("ocm: %s: metadata counters of %q are inconsistent: %v", name, strings.TrimSuffix(prefix, "."), n)
	}
	return n, nil
}

func finite32(x []float32) bool {
	for _, v := range x {
		if v-v != 0 { // NaN or ±Inf
			return false
		}
	}
	return true
}

// PruneCheckpoints removes all but the newest keep of own, the checkpoints this run
// wrote in the order it wrote them, never the one latest names, and returns those it
// kept (in the same order). keep 0 keeps every checkpoint. Files of other runs in dir (a training
// run's checkpoints when fitting, say) and temporary files are never touched: a
// temporary file of an interrupted write is another writer's, or harmless.
func PruneCheckpoints(dir string, keep int, own []string) ([]string, error) {
	if keep <= 0 || len(own) <= keep {
		return own, nil
	}
	latest, _ := latestName(dir)
	old := len(own) - keep
	var kept []string
	var errs []error
	for i, p := range own {
		if i >= old || filepath.Base(p) == latest {
			kept = append(kept, p)
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			kept = append(kept, p)
		}
	}
	if len(errs) > 0 {
		return kept, fmt.Errorf("ocm: pruning checkpoints: %w", errs[0])
	}
	return kept, nil
}
