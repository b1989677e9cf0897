package images

import (
	"errors"
	"strings"
	"testing"

	"ocm/ocm"
)

// TestResumeRefusesOtherData: a checkpoint records the content hash of the images it
// trained on, so resuming it on other images of the same shape and name (one pixel
// changed) is refused with a *ocm.ResumeError naming data_sha256, and resuming it
// with another train_steps names train_steps; the old check compared only the data
// set's name, and such resumes finished with exit 0 and weights matching no run.
func TestResumeRefusesOtherData(t *testing.T) {
	st := tinySettings()
	ds := tinyImages(16)
	dir := t.TempDir()
	var stopped *ocm.Stopped
	err := Train(dev, tinyModel(t, 1), NewData(ds, st.Seed), st, nil, &ocm.Control{Dir: dir, Every: 5, Stop: stopAfter(6)})
	if !errors.As(err, &stopped) {
		t.Fatalf("want a stop, got %v", err)
	}
	other := tinyImages(16)
	other.Pixels[100]++
	var re *ocm.ResumeError
	err = Train(dev, tinyModel(t, 2), NewData(other, st.Seed), st, nil, resumeLatest(t, dir))
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "data_sha256") {
		t.Errorf("other images: %v", err)
	}
	longer := st
	longer.TrainSteps++
	err = Train(dev, tinyModel(t, 2), NewData(ds, st.Seed), longer, nil, resumeLatest(t, dir))
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "train_steps") {
		t.Errorf("another train_steps: %v", err)
	}
	if err := Train(dev, tinyModel(t, 2), NewData(ds, st.Seed), st, nil, resumeLatest(t, dir)); err != nil {
		t.Errorf("the same run: %v", err)
	}
}
