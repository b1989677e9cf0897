package runtime

import (
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"sync/atomic"

	"ocm/runtime/cpu"
	"ocm/runtime/philox"
)

// CPU is the Device that runs on the host's cores, with the assembly GEMM of package
// cpu. Its zero value is not usable; call NewCPU.
type CPU struct {
	gemm    cpu.Gemm
	threads int
	im2col  bool // every convolution by im2col (the reference path)
	// forceGrid takes the implicit-GEMM path for every stride-1 convolution it can
	// compute, however narrow (tests).
	forceGrid bool
	// forceWinograd takes the Winograd path for every 3×3 stride-1 convolution it can
	// compute, however few its channels (tests).
	forceWinograd bool
	pool          *cpu.Pool
	poison        bool          // fill buffers allocated without zeroing with NaN (OCM_CPU_POISON=1)
	free          *freeList     // buffers a Recycler handed back
	serial        atomic.Uint64 // buffers allocated so far (the Recycler's marks)
}

// CPUOptions selects the GEMM kernel and thread count of a CPU device.
type CPUOptions struct {
	Kernel  cpu.Kernel // cpu.BestKernel() when ForceKernel is false
	Force   bool       // use Kernel even if a faster one exists
	Threads int        // ≤ 0: all cores (GOMAXPROCS)
	// Im2col computes every convolution by im2col and a GEMM (the reference the
	// implicit-GEMM path of stride-1 convolutions is tested against).
	Im2col bool
	// Pool recycles large buffers through a pool (see CPU.Alloc) instead of
	// allocating every one from the Go heap. Off by default: buffers come back only
	// when the garbage collector finds them unreachable, so the pool needs the heap's
	// headroom on top of its own; measured on the small UNet's training step (batch
	// 64, 2 cores) it saved about 6 % of the CPU time and doubled the peak resident
	// memory (2.9 GB against 1.5 GB).
	Pool bool
}

// cpuFreeLimit bounds the recycled memory a CPU device keeps for reuse.
func cpuFreeLimit() int64 { return min(physicalMemory()/8, 2<<30) }

// cpuPoolLimit bounds the free memory a CPU device's pool keeps.
func cpuPoolLimit() int64 { return min(physicalMemory()/4, 8<<30) }

// NewCPU returns a CPU device.
func NewCPU(o CPUOptions) *CPU {
	k := cpu.BestKernel()
	if o.Force {
		if !o.Kernel.Available() {
			panic(fmt.Sprintf("runtime: cpu: kernel %v is not available on this CPU", o.Kernel))
		}
		k = o.Kernel
	}
	t := o.Threads
	if t <= 0 {
		t = goruntime.GOMAXPROCS(0)
	}
	d := &CPU{gemm: cpu.Gemm{Kernel: k, Threads: t}, threads: t, im2col: o.Im2col,
		poison: os.Getenv("OCM_CPU_POISON") == "1"}
	if o.Pool {
		d.pool = cpu.NewPool(cpuPoolLimit())
	}
	d.free = newFreeList(cpuFreeLimit())
	return d
}

// Name describes the device and its GEMM kernel.
func (d *CPU) Name() string {
	return fmt.Sprintf("cpu (%v, %d threads)", d.gemm.Kernel, d.threads)
}

// cpuBuf is a CPU device buffer. A pooled one has a slot; when the buffer becomes
// unreachable, a cleanup gives the slot's slice back to the pool unless HostData
// has let it out.
type cpuBuf struct {
	d       []float32
	slot    *poolSlot
	serial  uint64      // allocation number, for Recycler marks
	escaped atomic.Bool // HostData let the slice out: never recycle it
	dead    bool        // recycled: d is nil, and using b panics
}

// poolSlot is what a pooled buffer's cleanup sees (it must not reach the buffer).
type poolSlot struct {
	d       []float32
	escaped atomic.Bool
}

// Len returns the number of values.
func (b *cpuBuf) Len() int { return len(b.d) }

func data(b Buffer) []float32 {
	if b == nil {
		return nil
	}
	c := b.(*cpuBuf)
	if c.dead {
		panic("runtime: a tensor was used after a Recycler handed its memory back")
	}
	return c.d
}

// HostData returns the values of a CPU tensor without copying, for packages that
// implement CPU-only code on top of the runtime; it panics for other devices.
func HostData(t *Tensor) []float32 {
	b, ok := t.buf.(*cpuBuf)
	if !ok {
		panic("runtime: hostdata: tensor is on " + t.dev.Name())
	}
	b.escaped.Store(true) // the caller may keep the slice: never recycle it
	if b.slot != nil {
		b.slot.escaped.Store(true)
	}
	return b.d
}

