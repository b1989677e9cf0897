//go:build !purego

// Elementwise e^x, sigmoid, SiLU and SiLU's derivative; see vecmath.go for
// the formula. Every kernel is the same loop around a body macro: full
// vectors, then one masked vector for the tail.

#include "textflag.h"

// Scalars, broadcast into vector registers (see expGo/exp32 in vecmath.go).
DATA vecc<>+0(SB)/4, $0xc2d20000  // expLo = -105
DATA vecc<>+4(SB)/4, $0x42b20000  // expHi = 89
DATA vecc<>+8(SB)/4, $0x3fb8aa3b  // log2(e)
DATA vecc<>+12(SB)/4, $0x3f318000 // C1 = 0.693359375
DATA vecc<>+16(SB)/4, $0x395e8083 // C2 = 2.12194440e-4
DATA vecc<>+20(SB)/4, $0x39506967 // P5
DATA vecc<>+24(SB)/4, $0x3ab743ce // P4
DATA vecc<>+28(SB)/4, $0x3c088908 // P3
DATA vecc<>+32(SB)/4, $0x3d2aa9c1 // P2
DATA vecc<>+36(SB)/4, $0x3e2aaaaa // P1
DATA vecc<>+40(SB)/4, $0x3f000000 // P0 = 0.5
DATA vecc<>+44(SB)/4, $0x3f800000 // 1.0
DATA vecc<>+48(SB)/4, $0x80000000 // sign bit
DATA vecc<>+52(SB)/4, $0x0000007f // exponent bias 127
GLOBL vecc<>(SB), RODATA|NOPTR, $56

// 8 all-ones lanes then 8 zero lanes: loading 8 lanes from offset 4·(8−r)
// gives a mask of the first r lanes (AVX2 tails).
DATA vecmask<>+0(SB)/8, $-1
DATA vecmask<>+8(SB)/8, $-1
DATA vecmask<>+16(SB)/8, $-1
DATA vecmask<>+24(SB)/8, $-1
DATA vecmask<>+32(SB)/8, $0
DATA vecmask<>+40(SB)/8, $0
DATA vecmask<>+48(SB)/8, $0
DATA vecmask<>+56(SB)/8, $0
GLOBL vecmask<>(SB), RODATA|NOPTR, $64

// ---------------------------------------------------------------- AVX-512
// Constants live in Z16–Z28; Z0–Z3 are exp's scratch, Z4 holds x, Z5 s,
// Z6 1−s, Z7 g; K1 is the tail mask, K2 the sign mask of x.

#define LOADC512 \
	VBROADCASTSS vecc<>+0(SB), Z16  \
	VBROADCASTSS vecc<>+4(SB), Z17  \
	VBROADCASTSS vecc<>+8(SB), Z18  \
	VBROADCASTSS vecc<>+12(SB), Z19 \
	VBROADCASTSS vecc<>+16(SB), Z20 \
	VBROADCASTSS vecc<>+20(SB), Z21 \
	VBROADCASTSS vecc<>+24(SB), Z22 \
	VBROADCASTSS vecc<>+28(SB), Z23 \
	VBROADCASTSS vecc<>+32(SB), Z24 \
	VBROADCASTSS vecc<>+36(SB), Z25 \
	VBROADCASTSS vecc<>+40(SB), Z26 \
	VBROADCASTSS vecc<>+44(SB), Z27 \
	VBROADCASTSS vecc<>+48(SB), Z28

