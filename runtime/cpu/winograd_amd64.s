//go:build !purego

#include "textflag.h"

// Permutation indices (VPERMT2PS): the even and the odd lanes of two vectors, and
// the interleaving of two vectors' low and high halves.
DATA winoEven<>+0(SB)/4, $0
DATA winoEven<>+4(SB)/4, $2
DATA winoEven<>+8(SB)/4, $4
DATA winoEven<>+12(SB)/4, $6
DATA winoEven<>+16(SB)/4, $8
DATA winoEven<>+20(SB)/4, $10
DATA winoEven<>+24(SB)/4, $12
DATA winoEven<>+28(SB)/4, $14
DATA winoEven<>+32(SB)/4, $16
DATA winoEven<>+36(SB)/4, $18
DATA winoEven<>+40(SB)/4, $20
DATA winoEven<>+44(SB)/4, $22
DATA winoEven<>+48(SB)/4, $24
DATA winoEven<>+52(SB)/4, $26
DATA winoEven<>+56(SB)/4, $28
DATA winoEven<>+60(SB)/4, $30
GLOBL winoEven<>(SB), RODATA, $64

DATA winoOdd<>+0(SB)/4, $1
DATA winoOdd<>+4(SB)/4, $3
DATA winoOdd<>+8(SB)/4, $5
DATA winoOdd<>+12(SB)/4, $7
DATA winoOdd<>+16(SB)/4, $9
DATA winoOdd<>+20(SB)/4, $11
DATA winoOdd<>+24(SB)/4, $13
DATA winoOdd<>+28(SB)/4, $15
DATA winoOdd<>+32(SB)/4, $17
DATA winoOdd<>+36(SB)/4, $19
DATA winoOdd<>+40(SB)/4, $21
DATA winoOdd<>+44(SB)/4, $23
DATA winoOdd<>+48(SB)/4, $25
DATA winoOdd<>+52(SB)/4, $27
DATA winoOdd<>+56(SB)/4, $29
DATA winoOdd<>+60(SB)/4, $31
GLOBL winoOdd<>(SB), RODATA, $64

DATA winoLo<>+0(SB)/4, $0
DATA winoLo<>+4(SB)/4, $16
DATA winoLo<>+8(SB)/4, $1
DATA winoLo<>+12(SB)/4, $17
DATA winoLo<>+16(SB)/4, $2
DATA winoLo<>+20(SB)/4, $18
DATA winoLo<>+24(SB)/4, $3
DATA winoLo<>+28(SB)/4, $19
DATA winoLo<>+32(SB)/4, $4
DATA winoLo<>+36(SB)/4, $20
DATA winoLo<>+40(SB)/4, $5
DATA winoLo<>+44(SB)/4, $21
DATA winoLo<>+48(SB)/4, $6
DATA winoLo<>+52(SB)/4, $22
DATA winoLo<>+56(SB)/4, $7
DATA winoLo<>+60(SB)/4, $23
GLOBL winoLo<>(SB), RODATA, $64

DATA winoHi<>+0(SB)/4, $8
DATA winoHi<>+4(SB)/4, $24
DATA winoHi<>+8(SB)/4, $9
DATA winoHi<>+12(SB)/4, $25
DATA winoHi<>+16(SB)/4, $10
DATA winoHi<>+20(SB)/4, $26
DATA winoHi<>+24(SB)/4, $11
DATA winoHi<>+28(SB)/4, $27
DATA winoHi<>+32(SB)/4, $12
DATA winoHi<>+36(SB)/4, $28
DATA winoHi<>+40(SB)/4, $13
DATA winoHi<>+44(SB)/4, $29
DATA winoHi<>+48(SB)/4, $14
DATA winoHi<>+52(SB)/4, $30
DATA winoHi<>+56(SB)/4, $15
DATA winoHi<>+60(SB)/4, $31
GLOBL winoHi<>(SB), RODATA, $64

// WINOSTRIDES loads the four leading fields every transform's arguments at BX start
// with: the stride between the sixteen transformed matrices (R8) and between
// channels in them (R9), the plane size (R10), all in bytes, and the channel count
// (CX).
#define WINOSTRIDES \
	MOVQ 0(BX), R8; \
	SHLQ $2, R8; \
	MOVQ 8(BX), R9; \
	SHLQ $2, R9; \
	MOVQ 16(BX), R10; \
	SHLQ $2, R10; \
	MOVQ 24(BX), CX

