package ocm

import (
	"errors"
	"strings"
	"testing"
)

// TestAdamOverflowIsSkipped: with a mixture whose mean is at 1e15 the loss and the
// gradients are finite but the gradients' squares overflow float32, so Adam's second
// moment would become +Inf. Every such step is skipped and counted, Adam's state is
// never touched, and the tenth in a row stops the run with a message naming the
// parameter and the second moment. The old check let these steps through: nothing
// was counted, adam.v turned +Inf and every later checkpoint was refused.
func TestAdamOverflowIsSkipped(t *testing.T) {
	mix, err := NewMixture([]float64{1}, [][]float64{{1e15, 1e15}}, [][]float64{{1, 0, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tinyTrainer(t, MixtureData{Mix: mix, Seed: 1})
	for err == nil && tr.Step < 20 {
		_, err = tr.TrainStep()
	}
	var sl *SkipLimitError
	if !errors.As(err, &sl) || tr.Skipped != MaxSkipsInARow || tr.Opt.Step != 0 {
		t.Fatalf("after %d steps: %d skipped, Adam step %d, error %v", tr.Step, tr.Skipped, tr.Opt.Step, err)
	}
	if !strings.Contains(err.Error(), "second moment") || !strings.Contains(err.Error(), "net.") || !strings.Contains(tr.LastSkip, "overflows float32") {
		t.Errorf("the error does not name what overflowed: %v (last skip %q)", err, tr.LastSkip)
	}
	for _, p := range tr.Net.Params() {
		if m, v := tr.Opt.Moments(p); m != nil || v != nil {
			t.Fatalf("Adam's moments of %s were written", p.Name)
		}
	}
}
