//go:build !amd64 || purego

package cpu

import "testing"

// TestKernelInfoNoAssembly checks that a build without assembly describes only the
// portable kernel as available, with no vector Adam.
func TestKernelInfoNoAssembly(t *testing.T) {
	for _, info := range Kernels() {
		if info.Available != (info.Kernel == KernelGeneric) || info.Adam {
			t.Errorf("without assembly: %+v", info)
		}
	}
}