// Z0 = e^Z0 (clobbers Z1–Z3). The max/min operand order keeps NaN.
#define EXP512 \
	VMAXPS       Z0, Z16, Z0  \ // x = max(x, lo)
	VMINPS       Z0, Z17, Z0  \ // x = min(x, hi)
	VMULPS       Z18, Z0, Z1  \
	VRNDSCALEPS  $0, Z1, Z1   \ // k = round(x·log2e)
	VFNMADD231PS Z19, Z1, Z0  \ // r = x − k·C1
	VFMADD231PS  Z20, Z1, Z0  \ // r += k·C2
	VMOVAPS      Z21, Z2      \
	VFMADD213PS  Z22, Z0, Z2  \ // p = P5·r + P4
	VFMADD213PS  Z23, Z0, Z2  \
	VFMADD213PS  Z24, Z0, Z2  \
	VFMADD213PS  Z25, Z0, Z2  \
	VFMADD213PS  Z26, Z0, Z2  \
	VMULPS       Z0, Z0, Z3   \ // r²
	VFMADD213PS  Z0, Z3, Z2   \ // p = p·r² + r
	VADDPS       Z27, Z2, Z2  \ // p += 1
	VSCALEFPS    Z1, Z2, Z0     // p·2^k

// From x in Z4: Z0 = e·d, Z1 = d with e = e^−|x|, d = 1/(1+e); K2 = sign(x).
#define SIGCORE512 \
	VPORD      Z4, Z28, Z0 \ // −|x|
	EXP512                 \
	VADDPS     Z27, Z0, Z1 \
	VDIVPS     Z1, Z27, Z1 \ // d
	VMULPS     Z1, Z0, Z0  \ // e·d
	VPTESTMD   Z28, Z4, K2

#define OPEXP512 \
	VMOVAPS Z4, Z0 \
	EXP512

#define OPSIGMOID512 \
	SIGCORE512 \
	VBLENDMPS Z0, Z1, K2, Z0 // s = x<0 ? e·d : d

#define OPSILU512 \
	SIGCORE512               \
	VBLENDMPS Z0, Z1, K2, Z5 \
	VMULPS    Z5, Z4, Z0

#define OPSILUGRAD512 \
	SIGCORE512               \
	VBLENDMPS Z0, Z1, K2, Z5 \ // s
	VBLENDMPS Z1, Z0, K2, Z6 \ // 1−s
	VFMADD213PS Z27, Z4, Z6  \ // t = x·(1−s) + 1
	VMULPS    Z6, Z5, Z6     \ // s·t
	VMULPS    Z7, Z6, Z0       // ·g

// ---------------------------------------------------------------- AVX2
// Y8–Y15 hold log2e, C1, C2, P5…P1; the rest come from memory. Y0–Y3 are
// exp's scratch, Y4 holds x, Y5 s, Y6 1−s, Y7 the tail mask.

#define LOADC256 \
	VBROADCASTSS vecc<>+8(SB), Y8   \
	VBROADCASTSS vecc<>+12(SB), Y9  \
	VBROADCASTSS vecc<>+16(SB), Y10 \
	VBROADCASTSS vecc<>+20(SB), Y11 \
	VBROADCASTSS vecc<>+24(SB), Y12 \
	VBROADCASTSS vecc<>+28(SB), Y13 \
	VBROADCASTSS vecc<>+32(SB), Y14 \
	VBROADCASTSS vecc<>+36(SB), Y15

