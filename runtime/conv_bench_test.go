package runtime

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// The convolutions of unet-s at batch 16, by the device's own choice of path
// ("grid"), by im2col, and by the implicit GEMM where the device would not take it
// ("forcegrid"),
// in GFLOP/s of CPU time (user + system) and of the fastest call (both steadier
// than the mean wall time on a shared machine):
//
//	go test ./runtime -run '^$' -bench ConvPaths -benchtime 10x

func procCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkConvPaths(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	shapes := []struct{ n, c, hw, cout, k, stride int }{
		{16, 64, 28, 64, 3, 1}, {16, 128, 14, 128, 3, 1}, {16, 256, 7, 128, 3, 1},
		{16, 128, 7, 128, 1, 1}, {16, 64, 28, 64, 3, 2},
	}
	for _, s := range shapes {
		a := ConvGeometry([]int{s.n, s.c, s.hw, s.hw}, []int{s.cout, s.c, s.k, s.k}, s.stride, s.k/2)
		x, w := randBuf(r, s.n*s.c*s.hw*s.hw), randBuf(r, s.cout*s.c*s.k*s.k)
		dy := randBuf(r, s.n*s.cout*a.OutH*a.OutW)
		flops := 2 * float64(s.n*a.OutH*a.OutW) * float64(s.cout*s.c*s.k*s.k)
		for _, path := range []string{"grid", "im2col", "forcegrid"} {
			d := NewCPU(CPUOptions{Im2col: path == "im2col"})
			d.forceGrid = path == "forcegrid"
			if d.forceGrid && (s.stride != 1 || gridOK(NewCPU(CPUOptions{}), a)) {
				continue // the same as "grid"
			}
			ops := []struct {
				name string
				out  *cpuBuf
				run  func(out Buffer)
			}{
				{"fwd", nanBuf(len(dy.d)), func(o Buffer) { d.Conv2d(o, x, w, a) }},
				{"dx", nanBuf(len(x.d)), func(o Buffer) { d.Conv2dInputGrad(o, dy, w, a) }},
				{"dw", nanBuf(len(w.d)), func(o Buffer) { d.Conv2dWeightGrad(o, dy, x, a) }},
			}
			for _, op := range ops {
				name := fmt.Sprintf("%s/%dx%dx%d-%d/k%ds%d/%s", op.name, s.n, s.c, s.hw, s.cout, s.k, s.stride, path)
				b.Run(name, func(b *testing.B) {
					op.run(op.out)
					c0, best := procCPU(), time.Duration(1<<62)
					for b.Loop() {
						t0 := time.Now()
						op.run(op.out)
						best = min(best, time.Since(t0))
					}
					cpu := (procCPU() - c0).Seconds() / float64(b.N)
					b.ReportMetric(flops/cpu/1e9, "cpuGF/s")
					b.ReportMetric(flops/best.Seconds()/1e9, "bestGF/s")
				})
			}
		}
	}
}
