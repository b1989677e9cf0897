//go:build !purego

// The packing moves of the grid convolutions (see copyruns_amd64.go).

#include "textflag.h"

// func copyRuns32AVX(d, src *float32, m int)
TEXT ·copyRuns32AVX(SB), NOSPLIT, $0-24
	MOVQ  d+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  m+16(FP), CX
	TESTQ CX, CX
	JZ    done32

loop32:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $4, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     loop32
	VZEROUPPER

done32:
	RET

// func copyRuns16AVX(d, src *float32, m int)
TEXT ·copyRuns16AVX(SB), NOSPLIT, $0-24
	MOVQ  d+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  m+16(FP), CX
	TESTQ CX, CX
	JZ    done16

loop16:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    $4, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     loop16
	VZEROUPPER

done16:
	RET

// func transpose8AVX(d *float32, ld int, rows *[8]*float32, blocks int)
//
// For b < blocks and i, j < 8: d[(8b+i)·ld + j] = rows[j][8b+i], an 8×8 transpose
// of each block of eight values of the eight rows.
TEXT ·transpose8AVX(SB), NOSPLIT, $0-32
	MOVQ  d+0(FP), DI
	MOVQ  ld+8(FP), BX
	SHLQ  $2, BX
	MOVQ  rows+16(FP), SI
	MOVQ  blocks+24(FP), CX
	XORQ  AX, AX
	TESTQ CX, CX
	JZ    donet

loopt:
	MOVQ    0(SI), R8
	VMOVUPS (R8)(AX*1), Y0
	MOVQ    8(SI), R8
	VMOVUPS (R8)(AX*1), Y1
	MOVQ    16(SI), R8
	VMOVUPS (R8)(AX*1), Y2
	MOVQ    24(SI), R8
	VMOVUPS (R8)(AX*1), Y3
	MOVQ    32(SI), R8
	VMOVUPS (R8)(AX*1), Y4
	MOVQ    40(SI), R8
	VMOVUPS (R8)(AX*1), Y5
	MOVQ    48(SI), R8
	VMOVUPS (R8)(AX*1), Y6
	MOVQ    56(SI), R8
	VMOVUPS (R8)(AX*1), Y7
	VUNPCKLPS  Y1, Y0, Y8
	VUNPCKHPS  Y1, Y0, Y9
	VUNPCKLPS  Y3, Y2, Y10
	VUNPCKHPS  Y3, Y2, Y11
	VUNPCKLPS  Y5, Y4, Y12
	VUNPCKHPS  Y5, Y4, Y13
	VUNPCKLPS  Y7, Y6, Y14
	VUNPCKHPS  Y7, Y6, Y15
	VSHUFPS    $0x44, Y10, Y8, Y0
	VSHUFPS    $0xEE, Y10, Y8, Y1
	VSHUFPS    $0x44, Y11, Y9, Y2
	VSHUFPS    $0xEE, Y11, Y9, Y3
	VSHUFPS    $0x44, Y14, Y12, Y4
	VSHUFPS    $0xEE, Y14, Y12, Y5
	VSHUFPS    $0x44, Y15, Y13, Y6
	VSHUFPS    $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ       DI, DX
	VMOVUPS Y8, (DX)
	ADDQ    BX, DX
	VMOVUPS Y9, (DX)
	ADDQ    BX, DX
	VMOVUPS Y10, (DX)
	ADDQ    BX, DX
	VMOVUPS Y11, (DX)
	ADDQ    BX, DX
	VMOVUPS Y12, (DX)
	ADDQ    BX, DX
	VMOVUPS Y13, (DX)
	ADDQ    BX, DX
	VMOVUPS Y14, (DX)
	ADDQ    BX, DX
	VMOVUPS Y15, (DX)
	ADDQ       $32, AX
	LEAQ       (DI)(BX*8), DI
	DECQ       CX
	JNZ        loopt
	VZEROUPPER

donet:
	RET
