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