// Y0 = e^Y0 (clobbers Y1–Y3). 2^k is applied as 2^⌊k/2⌋·2^(k−⌊k/2⌋), both
// normal, so the result rounds once, like VSCALEFPS.
#define EXP256 \
	VBROADCASTSS vecc<>+0(SB), Y3  \
	VMAXPS       Y0, Y3, Y0        \
	VBROADCASTSS vecc<>+4(SB), Y3  \
	VMINPS       Y0, Y3, Y0        \
	VMULPS       Y8, Y0, Y1        \
	VROUNDPS     $0, Y1, Y1        \ // k
	VFNMADD231PS Y9, Y1, Y0        \ // r = x − k·C1
	VFMADD231PS  Y10, Y1, Y0       \ // r += k·C2
	VMOVAPS      Y11, Y2           \
	VFMADD213PS  Y12, Y0, Y2       \
	VFMADD213PS  Y13, Y0, Y2       \
	VFMADD213PS  Y14, Y0, Y2       \
	VFMADD213PS  Y15, Y0, Y2       \
	VBROADCASTSS vecc<>+40(SB), Y3 \
	VFMADD213PS  Y3, Y0, Y2        \
	VMULPS       Y0, Y0, Y3        \
	VFMADD213PS  Y0, Y3, Y2        \ // p = p·r² + r
	VBROADCASTSS vecc<>+44(SB), Y3 \
	VADDPS       Y3, Y2, Y2        \ // p += 1
	VCVTPS2DQ    Y1, Y1            \
	VPSRAD       $1, Y1, Y3        \ // k1 = k>>1
	VPSUBD       Y3, Y1, Y1        \ // k2 = k − k1
	VPBROADCASTD vecc<>+52(SB), Y0 \
	VPADDD       Y0, Y3, Y3        \
	VPADDD       Y0, Y1, Y1        \
	VPSLLD       $23, Y3, Y3       \ // 2^k1
	VPSLLD       $23, Y1, Y1       \ // 2^k2
	VMULPS       Y3, Y2, Y2        \
	VMULPS       Y1, Y2, Y0

// From x in Y4: Y0 = e·d, Y1 = d, Y3 = 1.0 (see SIGCORE512).
#define SIGCORE256 \
	VBROADCASTSS vecc<>+48(SB), Y0 \
	VORPS        Y4, Y0, Y0        \
	EXP256                         \
	VBROADCASTSS vecc<>+44(SB), Y3 \
	VADDPS       Y3, Y0, Y1        \
	VDIVPS       Y1, Y3, Y1        \
	VMULPS       Y1, Y0, Y0

#define OPEXP256 \
	VMOVAPS Y4, Y0 \
	EXP256

#define OPSIGMOID256 \
	SIGCORE256 \
	VBLENDVPS Y4, Y0, Y1, Y0 // s = x<0 ? e·d : d

#define OPSILU256 \
	SIGCORE256               \
	VBLENDVPS Y4, Y0, Y1, Y5 \
	VMULPS    Y5, Y4, Y0

#define OPSILUGRAD256 \
	SIGCORE256               \
	VBLENDVPS Y4, Y0, Y1, Y5 \ // s
	VBLENDVPS Y4, Y1, Y0, Y6 \ // 1−s
	VFMADD213PS Y3, Y4, Y6   \ // t = x·(1−s) + 1
	VMULPS    Y6, Y5, Y6       // s·t; the caller multiplies by g

// func vecExpAVX512(dst, src *float32, n int)
TEXT ·vecExpAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LOADC512
	CMPQ CX, $16
	JB   tail
loop:
	VMOVUPS (SI), Z4
	OPEXP512
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	OPEXP512
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func vecSigmoidAVX512(dst, src *float32, n int)
TEXT ·vecSigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LOADC512
	CMPQ CX, $16
	JB   tail
loop:
	VMOVUPS (SI), Z4
	OPSIGMOID512
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	OPSIGMOID512
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func vecSiLUAVX512(dst, src *float32, n int)
TEXT ·vecSiLUAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LOADC512
	CMPQ CX, $16
	JB   tail
loop:
	VMOVUPS (SI), Z4
	OPSILU512
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	OPSILU512
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func vecSiLUGradAVX512(dst, x, dy *float32, n int)
TEXT ·vecSiLUGradAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	LOADC512
	CMPQ CX, $16
	JB   tail
loop:
	VMOVUPS (SI), Z4
	VMOVUPS (DX), Z7
	OPSILUGRAD512
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (DX), K1, Z7
	OPSILUGRAD512
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func vecAddBiasSiLUAVX512(dst, src, bias *float32, n int)
TEXT ·vecAddBiasSiLUAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	LOADC512
	CMPQ CX, $16
	JB   tail
