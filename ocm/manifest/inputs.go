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

// AddImageData records the image data files of the splits a run reads (the training
// split for --train/--fit, both for --eval, whose NLL uses the first testImages test
// images) and says which split each use read.
func (m *Manifest) AddImageData(spec, fashionDir string, trainOrFit, eval bool, testImages int) error {
	var splits []bool
	switch {
	case eval:
		splits = []bool{false, true}
		m.DataSplit = fmt.Sprintf("%s: training split (--train/--fit, and the reference statistics of --eval), test split (the NLL of its first %d images)", spec, testImages)
	case trainOrFit:
		splits = []bool{false}
		m.DataSplit = spec + ": training split"
	}
	for _, test := range splits {
		files, err := data.Files(spec, fashionDir, test)
		if err != nil {
			return fmt.Errorf("--data %s: %w", spec, err)
		}
		role := map[bool]string{false: "data (training split)", true: "data (test split)"}[test]
		for _, f := range files {
			if err := m.AddInput(role, f, ""); err != nil {
				return err
			}
		}
	}
	return nil
}
