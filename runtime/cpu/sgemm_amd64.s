//go:build !purego

#include "textflag.h"

// Registers shared by both kernels.
#define APTR SI  // a: packed A panel, mr values per k step
#define BPTR DI  // b: packed B panel, nr values per k step
#define CPTR DX  // c: current row of the C tile
#define LDC R8   // ldc in bytes
#define CNT CX   // k steps left (remainder loop)
#define CNT4 R9  // groups of 4 k steps left (unrolled loop)

// ---------------------------------------------------------------------------
// AVX2 + FMA: 6×16 tile, accumulators Y0..Y11 (row i in Y(2i), Y(2i+1)).

#define AB0 Y12 // b[p*16 : p*16+8]
#define AB1 Y13 // b[p*16+8 : p*16+16]
#define AT0 Y14 // broadcast a[p*6+i]
#define AT1 Y15

// acc0, acc1 += a[ao/4] * b[p][0:16]
#define ROW2(ao, t, acc0, acc1) \
	VBROADCASTSS ao(APTR), t; \
	VFMADD231PS  AB0, t, acc0; \
	VFMADD231PS  AB1, t, acc1

// One k step p at byte offsets ao (A) and bo (B): C[0:6][0:16] += a[p][0:6] ⊗ b[p][0:16].
#define KSTEP2(ao, bo) \
	VMOVUPS bo(BPTR), AB0; \
	VMOVUPS (bo+32)(BPTR), AB1; \
	ROW2(ao, AT0, Y0, Y1); \
	ROW2((ao+4), AT1, Y2, Y3); \
	ROW2((ao+8), AT0, Y4, Y5); \
	ROW2((ao+12), AT1, Y6, Y7); \
	ROW2((ao+16), AT0, Y8, Y9); \
	ROW2((ao+20), AT1, Y10, Y11)

// c[0:16] = alpha*acc (AB0 = alpha)
#define STORE2(acc0, acc1) \
	VMULPS  AB0, acc0, acc0; \
	VMULPS  AB0, acc1, acc1; \
	VMOVUPS acc0, (CPTR); \
	VMOVUPS acc1, 32(CPTR); \
	ADDQ    LDC, CPTR

// c[0:16] = alpha*acc + beta*c[0:16] (AB0 = alpha, AB1 = beta)
#define UPDATE2(acc0, acc1) \
	VMULPS      AB0, acc0, acc0; \
	VMULPS      AB0, acc1, acc1; \
	VFMADD231PS (CPTR), AB1, acc0; \
	VFMADD231PS 32(CPTR), AB1, acc1; \
	VMOVUPS     acc0, (CPTR); \
	VMOVUPS     acc1, 32(CPTR); \
	ADDQ        LDC, CPTR

// func sgemmKernelAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernelAVX2(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), APTR
	MOVQ b+16(FP), BPTR
	MOVQ c+24(FP), CPTR
	MOVQ ldc+32(FP), LDC
	SHLQ $2, LDC        // ldc *= 4 (bytes)

	// acc = 0
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	// for ; kc >= 4; kc -= 4 { 4 k steps }
	MOVQ  CNT, CNT4
	SHRQ  $2, CNT4
	ANDQ  $3, CNT
	TESTQ CNT4, CNT4
	JZ    avx2_tail

avx2_loop4:
	PREFETCHT0 384(BPTR)
	KSTEP2(0, 0)
	KSTEP2(24, 64)
	PREFETCHT0 448(BPTR)
	KSTEP2(48, 128)
	KSTEP2(72, 192)
	ADDQ $96, APTR
	ADDQ $256, BPTR
	DECQ CNT4
	JNZ  avx2_loop4

avx2_tail:
	// for ; kc > 0; kc-- { 1 k step }
	TESTQ CNT, CNT
	JZ    avx2_store

avx2_loop1:
	KSTEP2(0, 0)
	ADDQ $24, APTR
	ADDQ $64, BPTR
	DECQ CNT
	JNZ  avx2_loop1

avx2_store:
	VBROADCASTSS alpha+40(FP), AB0
	MOVL         beta+44(FP), AX
	SHLL         $1, AX               // drop the sign bit: beta == ±0?
	JZ           avx2_beta0
	VBROADCASTSS beta+44(FP), AB1

	// c = alpha*acc + beta*c, row by row
	UPDATE2(Y0, Y1)
	UPDATE2(Y2, Y3)
	UPDATE2(Y4, Y5)
	UPDATE2(Y6, Y7)
	UPDATE2(Y8, Y9)
	UPDATE2(Y10, Y11)
	VZEROUPPER
	RET

