//go:build !amd64 || purego

package cpu

// adamAVX512 is nil without assembly.
var adamAVX512 func(p, g, m, v []float32, c *adamConsts)
