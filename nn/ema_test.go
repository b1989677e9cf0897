package nn

import (
	"math"
	"testing"

	rt "ocm/runtime"
)

// TestEMAWarmup: with warm-up the first update moves the average 9/10 of the way
// (d = 1/10); NoWarmup moves it by 1 − Decay, the reference code's average from a copy.
func TestEMAWarmup(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	for _, c := range []struct {
		noWarmup bool
		want     float64
	}{{false, 0.9}, {true, 0.1}} {
		p := &Param{Name: "w", Value: rt.FromSlice(dev, []float32{0}, 1)}
		e := NewEMA(0.9, []*Param{p})
		e.NoWarmup = c.noWarmup
		p.Value = rt.FromSlice(dev, []float32{1}, 1)
		e.Update([]*Param{p})
		if got := float64(e.Shadow[p].Data()[0]); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("NoWarmup %v: average %g after one update from 0 to 1, want %g", c.noWarmup, got, c.want)
		}
	}
}
