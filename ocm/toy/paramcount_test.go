package toy

import (
	"ocm/nn"
	"ocm/ocm"
	"ocm/sampler"
	"testing"
)

// TestParamCount: the count Load checks before building a model is the built
// model's, for several shapes (a count too low would let a hostile file through, one
// too high would refuse honest bundles).
func TestParamCount(t *testing.T) {
	s, _ := sampler.NewSchedule(sampler.Linear, 50)
	for _, c := range []struct {
		mix    *ocm.Mixture
		hidden int
		heads  []int
	}{{ocm.Mog9(), 32, []int{32}}, {ocm.Mog40(), 7, []int{5, 3}}, {ocm.Mog9(), 16, nil}} {
		m := NewModel(dev, "x", c.mix, s, c.hidden, c.heads, 1)
		if got, want := paramCount(c.mix.Dim, c.hidden, c.heads), int64(nn.CountParams(m.params())); got != want {
			t.Errorf("dim %d hidden %d heads %v: paramCount %d, the model has %d", c.mix.Dim, c.hidden, c.heads, got, want)
		}
	}
}
