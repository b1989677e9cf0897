package cudart

// Neural-network ops: convolutions (im2col + cuBLAS), reductions, GroupNorm, softmax.

import (
	"ocm/runtime"
)

// convColLimit bounds the im2col scratch of one chunk of images (values); a variable
// so that tests can force chunking.
var convColLimit = 1 << 26

// convChunk returns how many images one im2col chunk holds, or 0 when the kernels
// cannot take the convolution (missing module, 32-bit index overflow).
func (d *Device) convChunk(c *runtime.ConvArgs) int {
	per := c.C * c.KH * c.KW * c.OutH * c.OutW
	if d.im2colFn == 0 || d.col2imFn == 0 || per > maxKernelN || c.C*c.H*c.W > maxKernelN/2 {
		return 0
	}
	return max(1, min(c.N, convColLimit/per, maxKernelN/(c.C*c.H*c.W)))
}

// Conv2d computes y = conv(x, w) as im2col and a batched GEMM per chunk of images:
// y_n (Cout × OH·OW) = w (Cout × C·KH·KW) · col_n.
func (d *Device) Conv2d(y, x, w runtime.Buffer, c *runtime.ConvArgs) {
	nb := d.convChunk(c)
	if nb == 0 || c.N == 0 {
		d.fallback("conv2d", []runtime.Buffer{y, x, w}, 1, func(h []runtime.Buffer) {
			d.host.Conv2d(h[0], h[1], h[2], c)
		})
		return
	}
	Y, X, W := buf(y), buf(x), buf(w)
	ckk, ohw, chw := c.C*c.KH*c.KW, c.OutH*c.OutW, c.C*c.H*c.W
	col := buf(d.Alloc(nb*ckk*ohw, false))
	defer d.Free(col)
	d.enter()
	defer d.leave()
	for n0 := 0; n0 < c.N; n0 += nb {
		k := min(nb, c.N-n0)
		d.launch(d.im2colFn, k*ckk*ohw, convArgs(col.ptr, X.ptr+uintptr(n0*chw*4), k*ckk*ohw, c)...)
		d.gemm(Y.ptr+uintptr(n0*c.Cout*ohw*4), W.ptr, col.ptr, &runtime.GemmArgs{Batch: k, M: c.Cout, N: ohw, K: ckk,
			Alpha: 1, StrideA: 0, StrideB: ckk * ohw, StrideC: c.Cout * ohw})
	}
}

// Conv2dInputGrad computes dx: dcol_n = wᵀ · dy_n (batched GEMM), then col2im.
func (d *Device) Conv2dInputGrad(dx, dy, w runtime.Buffer, c *runtime.ConvArgs) {
	nb := d.convChunk(c)
	if nb == 0 || c.N == 0 {
		d.fallback("conv2d_input_grad", []runtime.Buffer{dx, dy, w}, 1, func(h []runtime.Buffer) {
			d.host.Conv2dInputGrad(h[0], h[1], h[2], c)
		})
		return
	}
	DX, DY, W := buf(dx), buf(dy), buf(w)
	ckk, ohw, chw := c.C*c.KH*c.KW, c.OutH*c.OutW, c.C*c.H*c.W
	dcol := buf(d.Alloc(nb*ckk*ohw, false))
	defer d.Free(dcol)
	d.enter()
	defer d.leave()
	for n0 := 0; n0 < c.N; n0 += nb {
		k := min(nb, c.N-n0)
		d.gemm(dcol.ptr, W.ptr, DY.ptr+uintptr(n0*c.Cout*ohw*4), &runtime.GemmArgs{TransA: true, Batch: k, M: ckk, N: ohw, K: c.Cout,
			Alpha: 1, StrideA: 0, StrideB: c.Cout * ohw, StrideC: ckk * ohw})
		d.launch(d.col2imFn, k*chw, convArgs(DX.ptr+uintptr(n0*chw*4), dcol.ptr, k*chw, c)...)
	}
}

