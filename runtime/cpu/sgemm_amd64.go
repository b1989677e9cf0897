//go:build !purego

package cpu

import xcpu "golang.org/x/sys/cpu"

// sgemmKernels maps each Kernel to its implementation; nil means not
// available on this CPU (x/sys/cpu also checks that the OS saves the
// YMM/ZMM state).
var sgemmKernels = [...]*sgemmKernel{
	KernelGeneric: sgemmGeneric,
	KernelAVX2:    ifAvail(xcpu.X86.HasAVX2 && xcpu.X86.HasFMA, sgemmAVX2),
	KernelAVX512:  ifAvail(xcpu.X86.HasAVX512F, sgemmAVX512),
}

func ifAvail(ok bool, k *sgemmKernel) *sgemmKernel {
	if ok {
		return k
	}
	return nil
}

// Blocking for Zen 4 (L1D 32 KiB, L2 1 MiB per core, L3 32 MiB shared).
// kc·nr·4 bytes of B panel sit in L1 while mc·kc·4 bytes of packed A
// (L2) stream past it; kc·nc·4 bytes of packed B stay in L2/L3.
var (
	sgemmAVX2   = &sgemmKernel{mr: 6, nr: 16, kc: 256, mc: 144, nc: 2048, micro: sgemmMicroAVX2}
	sgemmAVX512 = &sgemmKernel{mr: 12, nr: 32, kc: 384, mc: 144, nc: 2048, micro: sgemmMicroAVX512, microHalf: sgemmMicroAVX512Half, microRowA: sgemmMicroAVX512RowA, microColA: sgemmMicroAVX512ColA,
		micro4: sgemmMicroAVX512Rows4, micro8: sgemmMicroAVX512Rows8}
)

func sgemmMicroAVX2(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15]
	sgemmKernelAVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func sgemmMicroAVX512(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[12*kc-1], b[32*kc-1], c[11*ldc+31]
	sgemmKernelAVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func sgemmMicroAVX512RowA(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[11*lda+kc-1], b[32*kc-1], c[11*ldc+31]
	sgemmKernelAVX512RowA(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
}

func sgemmMicroAVX512ColA(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[(kc-1)*lda+11], b[32*kc-1], c[11*ldc+31]
	sgemmKernelAVX512ColA(kc, &a[0], lda, &b[0], &c[0], ldc, alpha, beta)
}

func sgemmMicroAVX512Rows4(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[12*kc-1], b[32*kc-1], c[3*ldc+31]
	sgemmKernelAVX512Rows4(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func sgemmMicroAVX512Rows8(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[12*kc-1], b[32*kc-1], c[7*ldc+31]
	sgemmKernelAVX512Rows8(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

func sgemmMicroAVX512Half(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	_, _, _ = a[12*kc-1], b[32*kc-1], c[11*ldc+15]
	sgemmKernelAVX512Half(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
}

// sgemmKernelAVX2 computes a 6×16 tile of C with AVX2 and FMA: with a and b
// packed panels (a: kc steps of 6 values, b: kc steps of 16 values) and
// kc >= 1,
//
//	for i := range 6 {
//		for j := range 16 {
//			var s float32
//			for p := range kc {
//				s += a[p*6+i] * b[p*16+j] // fused multiply-add
//			}
//			if beta == 0 {
//				c[i*ldc+j] = alpha * s
//			} else {
//				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//			}
//		}
//	}
//
//go:noescape
func sgemmKernelAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512 computes a 12×32 tile of C with AVX-512F: the loop of
// sgemmKernelAVX2 with 12 rows (a: kc steps of 12 values) and 32 columns
// (b: kc steps of 32 values), kc >= 1.
//
//go:noescape
func sgemmKernelAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512Half computes the left 12×16 half of the tile of
// sgemmKernelAVX512 from the same packed panels (b: kc steps of 32 values,
// of which it reads the first 16):
//
//	for i := range 12 {
//		for j := range 16 {
//			s := sum over p < kc of a[p*12+i] * b[p*32+j]
//			c[i*ldc+j] = alpha*s (+ beta*c[i*ldc+j] unless beta == 0)
//		}
//	}
//
//go:noescape
func sgemmKernelAVX512Half(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512RowA computes the tile of sgemmKernelAVX512 with A read
// in place: a[i*lda+p] for i < 12, p < kc, instead of a packed panel.
//
//go:noescape
func sgemmKernelAVX512RowA(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512ColA computes the tile of sgemmKernelAVX512 with A read
// in place from a transposed matrix: a[p*lda+i] for i < 12, p < kc.
//
//go:noescape
func sgemmKernelAVX512ColA(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512Rows4 computes the first 4 rows of sgemmKernelAVX512's tile
// from the same packed panels (a: kc steps of 12 values, of which it reads 4):
//
//	for i := range 4 {
//		for j := range 32 {
//			s := sum over p < kc of a[p*12+i] * b[p*32+j]
//			c[i*ldc+j] = alpha*s (+ beta*c[i*ldc+j] unless beta == 0)
//		}
//	}
//
//go:noescape
func sgemmKernelAVX512Rows4(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmKernelAVX512Rows8 is sgemmKernelAVX512Rows4 for the first 8 rows.
//
//go:noescape
func sgemmKernelAVX512Rows8(kc int, a, b, c *float32, ldc int, alpha, beta float32)
