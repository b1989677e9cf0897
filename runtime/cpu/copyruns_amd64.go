//go:build !purego

package cpu

import xcpu "golang.org/x/sys/cpu"

// hasAVX says whether the AVX moves of copyRuns16 and copyRuns32 can run (set at
// package initialisation, never changed).
var hasAVX = xcpu.X86.HasAVX

// copyRuns16 writes d[t·16 : t·16+16] = src[t : t+16] for t < m, with 32-byte moves
// where the CPU has them.
func copyRuns16(d, src []float32, m int) {
	if m <= 0 {
		return
	}
	_, _ = d[16*m-1], src[m+14]
	if hasAVX {
		copyRuns16AVX(&d[0], &src[0], m)
		return
	}
	copyRuns16Go(d, src, m)
}

// copyRuns32 writes d[t·32 : t·32+32] = src[t : t+32] for t < m, with 32-byte moves
// where the CPU has them.
func copyRuns32(d, src []float32, m int) {
	if m <= 0 {
		return
	}
	_, _ = d[32*m-1], src[m+30]
	if hasAVX {
		copyRuns32AVX(&d[0], &src[0], m)
		return
	}
	copyRuns32Go(d, src, m)
}

//go:noescape
func copyRuns32AVX(d, src *float32, m int)

//go:noescape
func copyRuns16AVX(d, src *float32, m int)

// transposeRows writes d[k·w + j] = rows[j][k] for k < kc when w = len(rows) is a
// multiple of 4 (8×8 AVX transposes where the CPU has them and w is a multiple of
// 8), and reports whether it did.
func transposeRows(d []float32, rows [][]float32, kc int) bool {
	w := len(rows)
	if !hasAVX || w%8 != 0 || kc < 8 {
		return transposeRowsGo(d, rows, kc)
	}
	d = d[:kc*w]
	blocks := kc / 8
	for j := 0; j < w; j += 8 {
		var p [8]*float32
		for i := range p {
			_ = rows[j+i][kc-1]
			p[i] = &rows[j+i][0]
		}
		transpose8AVX(&d[j], w, &p, blocks)
		for i, r := range rows[j : j+8] {
			for k := blocks * 8; k < kc; k++ {
				d[k*w+j+i] = r[k]
			}
		}
	}
	return true
}

//go:noescape
func transpose8AVX(d *float32, ld int, rows *[8]*float32, blocks int)