// Conv2dWeightGrad computes dw = Σ_n dy_n · col_nᵀ with one GEMM per chunk of images:
// im2col, then both dy_chunk (k, Cout, OH·OW) and col (k, C·KH·KW, OH·OW) are gathered
// to (Cout, k·OH·OW) and (C·KH·KW, k·OH·OW) with the binary_copy kernel, so that
// dw = dyᵀ-chunk · colᵀ is one product with K = k·OH·OW (β = 0 for the first chunk).
func (d *Device) Conv2dWeightGrad(dw, dy, x runtime.Buffer, c *runtime.ConvArgs) {
	nb := d.convChunk(c)
	if nb == 0 || c.N == 0 || d.expandFn == 0 || nb*c.Cout*c.OutH*c.OutW > maxKernelN {
		d.fallback("conv2d_weight_grad", []runtime.Buffer{dw, dy, x}, 1, func(h []runtime.Buffer) {
			d.host.Conv2dWeightGrad(h[0], h[1], h[2], c)
		})
		return
	}
	DW, DY, X := buf(dw), buf(dy), buf(x)
	ckk, ohw, chw := c.C*c.KH*c.KW, c.OutH*c.OutW, c.C*c.H*c.W
	col := buf(d.Alloc(nb*ckk*ohw, false))
	colT := buf(d.Alloc(nb*ckk*ohw, false))
	dyT := buf(d.Alloc(nb*c.Cout*ohw, false))
	defer d.Free(col)
	defer d.Free(colT)
	defer d.Free(dyT)
	d.enter()
	defer d.leave()
	// swap gathers src (k, rows, ohw) into dst (rows, k, ohw).
	swap := func(dst, src uintptr, k, rows int) {
		l := runtime.PermuteLayout([]int{k, rows, ohw}, []int{1, 0, 2})
		meta, _ := broadcastArgs(l, make([]int, 3))
		d.launch(d.expandFn, k*rows*ohw, binaryArgs(dst, src, src, k*rows*ohw, meta)...)
	}
	for n0 := 0; n0 < c.N; n0 += nb {
		k := min(nb, c.N-n0)
		d.launch(d.im2colFn, k*ckk*ohw, convArgs(col.ptr, X.ptr+uintptr(n0*chw*4), k*ckk*ohw, c)...)
		swap(colT.ptr, col.ptr, k, ckk)
		swap(dyT.ptr, DY.ptr+uintptr(n0*c.Cout*ohw*4), k, c.Cout)
		beta := float32(1)
		if n0 == 0 {
			beta = 0
		}
		d.gemm(DW.ptr, dyT.ptr, colT.ptr, &runtime.GemmArgs{TransB: true, Batch: 1, M: c.Cout, N: ckk, K: k * ohw, Alpha: 1, Beta: beta})
	}
}

// nnKernels are the entries of nn.ptx (0: missing, the op runs on the host).
type nnKernels struct {
	reduce                       map[runtime.ReduceOp]uintptr
	reducePart                   map[runtime.ReduceOp][2]uintptr // two-pass: part, final
	softmax, softmaxBackward     uintptr
	groupNorm, groupNormBackward uintptr
	groupNormTangent             uintptr
	groupNormParamGrads          [2]uintptr // two passes: per (sample, channel), per channel
}

// names lists the loaded entries.
func (k *nnKernels) names() []string {
	var out []string
	for op := range k.reduce {
		out = append(out, "reduce_"+op.String())
	}
	for op := range k.reducePart {
		out = append(out, "reduce_"+op.String()+"_part", "reduce_"+op.String()+"_final")
	}
	for _, e := range []struct {
		name string
		fn   uintptr
	}{{"softmax", k.softmax}, {"softmax_backward", k.softmaxBackward}, {"groupnorm", k.groupNorm},
		{"groupnorm_backward", k.groupNormBackward}, {"groupnorm_param_grads_part", k.groupNormParamGrads[0]},
		{"groupnorm_param_grads_final", k.groupNormParamGrads[1]},
		{"groupnorm_tangent", k.groupNormTangent}} {
		if e.fn != 0 {
			out = append(out, e.name)
		}
	}
	return out
}

// ptr is b's device pointer as a kernel parameter, 0 for a nil buffer.
func ptr(b runtime.Buffer) uint64 {
	if g := buf(b); g != nil {
		return uint64(g.ptr)
	}
	return 0
}

