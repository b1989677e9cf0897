package runtime

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// The convolutions of unet-s at batch 16, by the device's own choice of path
// ("auto": Winograd for the 3×3 stride-1 ones), by im2col, and by the implicit GEMM
// where the device would not take it ("grid"),
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
		for _, path := range []string{"auto", "im2col", "grid"} {
			d := NewCPU(CPUOptions{Im2col: path == "im2col"})
			d.forceGrid = path == "grid"
			if auto := NewCPU(CPUOptions{}); d.forceGrid && (s.stride != 1 || !winogradOK(auto, a) && gridOK(auto, a)) {
				continue // the same as "auto"
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

// BenchmarkConvResidual compares a convolution whose bias and residual are added
// where its output is stored (Conv2dBiasAdd, "fused") with Conv2dBias followed by
// Add ("composed"), at the residual blocks' convolutions of unet-s (batch 16), both
// variants in one process:
//
//	go test ./runtime -run '^$' -bench ConvResidual -benchtime 20x -count 3
func BenchmarkConvResidual(b *testing.B) {
	shapes := []struct{ n, c, hw, k int }{{16, 64, 28, 3}, {16, 128, 14, 3}, {16, 256, 7, 3}, {16, 128, 14, 1}}
	d := NewCPU(CPUOptions{})
	for i, s := range shapes {
		x, w := randomT(uint64(4*i+1), s.n, s.c, s.hw, s.hw), randomT(uint64(4*i+2), s.c, s.c, s.k, s.k)
		bias, res := randomT(uint64(4*i+3), s.c), randomT(uint64(4*i+4), s.n, s.c, s.hw, s.hw)
		x, w, bias, res = onDevice(d, x), onDevice(d, w), onDevice(d, bias), onDevice(d, res)
		for _, v := range []struct {
			name string
			run  func() *Tensor
		}{
			{"fused", func() *Tensor { return Conv2dBiasAdd(x, w, bias, res, 1, s.k/2) }},
			{"composed", func() *Tensor { return Add(Conv2dBias(x, w, bias, 1, s.k/2), res) }},
		} {
			b.Run(fmt.Sprintf("%dx%dx%d/k%d/%s", s.n, s.c, s.hw, s.k, v.name), func(b *testing.B) {
				v.run()
				c0, best := procCPU(), time.Duration(1<<62)
				for b.Loop() {
					t0 := time.Now()
					v.run()
					best = min(best, time.Since(t0))
				}
				b.ReportMetric(float64((procCPU()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(best.Microseconds())/1e3, "best-ms")
			})
		}
	}
}