// One row k of the patches of up to 16 tiles: its columns c0 .. c0+47 loaded under
// the masks at mask(BX) (zero where masked), then split into the tiles' columns
// q = 0..3 (d0: c0+2j, d1: c0+2j+1, d2: c0+2j+2, d3: c0+2j+3 for tile j).
#define WINOROW(off, mask, d0, d1, d2, d3) \
	KMOVW   mask+0(BX), K1; \
	VMOVUPS.Z (SI)(off*1), K1, Z16; \
	KMOVW   mask+2(BX), K1; \
	VMOVUPS.Z 64(SI)(off*1), K1, Z17; \
	KMOVW   mask+4(BX), K1; \
	VMOVUPS.Z 128(SI)(off*1), K1, Z18; \
	VMOVAPS Z16, d0; \
	VPERMT2PS Z17, Z28, d0; \
	VMOVAPS Z16, d1; \
	VPERMT2PS Z17, Z29, d1; \
	VALIGND $1, d0, Z18, d2; \
	VALIGND $1, Z18, Z18, Z18; \
	VALIGND $1, d1, Z18, d3

// (e0, e1, e2, e3) = (e0 − e2, e1 + e2, e2 − e1, e1 − e3): Bᵀ applied in place.
#define WINOB(e0, e1, e2, e3) \
	VSUBPS e1, e2, Z19; \
	VSUBPS e2, e0, e0; \
	VSUBPS e3, e1, e3; \
	VADDPS e2, e1, e1; \
	VMOVAPS Z19, e2

// WINOSTORE4 stores z0..z3 under mask K4 at AX, AX + R8, AX + 2·R8, AX + 3·R8 and
// leaves AX at AX + 4·R8: four of the sixteen transformed values of a channel, R8
// bytes apart.
#define WINOSTORE4(z0, z1, z2, z3) \
	VMOVUPS z0, K4, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS z1, K4, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS z2, K4, (AX); \
	ADDQ    R8, AX; \
	VMOVUPS z3, K4, (AX); \
	ADDQ    R8, AX

// WINOBSTORE applies Bᵀ·d·B to one channel's patches d[4·k + q] in Z(4k + q), stores
// V under K4 at DI (R8 bytes between the sixteen), and moves SI and DI to the next
// channel (R10 and R9 bytes on).
#define WINOBSTORE \
	WINOB(Z0, Z4, Z8, Z12); \
	WINOB(Z1, Z5, Z9, Z13); \
	WINOB(Z2, Z6, Z10, Z14); \
	WINOB(Z3, Z7, Z11, Z15); \
	WINOB(Z0, Z1, Z2, Z3); \
	WINOB(Z4, Z5, Z6, Z7); \
	WINOB(Z8, Z9, Z10, Z11); \
	WINOB(Z12, Z13, Z14, Z15); \
	MOVQ    DI, AX; \
	WINOSTORE4(Z0, Z1, Z2, Z3); \
	WINOSTORE4(Z4, Z5, Z6, Z7); \
	WINOSTORE4(Z8, Z9, Z10, Z11); \
	WINOSTORE4(Z12, Z13, Z14, Z15); \
	ADDQ    R10, SI; \
	ADDQ    R9, DI

// func winoInputAVX512(v, x *float32, a *winoIn)
TEXT ·winoInputAVX512(SB), NOSPLIT, $0-24
	MOVQ    v+0(FP), DI
	MOVQ    x+8(FP), SI
	MOVQ    a+16(FP), BX
	WINOSTRIDES
	MOVQ    32(BX), R11 // rowOff
	SHLQ    $2, R11
	MOVQ    40(BX), R12
	SHLQ    $2, R12
	MOVQ    48(BX), R13
	SHLQ    $2, R13
	MOVQ    56(BX), R14
	SHLQ    $2, R14
	KMOVW   88(BX), K4 // store
	VMOVUPS winoEven<>(SB), Z28
	VMOVUPS winoOdd<>(SB), Z29
inloop:
	WINOROW(R11, 64, Z0, Z1, Z2, Z3)
	WINOROW(R12, 70, Z4, Z5, Z6, Z7)
	WINOROW(R13, 76, Z8, Z9, Z10, Z11)
	WINOROW(R14, 82, Z12, Z13, Z14, Z15)
	WINOBSTORE
	DECQ    CX
	JNZ     inloop
	VZEROUPPER
	RET

