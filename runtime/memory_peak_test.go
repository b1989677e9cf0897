package runtime

import "testing"

// TestPeakRSS checks that, after a reset, the peak resident memory rises by the
// 64 MiB a slice touches.
func TestPeakRSS(t *testing.T) {
	if PeakRSS() == 0 {
		t.Skip("no /proc/self/status")
	}
	if !ResetPeakRSS() {
		t.Skip("cannot write /proc/self/clear_refs")
	}
	before := PeakRSS()
	big := make([]byte, 64<<20)
	for i := range big {
		if i%4096 == 0 {
			big[i] = 1
		}
	}
	after := PeakRSS()
	if after < before+60<<20 {
		t.Errorf("peak RSS %d → %d after touching 64 MiB", before, after)
	}
	_ = big[len(big)-1]
}
