//go:build !purego

package cpu

import xcpu "golang.org/x/sys/cpu"

// vecImpls maps each Kernel to its elementwise-math implementation; nil
// means not available on this CPU (x/sys/cpu also checks that the OS saves
// the YMM/ZMM state). The AVX-512 kernels use AVX-512F only.
var vecImpls = [...]*vecKernels{
	KernelGeneric: vecGeneric,
	KernelAVX2:    vecIf(xcpu.X86.HasAVX2 && xcpu.X86.HasFMA, vecAVX2),
	KernelAVX512:  vecIf(xcpu.X86.HasAVX512F, vecAVX512),
}

func vecIf(ok bool, v *vecKernels) *vecKernels {
	if ok {
		return v
	}
	return nil
}

var vecAVX2 = &vecKernels{
	exp: func(dst, src []float32) {
		if len(dst) > 0 {
			_ = src[len(dst)-1]
			vecExpAVX2(&dst[0], &src[0], len(dst))
		}
	},
	sigmoid: func(dst, src []float32) {
		if len(dst) > 0 {
			_ = src[len(dst)-1]
			vecSigmoidAVX2(&dst[0], &src[0], len(dst))
		}
	},
	silu: func(dst, src []float32) {
		if len(dst) > 0 {
			_ = src[len(dst)-1]
			vecSiLUAVX2(&dst[0], &src[0], len(dst))
		}
	},
	siluGrad: func(dst, x, g []float32) {
		if len(dst) > 0 {
			_, _ = x[len(dst)-1], g[len(dst)-1]
			vecSiLUGradAVX2(&dst[0], &x[0], &g[0], len(dst))
		}
	},
	addBiasSiLU: func(dst, src, bias []float32) {
		if len(dst) > 0 {
			_, _ = src[len(dst)-1], bias[len(dst)-1]
			vecAddBiasSiLUAVX2(&dst[0], &src[0], &bias[0], len(dst))
		}
	},
}

var vecAVX512 = &vecKernels{
	exp: func(dst, src []float32) {
		if len(dst) > 0 {
			_ = src[len(dst)-1]
			vecExpAVX512(&dst[0], &src[0], len(dst))
		}
	},
	sigmoid: func(dst, src []float32) {
		if len(dst) > 0 {
			_ = src[len(dst)-1]
			vecSigmoidAVX512(&dst[0], &src[0], len(dst))
		}
	},
	silu: func(dst, src []float32) {
		if len(dst) > 0 {
			_ = src[len(dst)-1]
			vecSiLUAVX512(&dst[0], &src[0], len(dst))
		}
	},
	siluGrad: func(dst, x, g []float32) {
		if len(dst) > 0 {
			_, _ = x[len(dst)-1], g[len(dst)-1]
			vecSiLUGradAVX512(&dst[0], &x[0], &g[0], len(dst))
		}
	},
	addBiasSiLU: func(dst, src, bias []float32) {
		if len(dst) > 0 {
			_, _ = src[len(dst)-1], bias[len(dst)-1]
			vecAddBiasSiLUAVX512(&dst[0], &src[0], &bias[0], len(dst))
		}
	},
}

// The assembly kernels below compute, for i in [0, n) with n >= 1, exactly
// what expGo, sigmoidGo, siluGo, siluGradGo and addBiasSiLUGo compute (with
// single-rounding FMAs). dst may equal any input pointer; the slices must
// otherwise not overlap. Tails are done with masked loads and stores, so no
// memory outside the n elements is read or written.

//go:noescape
func vecExpAVX2(dst, src *float32, n int)

//go:noescape
func vecSigmoidAVX2(dst, src *float32, n int)

//go:noescape
func vecSiLUAVX2(dst, src *float32, n int)

//go:noescape
func vecSiLUGradAVX2(dst, x, dy *float32, n int)

//go:noescape
func vecAddBiasSiLUAVX2(dst, src, bias *float32, n int)

//go:noescape
func vecExpAVX512(dst, src *float32, n int)

//go:noescape
func vecSigmoidAVX512(dst, src *float32, n int)

//go:noescape
func vecSiLUAVX512(dst, src *float32, n int)

//go:noescape
func vecSiLUGradAVX512(dst, x, dy *float32, n int)

//go:noescape
func vecAddBiasSiLUAVX512(dst, src, bias *float32, n int)
