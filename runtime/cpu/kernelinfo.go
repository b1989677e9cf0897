package cpu

import "fmt"

// KernelInfo describes one GEMM micro-kernel as this build and CPU have it, read from
// the tables the GEMM itself dispatches on (so a report of the tiles cannot drift from
// the kernels).
type KernelInfo struct {
	Kernel Kernel
	// Features names the instruction sets the kernel needs ("AVX-512F", "AVX2+FMA"),
	// or "" for the portable Go kernel.
	Features string
	// Available is Kernel.Available(): this CPU has the instructions and this build has
	// the assembly.
	Available bool
	// MR×NR is the register tile of C that one micro-kernel call computes; KC, MC and NC
	// are the cache blocks of K, M and N. All five are 0 when the kernel is not
	// available (a build without its assembly has no such kernel to describe).
	MR, NR, KC, MC, NC int
	// VecMath is true when exp, sigmoid and SiLU have kernels written with these
	// instructions (for the generic kernel: the portable Go loops); the best available
	// set runs them.
	VecMath bool
	// Adam is true when Adam has a vector kernel for these instructions (it runs
	// whenever it is available, whatever the GEMM kernel).
	Adam bool
}

// kernelFeatures names the instructions each kernel needs: the conditions under which
// sgemm_amd64.go makes it available.
func kernelFeatures(k Kernel) string {
	switch k {
	case KernelAVX2:
		return "AVX2+FMA"
	case KernelAVX512:
		return "AVX-512F"
	}
	return ""
}

// Info describes kernel k; an unknown k gives a KernelInfo with only Kernel set.
func (k Kernel) Info() KernelInfo {
	info := KernelInfo{Kernel: k, Features: kernelFeatures(k), Available: k.Available()}
	if !info.Available {
		return info
	}
	s := sgemmKernels[k]
	info.MR, info.NR, info.KC, info.MC, info.NC = s.mr, s.nr, s.kc, s.mc, s.nc
	info.VecMath = vecKernelsFor(k) != nil
	info.Adam = k == KernelAVX512 && adamAVX512 != nil
	return info
}

// Tile returns the register tile as "MR×NR" ("12×32"), or "" when the kernel is not
// available.
func (i KernelInfo) Tile() string {
	if !i.Available {
		return ""
	}
	return fmt.Sprintf("%d×%d", i.MR, i.NR)
}

// String is a one-line description: "avx512 (AVX-512F, 12×32 tiles)", "generic
// (portable Go, 4×4 tiles)" or "avx2 (AVX2+FMA, not available)".
func (i KernelInfo) String() string {
	f := i.Features
	if f == "" {
		f = "portable Go"
	}
	if !i.Available {
		return fmt.Sprintf("%v (%s, not available)", i.Kernel, f)
	}
	return fmt.Sprintf("%v (%s, %s tiles)", i.Kernel, f, i.Tile())
}

// Kernels describes every GEMM kernel, fastest first (the order BestKernel tries them).
func Kernels() []KernelInfo {
	return []KernelInfo{KernelAVX512.Info(), KernelAVX2.Info(), KernelGeneric.Info()}
}