avx2_beta0:
	// c = alpha*acc, C not read
	STORE2(Y0, Y1)
	STORE2(Y2, Y3)
	STORE2(Y4, Y5)
	STORE2(Y6, Y7)
	STORE2(Y8, Y9)
	STORE2(Y10, Y11)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F: 12×32 tile, accumulators Z0..Z23 (row i in Z(2i), Z(2i+1)).

#define ZB0 Z24 // b[p*32 : p*32+16]
#define ZB1 Z25 // b[p*32+16 : p*32+32]
#define ZT0 Z26 // broadcast a[p*12+i]
#define ZT1 Z27
#define ZALPHA Z28
#define ZBETA Z29

// acc0, acc1 += a[ao/4] * b[p][0:32]
#define ROW5(ao, t, acc0, acc1) \
	VBROADCASTSS ao(APTR), t; \
	VFMADD231PS  ZB0, t, acc0; \
	VFMADD231PS  ZB1, t, acc1

// One k step p at byte offsets ao (A) and bo (B): C[0:12][0:32] += a[p][0:12] ⊗ b[p][0:32].
#define KSTEP5(ao, bo) \
	VMOVUPS bo(BPTR), ZB0; \
	VMOVUPS (bo+64)(BPTR), ZB1; \
	ROW5(ao, ZT0, Z0, Z1); \
	ROW5((ao+4), ZT1, Z2, Z3); \
	ROW5((ao+8), ZT0, Z4, Z5); \
	ROW5((ao+12), ZT1, Z6, Z7); \
	ROW5((ao+16), ZT0, Z8, Z9); \
	ROW5((ao+20), ZT1, Z10, Z11); \
	ROW5((ao+24), ZT0, Z12, Z13); \
	ROW5((ao+28), ZT1, Z14, Z15); \
	ROW5((ao+32), ZT0, Z16, Z17); \
	ROW5((ao+36), ZT1, Z18, Z19); \
	ROW5((ao+40), ZT0, Z20, Z21); \
	ROW5((ao+44), ZT1, Z22, Z23)

// c[0:32] = alpha*acc
#define STORE5(acc0, acc1) \
	VMULPS  ZALPHA, acc0, acc0; \
	VMULPS  ZALPHA, acc1, acc1; \
	VMOVUPS acc0, (CPTR); \
	VMOVUPS acc1, 64(CPTR); \
	ADDQ    LDC, CPTR

// c[0:32] = alpha*acc + beta*c[0:32]
#define UPDATE5(acc0, acc1) \
	VMULPS      ZALPHA, acc0, acc0; \
	VMULPS      ZALPHA, acc1, acc1; \
	VFMADD231PS (CPTR), ZBETA, acc0; \
	VFMADD231PS 64(CPTR), ZBETA, acc1; \
	VMOVUPS     acc0, (CPTR); \
	VMOVUPS     acc1, 64(CPTR); \
	ADDQ        LDC, CPTR

// func sgemmKernelAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernelAVX512(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), APTR
	MOVQ b+16(FP), BPTR
	MOVQ c+24(FP), CPTR
	MOVQ ldc+32(FP), LDC
	SHLQ $2, LDC        // ldc *= 4 (bytes)

	// acc = 0
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	// for ; kc >= 4; kc -= 4 { 4 k steps }
	MOVQ  CNT, CNT4
	SHRQ  $2, CNT4
	ANDQ  $3, CNT
	TESTQ CNT4, CNT4
	JZ    avx512_tail

avx512_loop4:
	PREFETCHT0 512(BPTR)
	KSTEP5(0, 0)
	PREFETCHT0 576(BPTR)
	KSTEP5(48, 128)
	PREFETCHT0 640(BPTR)
	KSTEP5(96, 256)
	PREFETCHT0 704(BPTR)
	KSTEP5(144, 384)
	ADDQ $192, APTR
	ADDQ $512, BPTR
	DECQ CNT4
	JNZ  avx512_loop4

avx512_tail:
	// for ; kc > 0; kc-- { 1 k step }
	TESTQ CNT, CNT
	JZ    avx512_store

avx512_loop1:
	KSTEP5(0, 0)
	ADDQ $48, APTR
	ADDQ $128, BPTR
	DECQ CNT
	JNZ  avx512_loop1

