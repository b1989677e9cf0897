//go:build !amd64 || purego

package cpu

// gnVector is false without assembly: gnScale and gnCombine run their Go loops.
var gnVector = false

func gnScaleAVX512(y, x *float32, n int, m, a, b float32) { panic("cpu: no AVX-512 GroupNorm kernel") }

func gnCombineAVX512(dst, d, x *float32, n int, m, a, b, c float32) {
	panic("cpu: no AVX-512 GroupNorm kernel")
}

func moments16AVX512(x *float32, n int, k float64, acc *[32]float64) {
	panic("cpu: no AVX-512 GroupNorm kernel")
}

func sumDot16AVX512(d, x *float32, n int, m float64, acc *[32]float64) {
	panic("cpu: no AVX-512 GroupNorm kernel")
}
