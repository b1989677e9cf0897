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
