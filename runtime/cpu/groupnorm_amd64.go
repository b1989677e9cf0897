//go:build !purego

package cpu

import xcpu "golang.org/x/sys/cpu"

// gnVector says whether gnScale and gnCombine run their AVX-512F loops. The loops
// perform exactly the float32 operations of the Go loops, in the same order (no FMA),
// so results are bitwise identical; tests switch it off to compare.
var gnVector = xcpu.X86.HasAVX512F

// gnScaleAVX512 computes y[i] = (x[i]-m)*a + b for i < n.
//
//go:noescape
func gnScaleAVX512(y, x *float32, n int, m, a, b float32)

// gnCombineAVX512 computes dst[i] = a*d[i] + b*(x[i]-m) + c for i < n.
//
//go:noescape
func gnCombineAVX512(dst, d, x *float32, n int, m, a, b, c float32)

// moments16AVX512 accumulates shiftedMoments64's sums of n values (a positive
// multiple of 16) by lane: acc[l] and acc[16+l] sum d and d·d over i ≡ l (mod 16).
//
//go:noescape
func moments16AVX512(x *float32, n int, k float64, acc *[32]float64)

// sumDot16AVX512 accumulates sumDot64's sums of n values (a positive multiple of 16)
// by lane, as moments16AVX512 does.
//
//go:noescape
func sumDot16AVX512(d, x *float32, n int, m float64, acc *[32]float64)
