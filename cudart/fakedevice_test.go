package cudart

// The whole Device on this machine: CUDA memory calls are Go functions over simMem,
// kernels run in the PTX simulator, GEMMs in plain Go. Every Device method is compared
// with runtime.CPU, which checks the Go side (argument order, pointer offsets,
// chunking, the fallback plumbing) without a GPU.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"ocm/runtime"
	"ocm/runtime/philox"
)

func newFakeDevice(t *testing.T) *Device {
	mem := &simMem{bufs: map[uint64][]float32{}}
	lib := fakeLib(t, mem)
	d := &Device{lib: lib, name: "fake", alloc: allocator{free: map[int][]uintptr{}},
		host: runtime.NewCPU(runtime.CPUOptions{}), args: new(argBlock),
		unaryFns: map[runtime.UnaryOp]uintptr{}, binaryFns: map[runtime.BinaryOp]uintptr{},
		randomFns: map[runtime.Distribution]uintptr{}}
	d.alloc.stats.FallbackByOp = map[string]int64{}
	entries := simModules()
	byID := map[uintptr]*ptxEntry{}
	for _, m := range ptxModules {
		d.bindModule(m.name, func(name string) uintptr {
			e := entries[name]
			if e == nil {
				return 0
			}
			id := uintptr(len(byID) + 1)
			byID[id] = e
			return id
		})
	}
	d.hookLaunch = func(fn uintptr, args []uint64) { runEntry(t, byID[fn], args, mem) }
	d.hookGemm = func(C, A, B uintptr, g *runtime.GemmArgs) { fakeGemm(mem, C, A, B, g) }
	return d
}

// fakeLib is a Lib whose memory calls are Go functions over mem.
func fakeLib(t *testing.T, mem *simMem) *Lib {
	f32s := func(p unsafe.Pointer, n uintptr) []float32 { return unsafe.Slice((*float32)(p), n/4) }
	copyDev := func(dst, src uintptr, n uintptr) {
		tmp := make([]float32, n/4) // memmove semantics
		for i := range tmp {
			tmp[i] = *mem.at(uint64(src) + uint64(4*i))
		}
		for i, v := range tmp {
			*mem.at(uint64(dst) + uint64(4*i)) = v
		}
	}
	return &Lib{
		cuCtxSetCurrent: func(uintptr) int32 { return 0 },
		cudaMalloc: func(p *uintptr, size uintptr) int32 {
			*p = uintptr(mem.add(make([]float32, size/4)))
			return 0
		},
		cudaFree:         func(uintptr) int32 { return 0 },
		cudaGetLastError: func() int32 { return 0 },
		cudaMemcpyH2D: func(dst uintptr, src unsafe.Pointer, n uintptr, kind int32, _ uintptr) int32 {
			if kind != 1 {
				t.Fatalf("H2D kind %d", kind)
			}
			for i, v := range f32s(src, n) {
				*mem.at(uint64(dst) + uint64(4*i)) = v
			}
			return 0
		},
		cudaMemcpyD2H: func(dst unsafe.Pointer, src uintptr, n uintptr, kind int32, _ uintptr) int32 {
			if kind != 2 {
				t.Fatalf("D2H kind %d", kind)
			}
			out := f32s(dst, n)
			for i := range out {
				out[i] = *mem.at(uint64(src) + uint64(4*i))
			}
			return 0
		},
		cudaMemcpyD2D: func(dst, src, n uintptr, kind int32, _ uintptr) int32 {
			if kind != 3 {
				t.Fatalf("D2D kind %d", kind)
			}
			copyDev(dst, src, n)
			return 0
		},
		cudaMemcpy2DAsync: func(dst, dpitch, src, spitch, width, height uintptr, kind int32, _ uintptr) int32 {
			if kind != 3 || dpitch < width || spitch < width {
				t.Fatalf("cudaMemcpy2D: kind %d, pitches %d %d, width %d", kind, dpitch, spitch, width)
			}
			for r := range height {
				copyDev(dst+r*dpitch, src+r*spitch, width)
			}
			return 0
		},
		cudaMemsetAsync: func(p uintptr, v int32, n uintptr, _ uintptr) int32 {
			for i := range n / 4 {
				*mem.at(uint64(p) + uint64(4*i)) = 0
			}
			return 0
		},
		cuMemsetD32Async: func(p uintptr, v uint32, n uintptr, _ uintptr) int32 {
			for i := range n {
				*mem.at(uint64(p) + uint64(4*i)) = math.Float32frombits(v)
			}
			return 0
		},
		cudaStreamSynchronize: func(uintptr) int32 { return 0 },
	}
}