// reduceLayout splits a reduction into the kept axes (shape and strides into src, in
// output order) and the reduced ones, after dropping unit axes and merging neighbours
// that are both kept or both reduced, as runtime.CPU does; inner is the length of the
// innermost reduced run when the innermost axis is reduced (the CPU sums it first),
// else 1. ok is false when either part has more than 6 axes.
func reduceLayout(shape []int, reduced []bool) (kept, keptStr, red, redStr []int, inner int, ok bool) {
	var dims []int
	var isRed []bool
	for i, n := range shape {
		if n == 1 {
			continue
		}
		if k := len(dims) - 1; k >= 0 && isRed[k] == reduced[i] {
			dims[k] *= n
			continue
		}
		dims, isRed = append(dims, n), append(isRed, reduced[i])
	}
	stride, inner := 1, 1
	for i := len(dims) - 1; i >= 0; i-- {
		if isRed[i] {
			red, redStr = append([]int{dims[i]}, red...), append([]int{stride}, redStr...)
		} else {
			kept, keptStr = append([]int{dims[i]}, kept...), append([]int{stride}, keptStr...)
		}
		stride *= dims[i]
	}
	if len(dims) > 0 && isRed[len(dims)-1] {
		inner = dims[len(dims)-1]
	}
	return kept, keptStr, red, redStr, inner, len(kept) <= 6 && len(red) <= 6 && stride <= maxKernelN
}

// pad6 packs up to 6 axes as kernel parameters, leading unit axes first.
func pad6(shape, strides []int) (s, st []uint64) {
	s, st = make([]uint64, 6), make([]uint64, 6)
	for i := range 6 {
		s[i] = 1
	}
	off := 6 - len(shape)
	for i := range shape {
		s[off+i], st[off+i] = uint64(shape[i]), uint64(strides[i])
	}
	return s, st
}

// longReduction is the reduced length from which Reduce splits each output over
// several threads (two passes) instead of one.
const longReduction = 4096

// Reduce sums or maximises over the marked axes with float64 accumulation: one thread
// per output in the CPU's order (reduce_<op>), or for long reductions, parts of 1024+
// values per thread and then their sum per output (reduce_<op>_part, _final).
func (d *Device) Reduce(op runtime.ReduceOp, dst, src runtime.Buffer, shape []int, reduced []bool) {
	kept, ks, red, rs, inner, ok := reduceLayout(shape, reduced)
	fn := d.nnFns.reduce[op]
	if !ok || fn == 0 {
		d.fallback("reduce_"+op.String(), []runtime.Buffer{dst, src}, 1, func(h []runtime.Buffer) {
			d.host.Reduce(op, h[0], h[1], shape, reduced)
		})
		return
	}
	o := buf(dst)
	if o.n == 0 {
		return
	}
	nRed := 1
	for _, n := range red {
		nRed *= n
	}
	k, kst := pad6(kept, ks)
	r, rst := pad6(red, rs)
	layout := append(append(append(k, kst...), r...), rst...)
	two, ok2 := d.nnFns.reducePart[op]
	if nRed <= longReduction || !ok2 {
		args := append([]uint64{uint64(o.ptr), ptr(src), uint64(o.n), uint64(nRed), uint64(inner)}, layout...)
		d.enter()
		defer d.leave()
		d.launch(fn, o.n, args...)
		return
	}
	parts := max(1, min((nRed+1023)/1024, (1<<16)/o.n))
	chunk := (nRed + parts - 1) / parts
	part := buf(d.Alloc(2*o.n*parts, false)) // float64 partial results
	defer d.Free(part)
	d.enter()
	defer d.leave()
	d.launch(two[0], o.n*parts, append([]uint64{uint64(part.ptr), ptr(src), uint64(o.n * parts), uint64(nRed), uint64(parts), uint64(chunk)}, layout...)...)
	d.launch(two[1], o.n, uint64(o.ptr), uint64(part.ptr), uint64(o.n), uint64(parts))
}

// gnFits reports whether the GroupNorm kernels take g (32-bit indices).
func gnFits(fn uintptr, g *runtime.GroupNormArgs) bool {
	return fn != 0 && g.N*g.C*g.HW <= maxKernelN && g.Groups > 0 && g.C%g.Groups == 0
}

// GroupNorm normalises over groups (the groupnorm kernel: one thread per (sample,
// group), the CPU's shifted float64 moments).
func (d *Device) GroupNorm(y, mean, rstd, x, gamma, beta runtime.Buffer, g *runtime.GroupNormArgs) {
	if !gnFits(d.nnFns.groupNorm, g) {
		d.fallback("groupnorm", []runtime.Buffer{y, mean, rstd, x, gamma, beta}, 0b111, func(h []runtime.Buffer) {
			d.host.GroupNorm(h[0], h[1], h[2], h[3], h[4], h[5], g)
		})
		return
	}
	rows := g.N * g.Groups
	if rows == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(d.nnFns.groupNorm, rows, ptr(y), ptr(mean), ptr(rstd), ptr(x), ptr(gamma), ptr(beta),
		uint64(rows), uint64(g.C/g.Groups), uint64(g.HW), uint64(g.Groups), f32(g.Eps))
}