// NROW loads patch row lo/ro of one group of a narrow input run into d0..d3: the
// row's window (offset at ro(BX), load mask at lo(BX)) permuted into the group's
// lanes (kreg) by the column indices in Z24..Z27.
#define NROW(lo, ro, kreg, d0, d1, d2, d3) \
	KMOVW   lo(BX), K5; \
	MOVQ    ro(BX), AX; \
	VMOVUPS.Z (SI)(AX*4), K5, Z16; \
	VPERMPS Z16, Z24, kreg, d0; \
	VPERMPS Z16, Z25, kreg, d1; \
	VPERMPS Z16, Z26, kreg, d2; \
	VPERMPS Z16, Z27, kreg, d3

// NGROUP loads patch rows 0..3 of one group into Z0..Z15 (NROW).
#define NGROUP(lo, ro, kreg) \
	NROW(lo+0, ro+0, kreg, Z0, Z1, Z2, Z3); \
	NROW(lo+2, ro+8, kreg, Z4, Z5, Z6, Z7); \
	NROW(lo+4, ro+16, kreg, Z8, Z9, Z10, Z11); \
	NROW(lo+6, ro+24, kreg, Z12, Z13, Z14, Z15)

// func winoInputNarrowAVX512(v, x *float32, a *winoInN)
//
// The narrow run's groups: per patch row k, the group's sixteen-column window under
// its load mask, permuted (VPERMPS by idx[q]) into the group's lanes only; then Bᵀ·d·B
// and the stores as in winoInputAVX512.
TEXT ·winoInputNarrowAVX512(SB), NOSPLIT, $0-24
	MOVQ      v+0(FP), DI
	MOVQ      x+8(FP), SI
	MOVQ      a+16(FP), BX
	WINOSTRIDES
	MOVQ      32(BX), DX // groups
	VMOVDQU32 168(BX), Z24 // idx
	VMOVDQU32 232(BX), Z25
	VMOVDQU32 296(BX), Z26
	VMOVDQU32 360(BX), Z27
	KMOVW     456(BX), K1 // lanes
	KMOVW     458(BX), K2
	KMOVW     460(BX), K3
	KMOVW     462(BX), K6
	KMOVW     464(BX), K4 // store
narrowloop:
	NGROUP(424, 40, K1)
	CMPQ    DX, $1
	JEQ     narrowb
	NGROUP(432, 72, K2)
	CMPQ    DX, $2
	JEQ     narrowb
	NGROUP(440, 104, K3)
	CMPQ    DX, $3
	JEQ     narrowb
	NGROUP(448, 136, K6)
narrowb:
	WINOBSTORE
	DECQ    CX
	JNZ     narrowloop
	VZEROUPPER
	RET

// y = (a + b) + c and z = (b − c) − d: Aᵀ applied to (a, b, c, d).
#define WINOA(a, b, c, d, y, z) \
	VADDPS b, a, y; \
	VADDPS c, y, y; \
	VSUBPS c, b, z; \
	VSUBPS d, z, z

// WINOOUTY computes Y = Aᵀ·M·A (+ bias) of one channel of a run: M[ξ] loaded
// from SI + ξ·R8 under K1, the bias from R13 when flag 1 of R14 is set; output row 0's
// interleaved columns in Z0 (0..15) and Z1 (16..31), row 1's in Z2 and Z3.
#define WINOOUTY \
	MOVQ    SI, AX; \
	VMOVUPS.Z (AX), K1, Z0; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z1; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z2; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z3; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z4; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z5; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z6; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z7; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z8; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z9; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z10; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z11; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z12; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z13; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z14; \
	ADDQ    R8, AX; \
	VMOVUPS.Z (AX), K1, Z15; \
	WINOA(Z0, Z4, Z8, Z12, Z16, Z20); \
	WINOA(Z1, Z5, Z9, Z13, Z17, Z21); \
	WINOA(Z2, Z6, Z10, Z14, Z18, Z22); \
	WINOA(Z3, Z7, Z11, Z15, Z19, Z23); \
	WINOA(Z16, Z17, Z18, Z19, Z24, Z25); \
	WINOA(Z20, Z21, Z22, Z23, Z26, Z27); \
	TESTQ   $1, R14; \
	JZ      6(PC); \
	VBROADCASTSS (R13), Z30; \
	VADDPS  Z30, Z24, Z24; \
	VADDPS  Z30, Z25, Z25; \
	VADDPS  Z30, Z26, Z26; \
	VADDPS  Z30, Z27, Z27; \
	VMOVAPS Z24, Z0; \
	VPERMT2PS Z25, Z28, Z0; \
	VMOVAPS Z24, Z1; \
	VPERMT2PS Z25, Z29, Z1; \
	VMOVAPS Z26, Z2; \
	VPERMT2PS Z27, Z28, Z2; \
	VMOVAPS Z26, Z3; \
	VPERMT2PS Z27, Z29, Z3

