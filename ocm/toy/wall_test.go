package toy

import (
	"errors"
	"strconv"
	"testing"

	"ocm/ocm"
)

// TestWallTimeCountsEveryProcess: a checkpoint records the phase's wall time, and a
// run resumed from it reports that time plus its own, not only its own.
func TestWallTimeCountsEveryProcess(t *testing.T) {
	dir := t.TempDir()
	st := tinySettings()
	ctl := &ocm.Control{Dir: dir, Every: 1000, Stop: stopAfter(20)}
	var stopped *ocm.Stopped
	if err := TrainWith(dev, tinyModel(t, 1), st, nil, ctl); !errors.As(err, &stopped) {
		t.Fatalf("first process: %v, want a stop", err)
	}
	ctl = resumeLatest(t, dir, 1000)
	first, err := strconv.ParseFloat(ctl.Resume.Metadata["wall_seconds"], 64)
	if err != nil || first <= 0 {
		t.Fatalf("checkpoint wall_seconds %q", ctl.Resume.Metadata["wall_seconds"])
	}
	const earlier = 1000.0 // as if the first process had run for a long time
	ctl.PriorSeconds = first + earlier
	m := tinyModel(t, 1)
	if err := TrainWith(dev, m, st, nil, ctl); err != nil {
		t.Fatal(err)
	}
	total, _ := strconv.ParseFloat(m.Meta["backbone_seconds"], 64)
	if total < earlier+first-0.05 { // recorded to 0.1 s
		t.Errorf("backbone_seconds %v after a resume, want at least the earlier processes' %v", total, first+earlier)
	}
}
