//go:build !amd64 || purego

package cpu

// sgemmKernels maps each Kernel to its implementation; nil means not
// available. Without assembly only the portable kernel exists.
var sgemmKernels = [...]*sgemmKernel{
	KernelGeneric: sgemmGeneric,
	KernelAVX2:    nil,
	KernelAVX512:  nil,
}