// func winoOutputAVX512(m, y, res, bias *float32, a *winoOutArgs)
TEXT ·winoOutputAVX512(SB), NOSPLIT, $0-40
	MOVQ    m+0(FP), SI
	MOVQ    y+8(FP), DI
	MOVQ    res+16(FP), DX
	MOVQ    bias+24(FP), R13
	MOVQ    a+32(FP), BX
	WINOSTRIDES
	MOVQ    32(BX), R11 // ow
	SHLQ    $2, R11
	MOVQ    40(BX), R12 // rows
	MOVQ    48(BX), R14 // flags
	KMOVW   56(BX), K1 // load
	KMOVW   58(BX), K2 // store, columns 0..15
	KMOVW   60(BX), K3 // store, columns 16..31
	VMOVUPS winoLo<>(SB), Z28
	VMOVUPS winoHi<>(SB), Z29
outloop:
	WINOOUTY
	TESTQ   $2, R14
	JZ      nores
	VMOVUPS.Z (DX), K2, Z4
	VADDPS  Z4, Z0, Z0
	VMOVUPS.Z 64(DX), K3, Z5
	VADDPS  Z5, Z1, Z1
	CMPQ    R12, $2
	JNE     store
	VMOVUPS.Z (DX)(R11*1), K2, Z6
	VADDPS  Z6, Z2, Z2
	VMOVUPS.Z 64(DX)(R11*1), K3, Z7
	VADDPS  Z7, Z3, Z3
	JMP     store
nores:
	TESTQ   $4, R14
	JZ      store
	VMOVUPS.Z (DI), K2, Z4
	VADDPS  Z0, Z4, Z0
	VMOVUPS.Z 64(DI), K3, Z5
	VADDPS  Z1, Z5, Z1
	CMPQ    R12, $2
	JNE     store
	VMOVUPS.Z (DI)(R11*1), K2, Z6
	VADDPS  Z2, Z6, Z2
	VMOVUPS.Z 64(DI)(R11*1), K3, Z7
	VADDPS  Z3, Z7, Z3
store:
	VMOVUPS Z0, K2, (DI)
	VMOVUPS Z1, K3, 64(DI)
	CMPQ    R12, $2
	JNE     next
	VMOVUPS Z2, K2, (DI)(R11*1)
	VMOVUPS Z3, K3, 64(DI)(R11*1)
next:
	ADDQ    R9, SI
	ADDQ    R10, DI
	ADDQ    R10, DX
	ADDQ    $4, R13
	DECQ    CX
	JNZ     outloop
	VZEROUPPER
	RET

// (y0, y1, y2, y3) = (x0, x0 + x1, x0 − x1, −x1): A applied to (x0, x1); Z31 holds
// the sign bits.
#define WINOAT(x0, x1, y0, y1, y2, y3) \
	VMOVAPS x0, y0; \
	VADDPS x1, x0, y1; \
	VSUBPS x1, x0, y2; \
	VPXORD Z31, x1, y3

// NOPLAIN and NOADD store one group of a narrow output run (winoOutGroup at b(BX)):
// rows 0 (Z0, Z1) and 1 (Z2, Z3) at their offsets under their masks, as they are, or
// plus the values at src (the residual, DX, or y itself, DI: addition commutes, so
// both orders give the wide kernel's bits).
// NOROW points AX at output row r of the group at b(BX) (its offset) and K2, K3 at
// the row's two halves of columns.
#define NOROW(b, r) \
	MOVQ    b+8*r(BX), AX; \
	KMOVW   b+16+4*r(BX), K2; \
	KMOVW   b+18+4*r(BX), K3

#define NOPLAIN(b) \
	NOROW(b, 0); \
	VMOVUPS Z0, K2, (DI)(AX*4); \
	VMOVUPS Z1, K3, 64(DI)(AX*4); \
	NOROW(b, 1); \
	VMOVUPS Z2, K2, (DI)(AX*4); \
	VMOVUPS Z3, K3, 64(DI)(AX*4)