// GroupNormBackward computes dx and accumulates dgamma, dbeta: the parameter
// gradients first (one thread per (sample, channel), then one per channel), as dx may
// overwrite dy, then dx (one thread per (sample, group)).
func (d *Device) GroupNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma runtime.Buffer, g *runtime.GroupNormArgs) {
	if !gnFits(d.nnFns.groupNormBackward, g) || d.nnFns.groupNormParamGrads[0] == 0 || d.nnFns.groupNormParamGrads[1] == 0 {
		d.fallback("groupnorm_backward", []runtime.Buffer{dx, dgamma, dbeta, dy, x, mean, rstd, gamma}, 0b111, func(h []runtime.Buffer) {
			d.host.GroupNormBackward(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], g)
		})
		return
	}
	rows := g.N * g.Groups
	if rows == 0 {
		return
	}
	var part *Buffer
	if buf(dgamma) != nil || buf(dbeta) != nil {
		part = buf(d.Alloc(4*g.N*g.C, false)) // two doubles per (sample, channel)
		defer d.Free(part)
	}
	d.enter()
	defer d.leave()
	if part != nil {
		d.launch(d.nnFns.groupNormParamGrads[0], g.N*g.C, uint64(part.ptr), ptr(dy), ptr(x), ptr(mean), ptr(rstd),
			uint64(g.N*g.C), uint64(g.C), uint64(g.HW), uint64(g.Groups))
		d.launch(d.nnFns.groupNormParamGrads[1], g.C, ptr(dgamma), ptr(dbeta), uint64(part.ptr), uint64(g.C), uint64(g.N))
	}
	d.launch(d.nnFns.groupNormBackward, rows, ptr(dx), ptr(dy), ptr(x), ptr(mean), ptr(rstd), ptr(gamma),
		uint64(rows), uint64(g.C/g.Groups), uint64(g.HW), uint64(g.Groups))
}

// GroupNormTangent computes the forward-mode tangent (one thread per (sample, group)).
func (d *Device) GroupNormTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma runtime.Buffer, g *runtime.GroupNormArgs) {
	if !gnFits(d.nnFns.groupNormTangent, g) {
		d.fallback("groupnorm_tangent", []runtime.Buffer{ty, tx, tgamma, tbeta, x, mean, rstd, gamma}, 1, func(h []runtime.Buffer) {
			d.host.GroupNormTangent(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], g)
		})
		return
	}
	rows := g.N * g.Groups
	if rows == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(d.nnFns.groupNormTangent, rows, ptr(ty), ptr(tx), ptr(tgamma), ptr(tbeta), ptr(x), ptr(mean), ptr(rstd), ptr(gamma),
		uint64(rows), uint64(g.C/g.Groups), uint64(g.HW), uint64(g.Groups))
}

// Softmax normalises rows (one thread per row; the CPU's float32 exp and float64 sum).
func (d *Device) Softmax(y, x runtime.Buffer, rows, cols int) {
	if d.nnFns.softmax == 0 || rows*cols > maxKernelN || cols < 1 {
		d.fallback("softmax", []runtime.Buffer{y, x}, 1, func(h []runtime.Buffer) {
			d.host.Softmax(h[0], h[1], rows, cols)
		})
		return
	}
	if rows == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(d.nnFns.softmax, rows, ptr(y), ptr(x), uint64(rows), uint64(cols))
}

// SoftmaxBackward applies the softmax Jacobian (one thread per row).
func (d *Device) SoftmaxBackward(dx, y, g runtime.Buffer, rows, cols int) {
	if d.nnFns.softmaxBackward == 0 || rows*cols > maxKernelN || cols < 1 {
		d.fallback("softmax_backward", []runtime.Buffer{dx, y, g}, 1, func(h []runtime.Buffer) {
			d.host.SoftmaxBackward(h[0], h[1], h[2], rows, cols)
		})
		return
	}
	if rows == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(d.nnFns.softmaxBackward, rows, ptr(dx), ptr(y), ptr(g), uint64(rows), uint64(cols))
}