// fakeGemm is the batched row-major product in plain Go (float32 accumulation).
func fakeGemm(mem *simMem, C, A, B uintptr, g *runtime.GemmArgs) {
	at := func(base uintptr, i int) *float32 { return mem.at(uint64(base) + uint64(4*i)) }
	for bt := range g.Batch {
		for i := range g.M {
			for j := range g.N {
				s := float32(0)
				for k := range g.K {
					ai := i*g.K + k
					if g.TransA {
						ai = k*g.M + i
					}
					bi := k*g.N + j
					if g.TransB {
						bi = j*g.K + k
					}
					s += *at(A, bt*g.StrideA+ai) * *at(B, bt*g.StrideB+bi)
				}
				c := at(C, bt*g.StrideC+i*g.N+j)
				if g.Beta == 0 {
					*c = g.Alpha * s
				} else {
					*c = g.Alpha*s + g.Beta**c
				}
			}
		}
	}
}

func TestFakeDevice(t *testing.T) {
	d := newFakeDevice(t)
	r := rand.New(rand.NewPCG(21, 22))
	cmp := func(what string, p pair, atol, rtol float64) { compare(t, what, d, p, atol, rtol) }

	x := newPair(d, randn(r, 300, 1))
	cmp("upload", x, 0, 0)
	d.Fill(x.g, -1.5)
	cpuDev.Fill(x.c, -1.5)
	cmp("fill", x, 0, 0)
	z := pair{g: d.Alloc(77, true), c: cpuDev.Alloc(77, true), n: 77}
	cmp("alloc zero", z, 0, 0)
	src := newPair(d, randn(r, 4000, 1))
	for _, c := range []struct{ dOff, dStride, sOff, sStride, blen, nb int }{
		{0, 0, 0, 0, 4000, 1}, {5, 100, 7, 90, 80, 30}, {1, 3, 2, 7, 3, 100},
	} {
		dst := newPair(d, make([]float32, 5000))
		d.CopyBlocks(dst.g, c.dOff, c.dStride, src.g, c.sOff, c.sStride, c.blen, c.nb)
		cpuDev.CopyBlocks(dst.c, c.dOff, c.dStride, src.c, c.sOff, c.sStride, c.blen, c.nb)
		cmp(fmt.Sprintf("copyblocks %+v", c), dst, 0, 0)
	}

	for _, op := range []runtime.UnaryOp{runtime.OpAffine, runtime.OpSiLU, runtime.OpClamp} {
		a, o := newPair(d, randn(r, 257, 2)), newPair(d, make([]float32, 257))
		d.Unary(op, o.g, a.g, 0.5, 1.5)
		cpuDev.Unary(op, o.c, a.c, 0.5, 1.5)
		cmp("unary "+op.String(), o, 1e-6, 1e-5)
	}
	for _, s := range [][2][]int{{{4, 5, 6}, {5, 1}}, {{2, 1, 2, 1, 2, 1, 2, 1}, {2, 1, 2, 1, 2, 1, 2}}} {
		l := layout(s[0], s[1])
		a, b := newPair(d, randn(r, numel(s[0]), 1)), newPair(d, randn(r, numel(s[1]), 1))
		o := newPair(d, make([]float32, numel(l.Shape)))
		d.Binary(runtime.OpMul, o.g, a.g, b.g, l)
		cpuDev.Binary(runtime.OpMul, o.c, a.c, b.c, l)
		cmp(fmt.Sprintf("binary mul %v", s), o, 0, 0)
	}
	{
		b := layout([]int{3, 1}, []int{3, 4})
		l := &runtime.Broadcast{Shape: []int{3, 4}, XStrides: b.XStrides}
		a, o := newPair(d, randn(r, 3, 1)), newPair(d, make([]float32, 12))
		d.Expand(o.g, a.g, l)
		cpuDev.Expand(o.c, a.c, l)
		cmp("expand", o, 0, 0)
	}

	g := &runtime.GemmArgs{TransA: true, Batch: 2, M: 5, N: 4, K: 3, Alpha: 1.5, Beta: 0.5, StrideA: 15, StrideB: 0, StrideC: 20}
	ga, gb, gc := newPair(d, randn(r, 30, 1)), newPair(d, randn(r, 12, 1)), newPair(d, randn(r, 40, 1))
	d.Gemm(gc.g, ga.g, gb.g, g)
	cpuDev.Gemm(gc.c, ga.c, gb.c, g)
	cmp("gemm", gc, 1e-5, 1e-5)

	p4 := newPair(d, randn(r, 120, 1))
	pp := newPair(d, make([]float32, 120))
	d.Permute(pp.g, p4.g, []int{2, 3, 4, 5}, []int{3, 1, 0, 2})
	cpuDev.Permute(pp.c, p4.c, []int{2, 3, 4, 5}, []int{3, 1, 0, 2})
	cmp("permute", pp, 0, 0)
	up, us := newPair(d, make([]float32, 4*p4.n)), newPair(d, make([]float32, p4.n))
	d.Upsample2x(up.g, p4.g, 2*3, 4, 5)
	cpuDev.Upsample2x(up.c, p4.c, 2*3, 4, 5)
	cmp("upsample2x", up, 0, 0)
	d.Upsample2xBackward(us.g, up.g, 2*3, 4, 5)
	cpuDev.Upsample2xBackward(us.c, up.c, 2*3, 4, 5)
	cmp("upsample2x backward", us, 0, 0)

	if st := d.Stats(); st.Fallbacks != 1 { // binary rank 8
		t.Errorf("fallbacks %d (%v), want 1", st.Fallbacks, st.FallbackByOp)
	}
}