avx512_store:
	VBROADCASTSS alpha+40(FP), ZALPHA
	MOVL         beta+44(FP), AX
	SHLL         $1, AX                 // drop the sign bit: beta == ±0?
	JZ           avx512_beta0
	VBROADCASTSS beta+44(FP), ZBETA

	// c = alpha*acc + beta*c, row by row
	UPDATE5(Z0, Z1)
	UPDATE5(Z2, Z3)
	UPDATE5(Z4, Z5)
	UPDATE5(Z6, Z7)
	UPDATE5(Z8, Z9)
	UPDATE5(Z10, Z11)
	UPDATE5(Z12, Z13)
	UPDATE5(Z14, Z15)
	UPDATE5(Z16, Z17)
	UPDATE5(Z18, Z19)
	UPDATE5(Z20, Z21)
	UPDATE5(Z22, Z23)
	VZEROUPPER
	RET

avx512_beta0:
	// c = alpha*acc, C not read
	STORE5(Z0, Z1)
	STORE5(Z2, Z3)
	STORE5(Z4, Z5)
	STORE5(Z6, Z7)
	STORE5(Z8, Z9)
	STORE5(Z10, Z11)
	STORE5(Z12, Z13)
	STORE5(Z14, Z15)
	STORE5(Z16, Z17)
	STORE5(Z18, Z19)
	STORE5(Z20, Z21)
	STORE5(Z22, Z23)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F, half width: the 12×16 left half of a 12×32 tile, for the last
// column panel of C when it has at most 16 valid columns. Accumulators
// Z0..Z11 (row i in Z(i)); b is still a 32-wide packed panel.

// acc += a[ao/4] * b[p][0:16]
#define ROW5H(ao, t, acc) \
	VBROADCASTSS ao(APTR), t; \
	VFMADD231PS  ZB0, t, acc

// One k step p at byte offsets ao (A) and bo (B): C[0:12][0:16] += a[p][0:12] ⊗ b[p][0:16].
#define KSTEP5H(ao, bo) \
	VMOVUPS bo(BPTR), ZB0; \
	ROW5H(ao, ZT0, Z0); \
	ROW5H((ao+4), ZT1, Z1); \
	ROW5H((ao+8), ZT0, Z2); \
	ROW5H((ao+12), ZT1, Z3); \
	ROW5H((ao+16), ZT0, Z4); \
	ROW5H((ao+20), ZT1, Z5); \
	ROW5H((ao+24), ZT0, Z6); \
	ROW5H((ao+28), ZT1, Z7); \
	ROW5H((ao+32), ZT0, Z8); \
	ROW5H((ao+36), ZT1, Z9); \
	ROW5H((ao+40), ZT0, Z10); \
	ROW5H((ao+44), ZT1, Z11)

// c[0:16] = alpha*acc
#define STORE5H(acc) \
	VMULPS  ZALPHA, acc, acc; \
	VMOVUPS acc, (CPTR); \
	ADDQ    LDC, CPTR

// c[0:16] = alpha*acc + beta*c[0:16]
#define UPDATE5H(acc) \
	VMULPS      ZALPHA, acc, acc; \
	VFMADD231PS (CPTR), ZBETA, acc; \
	VMOVUPS     acc, (CPTR); \
	ADDQ        LDC, CPTR

// func sgemmKernelAVX512Half(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernelAVX512Half(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), APTR
	MOVQ b+16(FP), BPTR
	MOVQ c+24(FP), CPTR
	MOVQ ldc+32(FP), LDC
	SHLQ $2, LDC        // ldc *= 4 (bytes)

	// acc = 0
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11

	// for ; kc >= 4; kc -= 4 { 4 k steps }
	MOVQ  CNT, CNT4
	SHRQ  $2, CNT4
	ANDQ  $3, CNT
	TESTQ CNT4, CNT4
	JZ    half_tail

half_loop4:
	KSTEP5H(0, 0)
	KSTEP5H(48, 128)
	KSTEP5H(96, 256)
	KSTEP5H(144, 384)
	ADDQ $192, APTR
	ADDQ $512, BPTR
	DECQ CNT4
	JNZ  half_loop4

half_tail:
	// for ; kc > 0; kc-- { 1 k step }
	TESTQ CNT, CNT
	JZ    half_store

half_loop1:
	KSTEP5H(0, 0)
	ADDQ $48, APTR
	ADDQ $128, BPTR
	DECQ CNT
	JNZ  half_loop1

