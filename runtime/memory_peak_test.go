//go:build linux

package runtime

import (
	"syscall"
	"testing"
)

// TestPeakRSS checks that, after a reset, the peak resident memory rises by the
// 64 MiB a fresh mapping touches. The mapping comes from the kernel, not from the Go
// heap, whose freed pages may still be resident and would not raise the peak.
func TestPeakRSS(t *testing.T) {
	if PeakRSS() == 0 {
		t.Skip("no /proc/self/status")
	}
	if !ResetPeakRSS() {
		t.Skip("cannot write /proc/self/clear_refs")
	}
	big, err := syscall.Mmap(-1, 0, 64<<20, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(big)
	before := PeakRSS()
	for i := 0; i < len(big); i += 4096 {
		big[i] = 1
	}
	after := PeakRSS()
	if after < before+60<<20 {
		t.Errorf("peak RSS %d → %d after touching 64 MiB", before, after)
	}
}