// Alloc returns a buffer of n values, zeroed when zero is set. Large buffers come
// from the device's pool (memory of buffers that the garbage collector found
// unreachable) and are cleared only when zero is set; with OCM_CPU_POISON=1 in the
// environment, buffers allocated without zero are filled with NaN, so that an op
// which leaves values unwritten shows up in the tests.
func (d *CPU) Alloc(n int, zero bool) Buffer {
	if n >= cpu.PoolMinLen {
		if s := d.free.get(n); s != nil {
			if zero {
				clear(s)
			}
			d.poisonNew(s, zero)
			return &cpuBuf{d: s, serial: d.serial.Add(1)}
		}
	}
	if d.pool == nil || n < cpu.PoolMinLen {
		b := &cpuBuf{d: make([]float32, n), serial: d.serial.Add(1)}
		d.poisonNew(b.d, zero)
		return b
	}
	s, fresh := d.pool.Get(n)
	if zero && !fresh {
		clear(s)
	}
	d.poisonNew(s, zero)
	slot := &poolSlot{d: s}
	b := &cpuBuf{d: s, slot: slot, serial: d.serial.Add(1)}
	pool := d.pool
	goruntime.AddCleanup(b, func(sl *poolSlot) {
		if !sl.escaped.Load() {
			pool.Put(sl.d)
		}
	}, slot)
	return b
}

func (d *CPU) allocMark() uint64 { return d.serial.Load() }

// recyclable: allocated past mark, not from the pool (whose cleanup owns it), large
// enough to keep, and not let out by HostData.
func (d *CPU) recyclable(b Buffer, mark uint64) bool {
	c, ok := b.(*cpuBuf)
	return ok && c.serial > mark && c.slot == nil && len(c.d) >= cpu.PoolMinLen && !c.escaped.Load()
}

// recycle keeps b's slice for reuse and empties b, so that a later use of b panics
// instead of reading memory that another tensor owns.
func (d *CPU) recycle(b Buffer) {
	c := b.(*cpuBuf)
	s := c.d
	c.d, c.dead = nil, true
	d.free.put(s)
}

func (d *CPU) poisonNew(s []float32, zero bool) {
	if d.poison && !zero {
		nan := float32(math.NaN())
		for i := range s {
			s[i] = nan
		}
	}
}

// RecycleStats returns the counters of the buffers Recyclers handed back to d.
func (d *CPU) RecycleStats() RecycleStats { return d.free.stats() }

// DropRecycled lets go of the recycled buffers d keeps for reuse, so that the garbage
// collector can return their memory (they are dropped anyway once unused through a
// whole collection cycle).
func (d *CPU) DropRecycled() { d.free.drop() }

// PoolStats returns the counters of the device's buffer pool (zero without one).
func (d *CPU) PoolStats() cpu.PoolStats {
	if d.pool == nil {
		return cpu.PoolStats{}
	}
	return d.pool.Stats()
}

// Upload copies src into dst.
func (d *CPU) Upload(dst Buffer, src []float32) {
	copy(data(dst), src)
}

// Download copies src into dst.
func (d *CPU) Download(dst []float32, src Buffer) {
	copy(dst, data(src))
}

// Fill sets every value of dst to v.
func (d *CPU) Fill(dst Buffer, v float32) {
	x := data(dst)
	for i := range x {
		x[i] = v
	}
}

// CopyBlocks copies nBlocks strided blocks, split across cores (a single large
// block in pieces).
func (d *CPU) CopyBlocks(dst Buffer, dstOff, dstStride int, src Buffer, srcOff, srcStride, blockLen, nBlocks int) {
	o, s := data(dst), data(src)
	if nBlocks == 1 {
		o, s = o[dstOff:dstOff+blockLen], s[srcOff:srcOff+blockLen]
		cpu.ParallelFor(blockLen, 4*minChunk, func(lo, hi int) { copy(o[lo:hi], s[lo:hi]) })
		return
	}
	cpu.ParallelFor(nBlocks, max(1, 4*minChunk/max(1, blockLen)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			copy(o[dstOff+i*dstStride:dstOff+i*dstStride+blockLen], s[srcOff+i*srcStride:srcOff+i*srcStride+blockLen])
		}
	})
}