half_store:
	VBROADCASTSS alpha+40(FP), ZALPHA
	MOVL         beta+44(FP), AX
	SHLL         $1, AX                 // drop the sign bit: beta == ±0?
	JZ           half_beta0
	VBROADCASTSS beta+44(FP), ZBETA

	// c = alpha*acc + beta*c, row by row
	UPDATE5H(Z0)
	UPDATE5H(Z1)
	UPDATE5H(Z2)
	UPDATE5H(Z3)
	UPDATE5H(Z4)
	UPDATE5H(Z5)
	UPDATE5H(Z6)
	UPDATE5H(Z7)
	UPDATE5H(Z8)
	UPDATE5H(Z9)
	UPDATE5H(Z10)
	UPDATE5H(Z11)
	VZEROUPPER
	RET

half_beta0:
	// c = alpha*acc, C not read
	STORE5H(Z0)
	STORE5H(Z1)
	STORE5H(Z2)
	STORE5H(Z3)
	STORE5H(Z4)
	STORE5H(Z5)
	STORE5H(Z6)
	STORE5H(Z7)
	STORE5H(Z8)
	STORE5H(Z9)
	STORE5H(Z10)
	STORE5H(Z11)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F, A unpacked: the 12×32 tile of sgemmKernelAVX512 with A read in
// place from 12 rows of a row-major matrix (row stride lda) instead of a
// packed panel. Rows 3g..3g+2 are addressed from base register g as
// (Ag), (Ag)(LDA*1) and (Ag)(LDA2*1).

#define RA0 SI
#define RA1 R10
#define RA2 R11
#define RA3 R12
#define LDA R13
#define LDA2 BX

// acc0, acc1 += a[row][p] * b[p][0:32], with addr the row's element
#define ROWD(addr, t, acc0, acc1) \
	VBROADCASTSS addr, t; \
	VFMADD231PS  ZB0, t, acc0; \
	VFMADD231PS  ZB1, t, acc1

// One k step at byte offsets ao (A rows) and bo (B panel).
#define KSTEPD(ao, bo) \
	VMOVUPS bo(BPTR), ZB0; \
	VMOVUPS (bo+64)(BPTR), ZB1; \
	ROWD(ao(RA0), ZT0, Z0, Z1); \
	ROWD(ao(RA0)(LDA*1), ZT1, Z2, Z3); \
	ROWD(ao(RA0)(LDA2*1), ZT0, Z4, Z5); \
	ROWD(ao(RA1), ZT1, Z6, Z7); \
	ROWD(ao(RA1)(LDA*1), ZT0, Z8, Z9); \
	ROWD(ao(RA1)(LDA2*1), ZT1, Z10, Z11); \
	ROWD(ao(RA2), ZT0, Z12, Z13); \
	ROWD(ao(RA2)(LDA*1), ZT1, Z14, Z15); \
	ROWD(ao(RA2)(LDA2*1), ZT0, Z16, Z17); \
	ROWD(ao(RA3), ZT1, Z18, Z19); \
	ROWD(ao(RA3)(LDA*1), ZT0, Z20, Z21); \
	ROWD(ao(RA3)(LDA2*1), ZT1, Z22, Z23)

// func sgemmKernelAVX512RowA(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernelAVX512RowA(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), RA0
	MOVQ lda+16(FP), LDA
	MOVQ b+24(FP), BPTR
	MOVQ c+32(FP), CPTR
	MOVQ ldc+40(FP), LDC
	SHLQ $2, LDC        // ldc *= 4 (bytes)
	SHLQ $2, LDA        // lda *= 4 (bytes)
	LEAQ (LDA)(LDA*1), LDA2
	LEAQ (RA0)(LDA2*1), RA1
	ADDQ LDA, RA1       // row 3
	LEAQ (RA1)(LDA2*1), RA2
	ADDQ LDA, RA2       // row 6
	LEAQ (RA2)(LDA2*1), RA3
	ADDQ LDA, RA3       // row 9

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	MOVQ  CNT, CNT4
	SHRQ  $2, CNT4
	ANDQ  $3, CNT
	TESTQ CNT4, CNT4
	JZ    rowa_tail

rowa_loop4:
	PREFETCHT0 512(BPTR)
	KSTEPD(0, 0)
	PREFETCHT0 576(BPTR)
	KSTEPD(4, 128)
	PREFETCHT0 640(BPTR)
	KSTEPD(8, 256)
	PREFETCHT0 704(BPTR)
	KSTEPD(12, 384)
	ADDQ $16, RA0
	ADDQ $16, RA1
	ADDQ $16, RA2
	ADDQ $16, RA3
	ADDQ $512, BPTR
	DECQ CNT4
	JNZ  rowa_loop4