// NOADDROW stores za, zb plus the values at src under K2, K3 at AX.
#define NOADDROW(src, za, zb) \
	VMOVUPS.Z (src)(AX*4), K2, Z4; \
	VADDPS  Z4, za, Z4; \
	VMOVUPS Z4, K2, (DI)(AX*4); \
	VMOVUPS.Z 64(src)(AX*4), K3, Z5; \
	VADDPS  Z5, zb, Z5; \
	VMOVUPS Z5, K3, 64(DI)(AX*4)

#define NOADD(b, src) \
	NOROW(b, 0); \
	NOADDROW(src, Z0, Z1); \
	NOROW(b, 1); \
	NOADDROW(src, Z2, Z3)

// func winoOutputNarrowAVX512(m, y, res, bias *float32, a *winoOutN)
//
// Y of a narrow run's lanes as winoOutputAVX512 computes it, then each group's output
// columns (its lanes' two per tile, in the interleaved vectors) stored at the group's
// rows under its masks: Z0/Z1 at y + off[0], Z2/Z3 at y + off[1].
TEXT ·winoOutputNarrowAVX512(SB), NOSPLIT, $0-40
	MOVQ    m+0(FP), SI
	MOVQ    y+8(FP), DI
	MOVQ    res+16(FP), DX
	MOVQ    bias+24(FP), R13
	MOVQ    a+32(FP), BX
	WINOSTRIDES
	MOVQ    40(BX), R14 // flags
	MOVQ    48(BX), R12 // groups
	KMOVW   56(BX), K1 // load
	VMOVUPS winoLo<>(SB), Z28
	VMOVUPS winoHi<>(SB), Z29
noloop:
	WINOOUTY
	TESTQ   $2, R14
	JNZ     noplainres
	TESTQ   $4, R14
	JNZ     noplainacc
	NOPLAIN(64)
	CMPQ    R12, $1
	JLE     nonext
	NOPLAIN(88)
	CMPQ    R12, $2
	JLE     nonext
	NOPLAIN(112)
	CMPQ    R12, $3
	JLE     nonext
	NOPLAIN(136)
	JMP     nonext
noplainres:
	NOADD(64, DX)
	CMPQ    R12, $1
	JLE     nonext
	NOADD(88, DX)
	CMPQ    R12, $2
	JLE     nonext
	NOADD(112, DX)
	CMPQ    R12, $3
	JLE     nonext
	NOADD(136, DX)
	JMP     nonext
noplainacc:
	NOADD(64, DI)
	CMPQ    R12, $1
	JLE     nonext
	NOADD(88, DI)
	CMPQ    R12, $2
	JLE     nonext
	NOADD(112, DI)
	CMPQ    R12, $3
	JLE     nonext
	NOADD(136, DI)
	JMP     nonext
nonext:
	ADDQ    R9, SI
	ADDQ    R10, DI
	ADDQ    R10, DX
	ADDQ    $4, R13
	DECQ    CX
	JNZ     noloop
	VZEROUPPER
	RET

// WINODMSTORE computes dM = A·dY·Aᵀ from dY[r][b] in Z0 (0, 0), Z1 (0, 1), Z2
// (1, 0), Z3 (1, 1) and stores it under K4 at DI, R8 bytes between the sixteen.
#define WINODMSTORE \
	WINOAT(Z0, Z2, Z4, Z5, Z6, Z7); \
	WINOAT(Z1, Z3, Z8, Z9, Z10, Z11); \
	WINOAT(Z4, Z8, Z12, Z13, Z14, Z15); \
	WINOAT(Z5, Z9, Z16, Z17, Z18, Z19); \
	WINOAT(Z6, Z10, Z20, Z21, Z22, Z23); \
	WINOAT(Z7, Z11, Z24, Z25, Z26, Z27); \
	MOVQ    DI, AX; \
	WINOSTORE4(Z12, Z13, Z14, Z15); \
	WINOSTORE4(Z16, Z17, Z18, Z19); \
	WINOSTORE4(Z20, Z21, Z22, Z23); \
	WINOSTORE4(Z24, Z25, Z26, Z27)

