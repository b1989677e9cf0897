//go:build !amd64 || purego

package cpu

// vecImpls maps each Kernel to its elementwise-math implementation; nil
// means not available. Without assembly only the portable one exists.
var vecImpls = [...]*vecKernels{
	KernelGeneric: vecGeneric,
	KernelAVX2:    nil,
	KernelAVX512:  nil,
}