rowa_tail:
	TESTQ CNT, CNT
	JZ    rowa_store

rowa_loop1:
	KSTEPD(0, 0)
	ADDQ $4, RA0
	ADDQ $4, RA1
	ADDQ $4, RA2
	ADDQ $4, RA3
	ADDQ $128, BPTR
	DECQ CNT
	JNZ  rowa_loop1

rowa_store:
	VBROADCASTSS alpha+48(FP), ZALPHA
	MOVL         beta+52(FP), AX
	SHLL         $1, AX                 // drop the sign bit: beta == ±0?
	JZ           rowa_beta0
	VBROADCASTSS beta+52(FP), ZBETA

	UPDATE5(Z0, Z1)
	UPDATE5(Z2, Z3)
	UPDATE5(Z4, Z5)
	UPDATE5(Z6, Z7)
	UPDATE5(Z8, Z9)
	UPDATE5(Z10, Z11)
	UPDATE5(Z12, Z13)
	UPDATE5(Z14, Z15)
	UPDATE5(Z16, Z17)
	UPDATE5(Z18, Z19)
	UPDATE5(Z20, Z21)
	UPDATE5(Z22, Z23)
	VZEROUPPER
	RET

rowa_beta0:
	STORE5(Z0, Z1)
	STORE5(Z2, Z3)
	STORE5(Z4, Z5)
	STORE5(Z6, Z7)
	STORE5(Z8, Z9)
	STORE5(Z10, Z11)
	STORE5(Z12, Z13)
	STORE5(Z14, Z15)
	STORE5(Z16, Z17)
	STORE5(Z18, Z19)
	STORE5(Z20, Z21)
	STORE5(Z22, Z23)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F, A transposed in place: the 12×32 tile of sgemmKernelAVX512 with
// op(A)[i][p] = a[p*lda+i] read directly (12 consecutive values per k step,
// lda apart) instead of from a packed panel.

#define KSTEPT \
	VMOVUPS (BPTR), ZB0; \
	VMOVUPS 64(BPTR), ZB1; \
	ROW5(0, ZT0, Z0, Z1); \
	ROW5(4, ZT1, Z2, Z3); \
	ROW5(8, ZT0, Z4, Z5); \
	ROW5(12, ZT1, Z6, Z7); \
	ROW5(16, ZT0, Z8, Z9); \
	ROW5(20, ZT1, Z10, Z11); \
	ROW5(24, ZT0, Z12, Z13); \
	ROW5(28, ZT1, Z14, Z15); \
	ROW5(32, ZT0, Z16, Z17); \
	ROW5(36, ZT1, Z18, Z19); \
	ROW5(40, ZT0, Z20, Z21); \
	ROW5(44, ZT1, Z22, Z23)

// func sgemmKernelAVX512ColA(kc int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmKernelAVX512ColA(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), APTR
	MOVQ lda+16(FP), LDA
	MOVQ b+24(FP), BPTR
	MOVQ c+32(FP), CPTR
	MOVQ ldc+40(FP), LDC
	SHLQ $2, LDC        // ldc *= 4 (bytes)
	SHLQ $2, LDA        // lda *= 4 (bytes)

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

cola_loop:
	PREFETCHT0 512(BPTR)
	KSTEPT
	ADDQ LDA, APTR
	ADDQ $128, BPTR
	DECQ CNT
	JNZ  cola_loop

	VBROADCASTSS alpha+48(FP), ZALPHA
	MOVL         beta+52(FP), AX
	SHLL         $1, AX                 // drop the sign bit: beta == ±0?
	JZ           cola_beta0
	VBROADCASTSS beta+52(FP), ZBETA

	UPDATE5(Z0, Z1)
	UPDATE5(Z2, Z3)
	UPDATE5(Z4, Z5)
	UPDATE5(Z6, Z7)
	UPDATE5(Z8, Z9)
	UPDATE5(Z10, Z11)
	UPDATE5(Z12, Z13)
	UPDATE5(Z14, Z15)
	UPDATE5(Z16, Z17)
	UPDATE5(Z18, Z19)
	UPDATE5(Z20, Z21)
	UPDATE5(Z22, Z23)
	VZEROUPPER
	RET

