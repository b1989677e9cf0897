package cpu

import (
	"fmt"
	"runtime"
	"strings"

	xcpu "golang.org/x/sys/cpu"
)

// Describe describes the CPU: model and cores, the instructions ocm's kernels use
// (the best kernel runs the GEMMs, the vector exp/sigmoid/SiLU and, with AVX-512F,
// Adam) and which kernels this CPU and build could run.
func Describe(threads int) []string {
	best := BestKernel()
	plural := func(n int, what string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s", what)
		}
		return fmt.Sprintf("%d %ss", n, what)
	}
	lines := []string{fmt.Sprintf("cpu: %s, %s, ocm uses %s", ModelName(),
		plural(runtime.NumCPU(), "logical core"), plural(threads, "thread"))}
	info := best.Info()
	uses := fmt.Sprintf("the SGEMM %s kernel (%s tiles) and vector exp/sigmoid/SiLU", best, info.Tile())
	if info.Adam {
		uses = fmt.Sprintf("the SGEMM %s kernel (%s tiles), vector exp/sigmoid/SiLU and Adam", best, info.Tile())
	}
	if info.Features == "" {
		lines = append(lines, "cpu features used: none, portable Go for "+uses)
	} else {
		lines = append(lines, fmt.Sprintf("cpu features used: %s for %s", info.Features, uses))
	}
	var avail []string
	for _, k := range Kernels() {
		if k.Available {
			avail = append(avail, k.Kernel.String())
		}
	}
	line := "cpu kernels available: " + strings.Join(avail, ", ")
	if runtime.GOARCH == "amd64" && xcpu.X86.HasAVX2 && xcpu.X86.HasFMA && !KernelAVX2.Available() {
		line += " (this CPU has AVX2+FMA but this build has no assembly kernels: built with -tags purego?)"
	}
	return append(lines, line)
}
