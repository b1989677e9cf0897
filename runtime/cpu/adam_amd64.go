//go:build !purego

package cpu

import xcpu "golang.org/x/sys/cpu"

// adamAVX512 is the AVX-512F Adam loop (nil where unavailable); it performs
// exactly the float32 operations of adamLoop, in the same order (no FMA), so
// results are bitwise identical.
var adamAVX512 = func() func(p, g, m, v []float32, c *adamConsts) {
	if !xcpu.X86.HasAVX512F {
		return nil
	}
	return func(p, g, m, v []float32, c *adamConsts) {
		if len(p) == 0 {
			return
		}
		_, _, _ = g[len(p)-1], m[len(p)-1], v[len(p)-1]
		adamKernelAVX512(&p[0], &g[0], &m[0], &v[0], len(p), c)
	}
}()

// adamKernelAVX512 runs adamLoop over n elements.
//
//go:noescape
func adamKernelAVX512(p, gr, m, v *float32, n int, c *adamConsts)
