package cudart

// Launching kernels and GEMMs, the kernels' parameter lists, and the host fallback.

import (
	"math"
	"unsafe"

	"github.com/ebitengine/purego"

	"ocm/runtime"
	"ocm/runtime/philox"
)

// launch runs fn over n elements (grid-stride, 256 threads a block) with the given
// parameters, each in one 8-byte slot (u32 and f32 parameters use the low 4 bytes).
// The caller holds the device (enter).
func (d *Device) launch(fn uintptr, n int, args ...uint64) {
	if d.hookLaunch != nil {
		d.hookLaunch(fn, args)
		d.alloc.mu.Lock()
		d.alloc.stats.Launches++
		d.alloc.mu.Unlock()
		return
	}
	copy(d.args.vals[:], args)
	grid := min((n+blockSize-1)/blockSize, 1<<16)
	d.argsPinner.Pin(d.args) // ptrs hold addresses of vals: keep the block in place during the call
	r, _, _ := purego.SyscallN(d.lib.cuLaunchKernel, fn, uintptr(grid), 1, 1, blockSize, 1, 1, 0, d.stream,
		uintptr(unsafe.Pointer(&d.args.ptrs[0])), 0)
	d.argsPinner.Unpin()
	if rc := int32(r); rc != 0 {
		must(drvErr("cuLaunchKernel", rc))
	}
	d.alloc.mu.Lock()
	d.alloc.stats.Launches++
	d.alloc.mu.Unlock()
	if d.opts.Debug {
		must(rtErr("cudaStreamSynchronize (after a kernel)", d.lib.cudaStreamSynchronize(d.stream)))
	}
}

func f32(v float32) uint64 { return uint64(math.Float32bits(v)) }

// The parameter lists of the kernels, in the order of their .param declarations.

func unaryArgs(dst, src uintptr, n int, p0, p1 float32) []uint64 {
	return []uint64{uint64(dst), uint64(src), uint64(n), f32(p0), f32(p1)}
}

func binaryArgs(dst, x, y uintptr, n int, meta []uint64) []uint64 {
	return append([]uint64{uint64(dst), uint64(x), uint64(y), uint64(n)}, meta...)
}

func adamArgs(p, g, m, v uintptr, n int, a *runtime.AdamArgs) []uint64 {
	bc1 := 1 - math.Pow(float64(a.Beta1), float64(a.Step))
	bc2 := 1 - math.Pow(float64(a.Beta2), float64(a.Step))
	stepSize := float32(float64(a.LR) / bc1)
	rbc2 := float32(1 / math.Sqrt(bc2))
	return []uint64{uint64(p), uint64(g), uint64(m), uint64(v), uint64(n), f32(a.WeightDecay),
		f32(a.Beta1), f32(1 - a.Beta1), f32(a.Beta2), f32(1 - a.Beta2), f32(stepSize), f32(rbc2), f32(a.Eps)}
}

// upsampleLayout is Upsample2x as a gather: dst (nc, h, 2, w, 2) reads src (nc, h, w).
func upsampleLayout(nc, h, w int) *runtime.Broadcast {
	return &runtime.Broadcast{Shape: []int{nc, h, 2, w, 2}, XStrides: []int{h * w, w, 0, 1, 0}}
}

// upsampleBackLayout reads one corner of each 2×2 block of ddst (nc·h rows of 2w×2)
// as an (nc·h, w) matrix; the corners are at offsets 0, 1, 2w, 2w+1.
func upsampleBackLayout(nc, h, w int) *runtime.Broadcast {
	return &runtime.Broadcast{Shape: []int{nc * h, w}, XStrides: []int{4 * w, 2}, YStrides: []int{4 * w, 2}}
}

// convArgs are the parameters of im2col (out = col, in = x, total col values) and
// col2im (out = dx, in = dcol, total dx values).
func convArgs(out, in uintptr, total int, c *runtime.ConvArgs) []uint64 {
	return []uint64{uint64(out), uint64(in), uint64(total), uint64(c.OutW), uint64(c.OutH),
		uint64(c.KW), uint64(c.KH), uint64(c.H), uint64(c.W), uint64(c.Stride), uint64(c.Pad)}
}

func randomArgs(dst uintptr, n int, key philox.Key, offset uint64) []uint64 {
	return []uint64{uint64(dst), uint64(n), offset & math.MaxUint32, offset >> 32,
		key.Seed & math.MaxUint32, key.Seed >> 32, key.Stream & math.MaxUint32, key.Stream >> 32}
}

