package cpu

import (
	"math"
	"strings"
	"testing"
)

// TestKernelInfoTile runs the micro-kernel of each available GEMM kernel once on packed
// panels and checks that it writes exactly the MR×NR block its KernelInfo states, with
// the products of a float64 reference, and leaves a guard row and column untouched.
func TestKernelInfoTile(t *testing.T) {
	for _, info := range Kernels() {
		if !info.Available {
			continue
		}
		mr, nr, kc := info.MR, info.NR, 7
		if mr <= 0 || nr <= 0 || info.KC <= 0 || info.MC%mr != 0 || info.NC%nr != 0 {
			t.Errorf("%v: blocking MR %d NR %d KC %d MC %d NC %d (MC must be a multiple of MR, NC of NR)",
				info.Kernel, mr, nr, info.KC, info.MC, info.NC)
			continue
		}
		a, b := make([]float32, mr*kc), make([]float32, nr*kc)
		for i := range a {
			a[i] = float32(i%5) - 2
		}
		for i := range b {
			b[i] = float32(i%7)/4 - 0.75
		}
		ldc := nr + 1
		const guard = 12345
		c := make([]float32, (mr+1)*ldc)
		for i := range c {
			c[i] = guard
		}
		sgemmKernels[info.Kernel].micro(kc, a, b, c, ldc, 1, 0)
		for i := range mr + 1 {
			for j := range ldc {
				got := c[i*ldc+j]
				if i == mr || j == nr {
					if got != guard {
						t.Errorf("%v (tile %s): wrote C[%d][%d] = %g outside the tile", info.Kernel, info.Tile(), i, j, got)
					}
					continue
				}
				want := 0.0
				for p := range kc {
					want += float64(a[p*mr+i]) * float64(b[p*nr+j])
				}
				if math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
					t.Errorf("%v (tile %s): C[%d][%d] = %g, want %g", info.Kernel, info.Tile(), i, j, got, want)
				}
			}
		}
	}
}

// TestKernelInfoTable checks the description against the kernel table and BestKernel:
// the same blocking as the kernel the GEMM dispatches to, zeros for unavailable kernels,
// and the first available kernel of Kernels is the best one.
func TestKernelInfoTable(t *testing.T) {
	best := Kernel(-1)
	for _, info := range Kernels() {
		if info.Available != info.Kernel.Available() {
			t.Errorf("%v: Available %v, Kernel.Available() %v", info.Kernel, info.Available, info.Kernel.Available())
		}
		if !info.Available {
			if info.MR|info.NR|info.KC|info.MC|info.NC != 0 || info.Tile() != "" || info.VecMath || info.Adam {
				t.Errorf("%v is not available but described: %+v", info.Kernel, info)
			}
			if !strings.HasSuffix(info.String(), "not available)") {
				t.Errorf("%v: String %q", info.Kernel, info.String())
			}
			continue
		}
		if best < 0 {
			best = info.Kernel
		}
		s := sgemmKernels[info.Kernel]
		if info.MR != s.mr || info.NR != s.nr || info.KC != s.kc || info.MC != s.mc || info.NC != s.nc {
			t.Errorf("%v: %+v, kernel table %+v", info.Kernel, info, *s)
		}
		if !info.VecMath {
			t.Errorf("%v: no vector math kernels", info.Kernel)
		}
		wantStr := info.Kernel.String() + " (" + info.Features + ", " + info.Tile() + " tiles)"
		if info.Features == "" {
			wantStr = info.Kernel.String() + " (portable Go, " + info.Tile() + " tiles)"
		}
		if info.String() != wantStr {
			t.Errorf("String %q, want %q", info.String(), wantStr)
		}
	}
	if best != BestKernel() {
		t.Errorf("first available kernel %v, BestKernel %v", best, BestKernel())
	}
	g := KernelGeneric.Info()
	if !g.Available || g.Features != "" || g.Adam {
		t.Errorf("generic kernel: %+v", g)
	}
	if u := Kernel(9).Info(); u.Available || u.Tile() != "" {
		t.Errorf("Kernel(9): %+v", u)
	}
}
