package manifest

import (
	"fmt"
	"os"

	"ocm/ocm/data"
)

// AddMixture records the data of a toy run: a mixture JSON file (with its SHA-256),
// or a built-in mixture by name.
func (m *Manifest) AddMixture(spec string) error {
	if _, err := os.Stat(spec); err != nil {
		m.DataSplit = "built-in mixture " + spec + ": fresh draws from the seed"
		return nil
	}
	m.DataSplit = "mixture " + spec + ": fresh draws from the seed"
	return m.AddInput("mixture", spec, "")
}

// AddImageData records the image data files a run reads and says which part each
// use read: the training split for --train/--fit; for --eval also its evaluation
// images (--eval-data, the data set's test split or the held-out part of the training
// files, as data.OpenSplit chooses them), whose first testImages give the NLL.
func (m *Manifest) AddImageData(spec, evalSpec, fashionDir string, trainOrFit, eval bool, testImages int) error {
	if !trainOrFit && !eval {
		return nil
	}
	m.DataSplit = spec + ": training split"
	if err := m.addFiles("data (training split)", spec, fashionDir, false); err != nil {
		return err
	}
	if !eval {
		return nil
	}
	kind, files, err := data.EvalFiles(spec, evalSpec, fashionDir)
	if err != nil {
		return fmt.Errorf("--data %s: %w", spec, err)
	}
	what := map[string]string{"eval-data": "--eval-data " + evalSpec, "test": "its test split",
		"held-out": fmt.Sprintf("the held-out last 1/%d of its files", data.HeldOutDenominator)}[kind]
	m.DataSplit = fmt.Sprintf("%s: training split (--train/--fit, and the reference statistics of --eval); "+
		"evaluation images: %s (the NLL of the first %d)", spec, what, testImages)
	for _, f := range files {
		if err := m.AddInput("data (evaluation: "+kind+")", f, ""); err != nil {
			return err
		}
	}
	return nil
}

// addFiles records the files of spec's training (or test) split under role.
func (m *Manifest) addFiles(role, spec, fashionDir string, test bool) error {
	files, err := data.Files(spec, fashionDir, test)
	if err != nil {
		return fmt.Errorf("--data %s: %w", spec, err)
	}
	for _, f := range files {
		if err := m.AddInput(role, f, ""); err != nil {
			return err
		}
	}
	return nil
}