// Convolutions, Adam, random numbers, reductions, GroupNorm and softmax on the fake
// device against runtime.CPU.
func TestFakeDeviceNNOps(t *testing.T) {
	d := newFakeDevice(t)
	r := rand.New(rand.NewPCG(23, 24))
	cmp := func(what string, p pair, atol, rtol float64) { compare(t, what, d, p, atol, rtol) }
	p4 := newPair(d, randn(r, 120, 1))
	for _, cols := range []int{1 << 26, 600} { // one chunk, then chunks of a few images
		convColLimit = cols
		c := runtime.ConvGeometry([]int{3, 2, 7, 6}, []int{4, 2, 3, 3}, 2, 1)
		cx, cw := newPair(d, randn(r, 3*2*7*6, 1)), newPair(d, randn(r, 4*2*3*3, 1))
		cy := newPair(d, make([]float32, c.N*c.Cout*c.OutH*c.OutW))
		d.Conv2d(cy.g, cx.g, cw.g, c)
		cpuDev.Conv2d(cy.c, cx.c, cw.c, c)
		cmp(fmt.Sprintf("conv2d cols=%d", cols), cy, 1e-4, 1e-4)
		d.Conv2dInputGrad(cx.g, cy.g, cw.g, c)
		cpuDev.Conv2dInputGrad(cx.c, cy.c, cw.c, c)
		cmp(fmt.Sprintf("conv2d input grad cols=%d", cols), cx, 1e-4, 1e-4)
		d.Conv2dWeightGrad(cw.g, cy.g, cx.g, c)
		cpuDev.Conv2dWeightGrad(cw.c, cy.c, cx.c, c)
		cmp(fmt.Sprintf("conv2d weight grad cols=%d", cols), cw, 1e-3, 1e-4)
	}
	convColLimit = 1 << 26

	ap, ag, am, av := newPair(d, randn(r, 50, 1)), newPair(d, randn(r, 50, 1)), newPair(d, make([]float32, 50)), newPair(d, make([]float32, 50))
	aa := &runtime.AdamArgs{LR: 1e-2, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, WeightDecay: 0.1, Step: 2}
	d.Adam(ap.g, ag.g, am.g, av.g, aa)
	cpuDev.Adam(ap.c, ag.c, am.c, av.c, aa)
	cmp("adam p", ap, 0, 0)
	cmp("adam m", am, 0, 0)
	cmp("adam v", av, 0, 0)

	for _, dist := range []runtime.Distribution{runtime.Uniform, runtime.Normal, runtime.Rademacher} {
		rp := newPair(d, make([]float32, 101))
		key := philox.Key{Seed: 3, Stream: 1 << 33}
		d.Random(rp.g, dist, key, 1<<32-2)
		cpuDev.Random(rp.c, dist, key, 1<<32-2)
		cmp("random "+dist.String(), rp, 0, 0)
	}

	// Reductions, GroupNorm and softmax (nn.ptx; more cases in TestFakeDeviceNN).
	o := newPair(d, make([]float32, 15))
	d.Reduce(runtime.ReduceSum, o.g, p4.g, []int{2, 3, 4, 5}, []bool{true, false, true, false})
	cpuDev.Reduce(runtime.ReduceSum, o.c, p4.c, []int{2, 3, 4, 5}, []bool{true, false, true, false})
	cmp("reduce", o, 0, 0)
	ga2 := &runtime.GroupNormArgs{N: 2, C: 4, HW: 15, Groups: 2, Eps: 1e-5}
	gy, mean, rstd := newPair(d, make([]float32, 120)), newPair(d, make([]float32, 4)), newPair(d, make([]float32, 4))
	d.GroupNorm(gy.g, mean.g, rstd.g, p4.g, nil, nil, ga2)
	cpuDev.GroupNorm(gy.c, mean.c, rstd.c, p4.c, nil, nil, ga2)
	cmp("groupnorm", gy, 0, 0)
	cmp("groupnorm rstd", rstd, 0, 0)
	sm := newPair(d, make([]float32, 120))
	d.Softmax(sm.g, p4.g, 8, 15)
	cpuDev.Softmax(sm.c, p4.c, 8, 15)
	cmp("softmax", sm, 0, 0)

	st := d.Stats()
	t.Logf("stats: %+v", st)
	if st.Fallbacks != 0 {
		t.Errorf("fallbacks %d (%v), want 0", st.Fallbacks, st.FallbackByOp)
	}
}
