//go:build !purego

package cpu

import (
	"testing"

	xcpu "golang.org/x/sys/cpu"
)

// TestKernelInfoFeatures checks that each kernel is available exactly when this CPU has
// the instructions its Features names, and that Adam's kernel is reported with AVX-512F.
func TestKernelInfoFeatures(t *testing.T) {
	has := map[string]bool{
		"AVX2+FMA": xcpu.X86.HasAVX2 && xcpu.X86.HasFMA,
		"AVX-512F": xcpu.X86.HasAVX512F,
		"":         true,
	}
	for _, info := range Kernels() {
		want, ok := has[info.Features]
		if !ok {
			t.Errorf("%v: unknown features %q", info.Kernel, info.Features)
			continue
		}
		if info.Available != want {
			t.Errorf("%v needs %q: available %v, CPU has it %v", info.Kernel, info.Features, info.Available, want)
		}
	}
	if got := KernelAVX512.Info().Adam; got != xcpu.X86.HasAVX512F {
		t.Errorf("AVX-512 Adam reported %v, CPU has AVX-512F %v", got, xcpu.X86.HasAVX512F)
	}
}
