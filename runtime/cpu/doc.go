// Package cpu holds the CPU compute kernels of ocm: a BLIS/GotoBLAS-style
// single-precision GEMM with AVX2/FMA and AVX-512 micro-kernels written in Go
// assembly (see Gemm.Sgemm), and the elementwise, normalisation and
// convolution helpers that the CPU device builds on.
//
// The package never uses cgo. The assembly is in the files named *_amd64.s,
// guarded by the build constraint "!purego"; building with -tags purego (or for
// any GOARCH other than amd64) selects the portable Go kernels instead. That
// tag follows the Go-wide convention (also used by golang.org/x/crypto) for
// "no assembly" builds; it is unrelated to the github.com/ebitengine/purego
// library, which the rest of ocm may use to call C libraries without cgo.
package cpu
