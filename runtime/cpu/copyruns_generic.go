//go:build !amd64 || purego

package cpu

// copyRuns16 writes d[t·16 : t·16+16] = src[t : t+16] for t < m.
func copyRuns16(d, src []float32, m int) { copyRuns16Go(d, src, m) }

// copyRuns32 writes d[t·32 : t·32+32] = src[t : t+32] for t < m.
func copyRuns32(d, src []float32, m int) { copyRuns32Go(d, src, m) }

// transposeRows writes d[k·w + j] = rows[j][k] for k < kc when w = len(rows) is a
// multiple of 4, and reports whether it did.
func transposeRows(d []float32, rows [][]float32, kc int) bool { return transposeRowsGo(d, rows, kc) }
