//go:build !purego

#include "textflag.h"

// y = ((x - m) * a) + b in Z8; Z0 = m, Z1 = a, Z2 = b.
#define GNSCALE \
	VSUBPS Z0, Z8, Z8; \
	VMULPS Z1, Z8, Z8; \
	VADDPS Z2, Z8, Z8

// func gnScaleAVX512(y, x *float32, n int, m, a, b float32)
TEXT ·gnScaleAVX512(SB), NOSPLIT, $0-36
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS m+24(FP), Z0
	VBROADCASTSS a+28(FP), Z1
	VBROADCASTSS b+32(FP), Z2
	CMPQ         CX, $16
	JB           scaletail
scaleloop:
	VMOVUPS (SI), Z8
	GNSCALE
	VMOVUPS Z8, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     scaleloop
scaletail:
	TESTQ   CX, CX
	JZ      scaledone
	MOVL    $1, AX
	SHLL    CX, AX
	DECL    AX
	KMOVW   AX, K1
	VMOVUPS.Z (SI), K1, Z8
	GNSCALE
	VMOVUPS Z8, K1, (DI)
scaledone:
	VZEROUPPER
	RET

// dst = ((a * d) + (b * (x - m))) + c in Z8; d in Z8, x in Z9; Z0 = m, Z1 = a,
// Z2 = b, Z3 = c.
#define GNCOMBINE \
	VMULPS Z1, Z8, Z8; \
	VSUBPS Z0, Z9, Z9; \
	VMULPS Z2, Z9, Z9; \
	VADDPS Z9, Z8, Z8; \
	VADDPS Z3, Z8, Z8

// func gnCombineAVX512(dst, d, x *float32, n int, m, a, b, c float32)
TEXT ·gnCombineAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         d+8(FP), SI
	MOVQ         x+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS m+32(FP), Z0
	VBROADCASTSS a+36(FP), Z1
	VBROADCASTSS b+40(FP), Z2
	VBROADCASTSS c+44(FP), Z3
	CMPQ         CX, $16
	JB           combtail
combloop:
	VMOVUPS (SI), Z8
	VMOVUPS (DX), Z9
	GNCOMBINE
	VMOVUPS Z8, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     combloop
combtail:
	TESTQ   CX, CX
	JZ      combdone
	MOVL    $1, AX
	SHLL    CX, AX
	DECL    AX
	KMOVW   AX, K1
	VMOVUPS.Z (SI), K1, Z8
	VMOVUPS.Z (DX), K1, Z9
	GNCOMBINE
	VMOVUPS Z8, K1, (DI)
combdone:
	VZEROUPPER
	RET

// LANESZERO clears the lane sums Z1..Z4; LANESSTORE writes them to acc at DI
// (acc[0:8], [8:16], [16:24], [24:32]).
#define LANESZERO \
	VXORPD Z1, Z1, Z1; \
	VXORPD Z2, Z2, Z2; \
	VXORPD Z3, Z3, Z3; \
	VXORPD Z4, Z4, Z4

#define LANESSTORE \
	VMOVUPD Z1, (DI); \
	VMOVUPD Z2, 64(DI); \
	VMOVUPD Z3, 128(DI); \
	VMOVUPD Z4, 192(DI)

// func moments16AVX512(x *float32, n int, k float64, acc *[32]float64)
//
// For the n values of x (n a positive multiple of 16), d = float64(x[i]) − k added
// into lane i mod 16 of acc[0:16] and d·d into acc[16:32], overwriting acc.
TEXT ·moments16AVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSD k+16(FP), Z0
	MOVQ         acc+24(FP), DI
	LANESZERO
momloop:
	VCVTPS2PD (SI), Z5
	VCVTPS2PD 32(SI), Z6
	VSUBPD    Z0, Z5, Z5
	VSUBPD    Z0, Z6, Z6
	VADDPD    Z5, Z1, Z1
	VADDPD    Z6, Z2, Z2
	VMULPD    Z5, Z5, Z5
	VMULPD    Z6, Z6, Z6
	VADDPD    Z5, Z3, Z3
	VADDPD    Z6, Z4, Z4
	ADDQ      $64, SI
	SUBQ      $16, CX
	JNZ       momloop
	LANESSTORE
	VZEROUPPER
	RET

// func sumDot16AVX512(d, x *float32, n int, m float64, acc *[32]float64)
//
// For the n values of d and x (n a positive multiple of 16), float64(d[i]) added into
// lane i mod 16 of acc[0:16] and float64(d[i])·(float64(x[i]) − m) into acc[16:32],
// overwriting acc.
TEXT ·sumDot16AVX512(SB), NOSPLIT, $0-40
	MOVQ         d+0(FP), SI
	MOVQ         x+8(FP), DX
	MOVQ         n+16(FP), CX
	VBROADCASTSD m+24(FP), Z0
	MOVQ         acc+32(FP), DI
	LANESZERO
dotloop:
	VCVTPS2PD (SI), Z5
	VCVTPS2PD 32(SI), Z6
	VCVTPS2PD (DX), Z7
	VCVTPS2PD 32(DX), Z8
	VSUBPD    Z0, Z7, Z7
	VSUBPD    Z0, Z8, Z8
	VADDPD    Z5, Z1, Z1
	VADDPD    Z6, Z2, Z2
	VMULPD    Z7, Z5, Z5
	VMULPD    Z8, Z6, Z6
	VADDPD    Z5, Z3, Z3
	VADDPD    Z6, Z4, Z4
	ADDQ      $64, SI
	ADDQ      $64, DX
	SUBQ      $16, CX
	JNZ       dotloop
	LANESSTORE
	VZEROUPPER
	RET