// func winoGradOutAVX512(dm, dy *float32, a *winoDyArgs)
TEXT ·winoGradOutAVX512(SB), NOSPLIT, $0-24
	MOVQ    dm+0(FP), DI
	MOVQ    dy+8(FP), SI
	MOVQ    a+16(FP), BX
	WINOSTRIDES
	MOVQ    32(BX), R11 // ow
	SHLQ    $2, R11
	KMOVW   40(BX), K1 // row 0, columns 0..15
	KMOVW   42(BX), K2 // row 0, columns 16..31
	KMOVW   44(BX), K3 // row 1
	KMOVW   46(BX), K5
	KMOVW   48(BX), K4 // store
	VMOVUPS winoEven<>(SB), Z28
	VMOVUPS winoOdd<>(SB), Z29
	MOVL    $0x80000000, AX
	VPBROADCASTD AX, Z31
dyloop:
	VMOVUPS.Z (SI), K1, Z16
	VMOVUPS.Z 64(SI), K2, Z17
	VMOVAPS Z16, Z0
	VPERMT2PS Z17, Z28, Z0 // dY[0][0]
	VMOVAPS Z16, Z1
	VPERMT2PS Z17, Z29, Z1 // dY[0][1]
	VMOVUPS.Z (SI)(R11*1), K3, Z16
	VMOVUPS.Z 64(SI)(R11*1), K5, Z17
	VMOVAPS Z16, Z2
	VPERMT2PS Z17, Z28, Z2 // dY[1][0]
	VMOVAPS Z16, Z3
	VPERMT2PS Z17, Z29, Z3 // dY[1][1]
	WINODMSTORE
	ADDQ    R10, SI
	ADDQ    R9, DI
	DECQ    CX
	JNZ     dyloop
	VZEROUPPER
	RET

// DNLOAD merges one group's output-gradient row (offset at off(BX), masks at m(BX))
// into Z16 (columns 0..15) and Z17 (16..31).
#define DNLOAD(off, m) \
	MOVQ    off(BX), AX; \
	KMOVW   m(BX), K2; \
	KMOVW   m+2(BX), K3; \
	VMOVUPS (SI)(AX*4), K2, Z16; \
	VMOVUPS 64(SI)(AX*4), K3, Z17

// func winoGradOutNarrowAVX512(dm, dy *float32, a *winoOutN)
//
// dM of a narrow run: each output-gradient row r of the groups loaded under their
// masks into one pair of vectors (zero elsewhere), split into dY[r][0] and dY[r][1],
// then as winoGradOutAVX512.
TEXT ·winoGradOutNarrowAVX512(SB), NOSPLIT, $0-24
	MOVQ    dm+0(FP), DI
	MOVQ    dy+8(FP), SI
	MOVQ    a+16(FP), BX
	WINOSTRIDES
	MOVQ    48(BX), R12 // groups
	KMOVW   56(BX), K4 // the run's lanes
	VMOVUPS winoEven<>(SB), Z28
	VMOVUPS winoOdd<>(SB), Z29
	MOVL    $0x80000000, AX
	VPBROADCASTD AX, Z31
dnloop:
	VXORPS  Z16, Z16, Z16
	VXORPS  Z17, Z17, Z17
	DNLOAD(64, 80)
	CMPQ    R12, $1
	JLE     dn0done
	DNLOAD(88, 104)
	CMPQ    R12, $2
	JLE     dn0done
	DNLOAD(112, 128)
	CMPQ    R12, $3
	JLE     dn0done
	DNLOAD(136, 152)
dn0done:
	VMOVAPS Z16, Z0
	VPERMT2PS Z17, Z28, Z0
	VMOVAPS Z16, Z1
	VPERMT2PS Z17, Z29, Z1
	VXORPS  Z16, Z16, Z16
	VXORPS  Z17, Z17, Z17
	DNLOAD(72, 84)
	CMPQ    R12, $1
	JLE     dn1done
	DNLOAD(96, 108)
	CMPQ    R12, $2
	JLE     dn1done
	DNLOAD(120, 132)
	CMPQ    R12, $3
	JLE     dn1done
	DNLOAD(144, 156)
dn1done:
	VMOVAPS Z16, Z2
	VPERMT2PS Z17, Z28, Z2
	VMOVAPS Z16, Z3
	VPERMT2PS Z17, Z29, Z3
	WINODMSTORE
	ADDQ    R10, SI
	ADDQ    R9, DI
	DECQ    CX
	JNZ     dnloop
	VZEROUPPER
	RET