cola_beta0:
	STORE5(Z0, Z1)
	STORE5(Z2, Z3)
	STORE5(Z4, Z5)
	STORE5(Z6, Z7)
	STORE5(Z8, Z9)
	STORE5(Z10, Z11)
	STORE5(Z12, Z13)
	STORE5(Z14, Z15)
	STORE5(Z16, Z17)
	STORE5(Z18, Z19)
	STORE5(Z20, Z21)
	STORE5(Z22, Z23)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F, the first 4 or 8 rows of the 12×32 tile.

// func sgemmKernelAVX512Rows4(kc int, a, b, c *float32, ldc int, alpha, beta float32)
//
// The first 4 rows of sgemmKernelAVX512's tile from the same packed panels (a:
// kc steps of 12 values, of which it reads the first 4): the partial last row
// panel of an M that is not a multiple of 12.
TEXT ·sgemmKernelAVX512Rows4(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), APTR
	MOVQ b+16(FP), BPTR
	MOVQ c+24(FP), CPTR
	MOVQ ldc+32(FP), LDC
	SHLQ $2, LDC
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

sgemmkernelavx512rows4_loop:
	VMOVUPS 0(BPTR), ZB0
	VMOVUPS 64(BPTR), ZB1
	ROW5(0, ZT0, Z0, Z1)
	ROW5(4, ZT1, Z2, Z3)
	ROW5(8, ZT0, Z4, Z5)
	ROW5(12, ZT1, Z6, Z7)
	ADDQ $48, APTR
	ADDQ $128, BPTR
	DECQ CNT
	JNZ  sgemmkernelavx512rows4_loop

	VBROADCASTSS alpha+40(FP), ZALPHA
	MOVL         beta+44(FP), AX
	SHLL         $1, AX
	JZ           sgemmkernelavx512rows4_beta0
	VBROADCASTSS beta+44(FP), ZBETA
	UPDATE5(Z0, Z1)
	UPDATE5(Z2, Z3)
	UPDATE5(Z4, Z5)
	UPDATE5(Z6, Z7)
	VZEROUPPER
	RET

sgemmkernelavx512rows4_beta0:
	STORE5(Z0, Z1)
	STORE5(Z2, Z3)
	STORE5(Z4, Z5)
	STORE5(Z6, Z7)
	VZEROUPPER
	RET

// func sgemmKernelAVX512Rows8(kc int, a, b, c *float32, ldc int, alpha, beta float32)
//
// The first 8 rows of sgemmKernelAVX512's tile from the same packed panels (a:
// kc steps of 12 values, of which it reads the first 8): the partial last row
// panel of an M that is not a multiple of 12.
TEXT ·sgemmKernelAVX512Rows8(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CNT
	MOVQ a+8(FP), APTR
	MOVQ b+16(FP), BPTR
	MOVQ c+24(FP), CPTR
	MOVQ ldc+32(FP), LDC
	SHLQ $2, LDC
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

sgemmkernelavx512rows8_loop:
	VMOVUPS 0(BPTR), ZB0
	VMOVUPS 64(BPTR), ZB1
	ROW5(0, ZT0, Z0, Z1)
	ROW5(4, ZT1, Z2, Z3)
	ROW5(8, ZT0, Z4, Z5)
	ROW5(12, ZT1, Z6, Z7)
	ROW5(16, ZT0, Z8, Z9)
	ROW5(20, ZT1, Z10, Z11)
	ROW5(24, ZT0, Z12, Z13)
	ROW5(28, ZT1, Z14, Z15)
	ADDQ $48, APTR
	ADDQ $128, BPTR
	DECQ CNT
	JNZ  sgemmkernelavx512rows8_loop

	VBROADCASTSS alpha+40(FP), ZALPHA
	MOVL         beta+44(FP), AX
	SHLL         $1, AX
	JZ           sgemmkernelavx512rows8_beta0
	VBROADCASTSS beta+44(FP), ZBETA
	UPDATE5(Z0, Z1)
	UPDATE5(Z2, Z3)
	UPDATE5(Z4, Z5)
	UPDATE5(Z6, Z7)
	UPDATE5(Z8, Z9)
	UPDATE5(Z10, Z11)
	UPDATE5(Z12, Z13)
	UPDATE5(Z14, Z15)
	VZEROUPPER
	RET

sgemmkernelavx512rows8_beta0:
	STORE5(Z0, Z1)
	STORE5(Z2, Z3)
	STORE5(Z4, Z5)
	STORE5(Z6, Z7)
	STORE5(Z8, Z9)
	STORE5(Z10, Z11)
	STORE5(Z12, Z13)
	STORE5(Z14, Z15)
	VZEROUPPER
	RET
