package runguard

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Outputs is where a run writes its bundle: the flags that decide it.
type Outputs struct {
	Out       string // the output folder
	Weights   string // the bundle read (with Train: the bundle to write)
	Save      string // the bundle to write, when given
	Model     string // the embedded model read when Weights is empty
	Train     bool   // the run trains (else it only fits)
	Overwrite bool   // an existing bundle may be replaced
}

// BundlePath is the bundle a run writes: Save; when training, Weights or def in Out;
// when only fitting, Weights itself with Overwrite, else NAME-fit.safetensors in Out
// for a bundle NAME, so the input is never changed unasked.
func (o Outputs) BundlePath(def string) string {
	switch {
	case o.Save != "":
		return o.Save
	case o.Train && o.Weights != "":
		return o.Weights
	case o.Train:
		return filepath.Join(o.Out, def)
	case o.Overwrite && o.Weights != "":
		return o.Weights
	}
	name := o.Model
	if o.Weights != "" {
		name = filepath.Base(o.Weights)
	}
	return filepath.Join(o.Out, stem(name)+"-fit.safetensors")
}

// stem is a bundle's file name without .safetensors[.zst].
func stem(name string) string {
	return strings.TrimSuffix(strings.TrimSuffix(name, ".zst"), ".safetensors")
}

// CheckBundlePath refuses, before any work, a bundle path that would replace a file
// without Overwrite, or that is a folder.
func (o Outputs) CheckBundlePath(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%s is a folder; the bundle needs a file name (--save FILE)", path)
	case !o.Overwrite && o.Train && o.Weights == path:
		return fmt.Errorf("--train would replace %s: give --overwrite to train anew over it, --init-from %s to continue from its weights, or --save FILE", path, path)
	case !o.Overwrite:
		return fmt.Errorf("%s exists: give --overwrite to replace it, or --save FILE to write elsewhere", path)
	}
	return nil
}

// CheckpointDir is a checkpoint folder of the run's own in Out, named by the bundle
// it writes (def by default), so that runs writing other bundles never share one.
func (o Outputs) CheckpointDir(def string) string {
	return filepath.Join(o.Out, "checkpoints", stem(filepath.Base(o.BundlePath(def))))
}