loop:
	VMOVUPS (SI), Z4
	VADDPS  (DX), Z4, Z4
	OPSILU512
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1
	VMOVUPS.Z (SI), K1, Z4
	VMOVUPS.Z (DX), K1, Z5
	VADDPS    Z5, Z4, Z4
	OPSILU512
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func vecExpAVX2(dst, src *float32, n int)
TEXT ·vecExpAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LOADC256
	CMPQ CX, $8
	JB   tail
loop:
	VMOVUPS (SI), Y4
	OPEXP256
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	LEAQ  vecmask<>(SB), AX
	MOVQ  $8, BX
	SUBQ  CX, BX
	VMOVDQU (AX)(BX*4), Y7
	VMASKMOVPS (SI), Y7, Y4
	OPEXP256
	VMASKMOVPS Y0, Y7, (DI)
done:
	VZEROUPPER
	RET

// func vecSigmoidAVX2(dst, src *float32, n int)
TEXT ·vecSigmoidAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LOADC256
	CMPQ CX, $8
	JB   tail
loop:
	VMOVUPS (SI), Y4
	OPSIGMOID256
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	LEAQ  vecmask<>(SB), AX
	MOVQ  $8, BX
	SUBQ  CX, BX
	VMOVDQU (AX)(BX*4), Y7
	VMASKMOVPS (SI), Y7, Y4
	OPSIGMOID256
	VMASKMOVPS Y0, Y7, (DI)
done:
	VZEROUPPER
	RET

// func vecSiLUAVX2(dst, src *float32, n int)
TEXT ·vecSiLUAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	LOADC256
	CMPQ CX, $8
	JB   tail
loop:
	VMOVUPS (SI), Y4
	OPSILU256
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	LEAQ  vecmask<>(SB), AX
	MOVQ  $8, BX
	SUBQ  CX, BX
	VMOVDQU (AX)(BX*4), Y7
	VMASKMOVPS (SI), Y7, Y4
	OPSILU256
	VMASKMOVPS Y0, Y7, (DI)
done:
	VZEROUPPER
	RET

// func vecSiLUGradAVX2(dst, x, dy *float32, n int)
TEXT ·vecSiLUGradAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ dy+16(FP), DX
	MOVQ n+24(FP), CX
	LOADC256
	CMPQ CX, $8
	JB   tail
loop:
	VMOVUPS (SI), Y4
	OPSILUGRAD256
	VMULPS  (DX), Y6, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	LEAQ  vecmask<>(SB), AX
	MOVQ  $8, BX
	SUBQ  CX, BX
	VMOVDQU (AX)(BX*4), Y7
	VMASKMOVPS (SI), Y7, Y4
	OPSILUGRAD256
	VMASKMOVPS (DX), Y7, Y2
	VMULPS     Y2, Y6, Y0
	VMASKMOVPS Y0, Y7, (DI)
done:
	VZEROUPPER
	RET

// func vecAddBiasSiLUAVX2(dst, src, bias *float32, n int)
TEXT ·vecAddBiasSiLUAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ bias+16(FP), DX
	MOVQ n+24(FP), CX
	LOADC256
	CMPQ CX, $8
	JB   tail
loop:
	VMOVUPS (SI), Y4
	VADDPS  (DX), Y4, Y4
	OPSILU256
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DX
	ADDQ    $32, DI
	SUBQ    $8, CX
	CMPQ    CX, $8
	JAE     loop
tail:
	TESTQ CX, CX
	JZ    done
	LEAQ  vecmask<>(SB), AX
	MOVQ  $8, BX
	SUBQ  CX, BX
	VMOVDQU (AX)(BX*4), Y7
	VMASKMOVPS (SI), Y7, Y4
	VMASKMOVPS (DX), Y7, Y5
	VADDPS     Y5, Y4, Y4
	OPSILU256
	VMASKMOVPS Y0, Y7, (DI)
done:
	VZEROUPPER
	RET
