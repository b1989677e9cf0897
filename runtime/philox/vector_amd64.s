//go:build !purego

#include "textflag.h"

// The lane numbers 0..15, added to the first counter of a group of sixteen blocks.
DATA philoxIota<>+0(SB)/4, $0
DATA philoxIota<>+4(SB)/4, $1
DATA philoxIota<>+8(SB)/4, $2
DATA philoxIota<>+12(SB)/4, $3
DATA philoxIota<>+16(SB)/4, $4
DATA philoxIota<>+20(SB)/4, $5
DATA philoxIota<>+24(SB)/4, $6
DATA philoxIota<>+28(SB)/4, $7
DATA philoxIota<>+32(SB)/4, $8
DATA philoxIota<>+36(SB)/4, $9
DATA philoxIota<>+40(SB)/4, $10
DATA philoxIota<>+44(SB)/4, $11
DATA philoxIota<>+48(SB)/4, $12
DATA philoxIota<>+52(SB)/4, $13
DATA philoxIota<>+56(SB)/4, $14
DATA philoxIota<>+60(SB)/4, $15
GLOBL philoxIota<>(SB), RODATA, $64

// One Philox round on sixteen blocks: counters (c0, c1, c2, c3) → (n0, n1, n2, n3)
// under the key words in Z4, Z5 (K1 = the odd lanes, Z28 and Z29 the multipliers).
// VPMULUDQ multiplies the even lanes into 64-bit products; the odd lanes are
// shifted down first. The products' halves are then blended back into lanes:
// n3 = lo(M0·c0), n2 = hi(M0·c0) ^ c3 ^ k1, n1 = lo(M1·c2), n0 = hi(M1·c2) ^ c1 ^ k0.
#define ROUND(c0, c1, c2, c3, n0, n1, n2, n3) \
	VPSRLQ     $32, c0, Z6; \
	VPMULUDQ   Z28, c0, n3; \
	VPMULUDQ   Z28, Z6, Z6; \
	VPSRLQ     $32, c2, Z8; \
	VPMULUDQ   Z29, c2, n1; \
	VPMULUDQ   Z29, Z8, Z8; \
	VPSRLQ     $32, n3, n2; \
	VPBLENDMD  Z6, n2, K1, n2; \
	VPSLLQ     $32, Z6, Z6; \
	VPBLENDMD  Z6, n3, K1, n3; \
	VPSRLQ     $32, n1, n0; \
	VPBLENDMD  Z8, n0, K1, n0; \
	VPSLLQ     $32, Z8, Z8; \
	VPBLENDMD  Z8, n1, K1, n1; \
	VPTERNLOGD $0x96, Z4, c1, n0; \
	VPTERNLOGD $0x96, Z5, c3, n2

// The key schedule between rounds.
#define KEY \
	VPADDD Z30, Z4, Z4; \
	VPADDD Z31, Z5, Z5

// One word vector to Uniform values float32(w>>8)·2^-24, then, when DX is set, to
// the mask: scale (Z27) where the value is at least p (Z26), else 0.
#define CONVERT(z) \
	VPSRLD    $8, z, z; \
	VCVTDQ2PS z, z; \
	VMULPS    Z18, z, z; \
	TESTL     DX, DX; \
	JZ        3(PC); \
	VCMPPS    $0x1d, Z26, z, K2; \
	VMOVAPS.Z Z27, K2, z

// func uniformAVX512(d *float32, a *vectorArgs)
TEXT ·uniformAVX512(SB), NOSPLIT, $0-16
	MOVQ         d+0(FP), DI
	MOVQ         a+8(FP), BX
	MOVQ         0(BX), CX // groups
	VPBROADCASTD 8(BX), Z20 // lo
	VPADDD       philoxIota<>(SB), Z20, Z20
	VPBROADCASTD 12(BX), Z21 // hi
	VPBROADCASTD 16(BX), Z22 // s0
	VPBROADCASTD 20(BX), Z23 // s1
	VPBROADCASTD 24(BX), Z24 // k0
	VPBROADCASTD 28(BX), Z25 // k1
	MOVL         32(BX), DX // mask
	VPBROADCASTD 36(BX), Z26 // p
	VPBROADCASTD 40(BX), Z27 // scale
	MOVL         $0xD2511F53, AX
	VPBROADCASTD AX, Z28
	MOVL         $0xCD9E8D57, AX
	VPBROADCASTD AX, Z29
	MOVL         $0x9E3779B9, AX
	VPBROADCASTD AX, Z30
	MOVL         $0xBB67AE85, AX
	VPBROADCASTD AX, Z31
	MOVL         $16, AX
	VPBROADCASTD AX, Z19
	MOVL         $0x33800000, AX // 2^-24
	VPBROADCASTD AX, Z18
	MOVL         $0xAAAA, AX
	KMOVW        AX, K1

group:
	VMOVDQA32 Z24, Z4
	VMOVDQA32 Z25, Z5
	ROUND(Z20, Z21, Z22, Z23, Z0, Z1, Z2, Z3) // round 1
	MOVQ      $4, R8
rounds: // rounds 2..9, two at a time
	KEY
	ROUND(Z0, Z1, Z2, Z3, Z10, Z11, Z12, Z13)
	KEY
	ROUND(Z10, Z11, Z12, Z13, Z0, Z1, Z2, Z3)
	DECQ      R8
	JNZ       rounds
	KEY
	ROUND(Z0, Z1, Z2, Z3, Z10, Z11, Z12, Z13) // round 10
	VPADDD    Z19, Z20, Z20 // the next group's counters
	CONVERT(Z10)
	CONVERT(Z11)
	CONVERT(Z12)
	CONVERT(Z13)

	// Word vectors (lane j: block j) to values in element order: 4×4 transposes
	// within each 128-bit lane, then of the 128-bit lanes.
	VPUNPCKLDQ  Z11, Z10, Z0
	VPUNPCKHDQ  Z11, Z10, Z1
	VPUNPCKLDQ  Z13, Z12, Z2
	VPUNPCKHDQ  Z13, Z12, Z3
	VPUNPCKLQDQ Z2, Z0, Z14
	VPUNPCKHQDQ Z2, Z0, Z15
	VPUNPCKLQDQ Z3, Z1, Z16
	VPUNPCKHQDQ Z3, Z1, Z17
	VSHUFI32X4  $0x44, Z15, Z14, Z0
	VSHUFI32X4  $0xEE, Z15, Z14, Z1
	VSHUFI32X4  $0x44, Z17, Z16, Z2
	VSHUFI32X4  $0xEE, Z17, Z16, Z3
	VSHUFI32X4  $0x88, Z2, Z0, Z10
	VSHUFI32X4  $0xDD, Z2, Z0, Z11
	VSHUFI32X4  $0x88, Z3, Z1, Z12
	VSHUFI32X4  $0xDD, Z3, Z1, Z13
	VMOVUPS     Z10, (DI)
	VMOVUPS     Z11, 64(DI)
	VMOVUPS     Z12, 128(DI)
	VMOVUPS     Z13, 192(DI)
	ADDQ        $256, DI
	DECQ        CX
	JNZ         group
	VZEROUPPER
	RET