// Gemm runs the batched product on the assembly GEMM.
func (d *CPU) Gemm(c, a, b Buffer, g *GemmArgs) {
	lda, ldb := g.K, g.N
	if g.TransA {
		lda = g.M
	}
	if g.TransB {
		ldb = g.K
	}
	d.gemm.SgemmBatched(g.TransA, g.TransB, g.Batch, g.M, g.N, g.K, g.Alpha,
		data(a), lda, g.StrideA, data(b), ldb, g.StrideB, g.Beta, data(c), g.N, g.StrideC)
}

// Upsample2x repeats values into 2×2 blocks.
func (d *CPU) Upsample2x(dst, src Buffer, nc, h, w int) {
	cpu.Upsample2x(data(dst), data(src), nc, h, w)
}

// Upsample2xBackward sums 2×2 blocks.
func (d *CPU) Upsample2xBackward(dsrc, ddst Buffer, nc, h, w int) {
	cpu.Upsample2xBackward(data(dsrc), data(ddst), nc, h, w)
}

// GroupNorm normalises over groups.
func (d *CPU) GroupNorm(y, mean, rstd, x, gamma, beta Buffer, g *GroupNormArgs) {
	cpu.GroupNormForward(data(y), data(mean), data(rstd), data(x), data(gamma), data(beta), g.N, g.C, g.HW, g.Groups, g.Eps)
}

// GroupNormBackward computes the input and parameter gradients.
func (d *CPU) GroupNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Buffer, g *GroupNormArgs) {
	cpu.GroupNormBackward(data(dx), data(dgamma), data(dbeta), data(dy), data(x), data(mean), data(rstd), data(gamma), g.N, g.C, g.HW, g.Groups)
}

// GroupNormTangent computes the forward-mode tangent.
func (d *CPU) GroupNormTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma Buffer, g *GroupNormArgs) {
	cpu.GroupNormTangent(data(ty), data(tx), data(tgamma), data(tbeta), data(x), data(mean), data(rstd), data(gamma), g.N, g.C, g.HW, g.Groups)
}

// GroupNormSiLU normalises over groups and applies SiLU in the same pass.
func (d *CPU) GroupNormSiLU(y, mean, rstd, x, gamma, beta Buffer, g *GroupNormArgs) {
	cpu.GroupNormSiLUForward(data(y), data(mean), data(rstd), data(x), data(gamma), data(beta), g.N, g.C, g.HW, g.Groups, g.Eps)
}

// GroupNormSiLUBackward computes the input and parameter gradients of GroupNormSiLU.
func (d *CPU) GroupNormSiLUBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, beta Buffer, g *GroupNormArgs) {
	cpu.GroupNormSiLUBackward(data(dx), data(dgamma), data(dbeta), data(dy), data(x), data(mean), data(rstd), data(gamma), data(beta), g.N, g.C, g.HW, g.Groups)
}

// GroupNormSiLUTangent computes the forward-mode tangent of GroupNormSiLU.
func (d *CPU) GroupNormSiLUTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma, beta Buffer, g *GroupNormArgs) {
	cpu.GroupNormSiLUTangent(data(ty), data(tx), data(tgamma), data(tbeta), data(x), data(mean), data(rstd), data(gamma), data(beta), g.N, g.C, g.HW, g.Groups)
}

// Softmax normalises rows.
func (d *CPU) Softmax(y, x Buffer, rows, cols int) {
	cpu.Softmax(data(y), data(x), rows, cols)
}

// SoftmaxBackward applies the softmax Jacobian.
func (d *CPU) SoftmaxBackward(dx, y, g Buffer, rows, cols int) {
	cpu.SoftmaxBackward(data(dx), data(y), data(g), rows, cols)
}

// Adam applies one Adam step.
func (d *CPU) Adam(p, g, m, v Buffer, a *AdamArgs) {
	cpu.AdamStep(data(p), data(g), data(m), data(v), a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay, a.Step)
}

// DropoutMask draws a dropout mask from the Philox stream of key in one pass.
func (d *CPU) DropoutMask(dst Buffer, key philox.Key, p, scale float32) {
	key.Mask(data(dst), 0, p, scale)
}

// Random fills dst from the Philox stream of key.
func (d *CPU) Random(dst Buffer, dist Distribution, key philox.Key, offset uint64) {
	switch dist {
	case Uniform:
		key.Uniform(data(dst), offset)
	case Normal:
		key.Normal(data(dst), offset)
	case Rademacher:
		key.Rademacher(data(dst), offset)
	default:
		panic("runtime: random: unknown distribution " + dist.String())
	}
}