// maxKernelN bounds the element counts the 32-bit index kernels handle.
const maxKernelN = math.MaxInt32

// broadcastArgs packs the rank-6 shape and strides of a broadcast, or reports false
// when the kernel cannot take it (more than 6 axes after collapsing, or 32-bit overflow).
func broadcastArgs(l *runtime.Broadcast, ys []int) ([]uint64, bool) {
	s, a, b := runtime.CollapseAxes(l.Shape, l.XStrides, ys)
	if len(s) > 6 {
		return nil, false
	}
	out := make([]uint64, 18)
	pad := 6 - len(s)
	for i := range 6 {
		out[i] = 1
	}
	for i := range s {
		if a[i] > math.MaxUint32 || b[i] > math.MaxUint32 || a[i] < 0 || b[i] < 0 {
			return nil, false
		}
		out[pad+i], out[6+pad+i], out[12+pad+i] = uint64(s[i]), uint64(a[i]), uint64(b[i])
	}
	return out, true
}

// Gemm runs the batched row-major product on cuBLAS as the column-major product of the
// transposes: C = op(A)·op(B) row-major is Cᵀ = op(B)ᵀ·op(A)ᵀ column-major, so B is
// passed first, m = N and n = M.
func (d *Device) Gemm(c, a, b runtime.Buffer, g *runtime.GemmArgs) {
	C, A, B := buf(c), buf(a), buf(b)
	if g.M == 0 || g.N == 0 || g.Batch == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.gemm(C.ptr, A.ptr, B.ptr, g)
}

// gemm queues the product on raw device pointers; the caller holds the device.
func (d *Device) gemm(C, A, B uintptr, g *runtime.GemmArgs) {
	if d.hookGemm != nil {
		d.hookGemm(C, A, B, g)
		d.alloc.mu.Lock()
		d.alloc.stats.Gemms++
		d.alloc.mu.Unlock()
		return
	}
	lda, ldb := g.K, g.N
	opA, opB := uintptr(cublasOpN), uintptr(cublasOpN)
	if g.TransA {
		lda, opA = g.M, cublasOpT
	}
	if g.TransB {
		ldb, opB = g.K, cublasOpT
	}
	alpha, beta := g.Alpha, g.Beta
	r, _, _ := purego.SyscallN(d.lib.cublasSgemmStridedBatched, d.blas, opB, opA,
		uintptr(g.N), uintptr(g.M), uintptr(g.K),
		uintptr(unsafe.Pointer(&alpha)),
		B, uintptr(max(ldb, 1)), uintptr(g.StrideB),
		A, uintptr(max(lda, 1)), uintptr(g.StrideA),
		uintptr(unsafe.Pointer(&beta)),
		C, uintptr(g.N), uintptr(g.StrideC),
		uintptr(g.Batch))
	must(blasErr("cublasSgemmStridedBatched", int32(r)))
	d.alloc.mu.Lock()
	d.alloc.stats.Gemms++
	d.alloc.mu.Unlock()
	if d.opts.Debug {
		must(rtErr("cudaStreamSynchronize (after a GEMM)", d.lib.cudaStreamSynchronize(d.stream)))
	}
}

// fallback is the slow path for ops without a GPU kernel: it downloads every operand
// (nil ones stay nil), runs f on host copies with runtime.CPU, and uploads the operands
// whose bit is set in written. Each call is counted in Stats.Fallbacks.
func (d *Device) fallback(op string, bufs []runtime.Buffer, written uint, f func(h []runtime.Buffer)) {
	d.alloc.mu.Lock()
	d.alloc.stats.Fallbacks++
	d.alloc.stats.FallbackByOp[op]++
	d.alloc.mu.Unlock()
	hb := make([]runtime.Buffer, len(bufs))
	hs := make([][]float32, len(bufs))
	for i, b := range bufs {
		g := buf(b)
		if g == nil {
			continue
		}
		hs[i] = make([]float32, g.n)
		d.Download(hs[i], g)
		hb[i] = d.host.Alloc(g.n, false)
		d.host.Upload(hb[i], hs[i])
	}
	f(hb)
	for i, b := range bufs {
		if written&(1<<i) == 0 || hb[i] == nil {
			continue
		}
		d.host.Download(hs[i], hb[i])
		d.Upload(b, hs[i])
	}
}
