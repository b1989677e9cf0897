package cudart

// Neural-network ops: convolutions (im2col + cuBLAS), reductions, GroupNorm, softmax.

import (
	"ocm/runtime"
)

// Reduce sums or maximises over the marked axes (host fallback).
func (d *Device) Reduce(op runtime.ReduceOp, dst, src runtime.Buffer, shape []int, reduced []bool) {
	d.fallback("reduce_"+op.String(), []runtime.Buffer{dst, src}, 1, func(h []runtime.Buffer) {
		d.host.Reduce(op, h[0], h[1], shape, reduced)
	})
}

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

// Conv2dWeightGrad computes dw = Σ_n dy_n · col_nᵀ: im2col per chunk, then one GEMM
// per image accumulating into dw (β = 0 for the first).
func (d *Device) Conv2dWeightGrad(dw, dy, x runtime.Buffer, c *runtime.ConvArgs) {
	nb := d.convChunk(c)
	if nb == 0 || c.N == 0 {
		d.fallback("conv2d_weight_grad", []runtime.Buffer{dw, dy, x}, 1, func(h []runtime.Buffer) {
			d.host.Conv2dWeightGrad(h[0], h[1], h[2], c)
		})
		return
	}
	DW, DY, X := buf(dw), buf(dy), buf(x)
	ckk, ohw, chw := c.C*c.KH*c.KW, c.OutH*c.OutW, c.C*c.H*c.W
	col := buf(d.Alloc(nb*ckk*ohw, false))
	defer d.Free(col)
	d.enter()
	defer d.leave()
	for n0 := 0; n0 < c.N; n0 += nb {
		k := min(nb, c.N-n0)
		d.launch(d.im2colFn, k*ckk*ohw, convArgs(col.ptr, X.ptr+uintptr(n0*chw*4), k*ckk*ohw, c)...)
		for j := range k {
			beta := float32(1)
			if n0+j == 0 {
				beta = 0
			}
			d.gemm(DW.ptr, DY.ptr+uintptr((n0+j)*c.Cout*ohw*4), col.ptr+uintptr(j*ckk*ohw*4), &runtime.GemmArgs{TransB: true,
				Batch: 1, M: c.Cout, N: ckk, K: ohw, Alpha: 1, Beta: beta})
		}
	}
}

// GroupNorm normalises over groups (host fallback).
func (d *Device) GroupNorm(y, mean, rstd, x, gamma, beta runtime.Buffer, g *runtime.GroupNormArgs) {
	d.fallback("groupnorm", []runtime.Buffer{y, mean, rstd, x, gamma, beta}, 0b111, func(h []runtime.Buffer) {
		d.host.GroupNorm(h[0], h[1], h[2], h[3], h[4], h[5], g)
	})
}

// GroupNormBackward computes dx and accumulates dgamma, dbeta (host fallback).
func (d *Device) GroupNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma runtime.Buffer, g *runtime.GroupNormArgs) {
	d.fallback("groupnorm_backward", []runtime.Buffer{dx, dgamma, dbeta, dy, x, mean, rstd, gamma}, 0b111, func(h []runtime.Buffer) {
		d.host.GroupNormBackward(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], g)
	})
}

// GroupNormTangent computes the forward-mode tangent (host fallback).
func (d *Device) GroupNormTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma runtime.Buffer, g *runtime.GroupNormArgs) {
	d.fallback("groupnorm_tangent", []runtime.Buffer{ty, tx, tgamma, tbeta, x, mean, rstd, gamma}, 1, func(h []runtime.Buffer) {
		d.host.GroupNormTangent(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], g)
	})
}

// Softmax normalises rows (host fallback).
func (d *Device) Softmax(y, x runtime.Buffer, rows, cols int) {
	d.fallback("softmax", []runtime.Buffer{y, x}, 1, func(h []runtime.Buffer) {
		d.host.Softmax(h[0], h[1], rows, cols)
	})
}

// SoftmaxBackward applies the softmax Jacobian (host fallback).
func (d *Device) SoftmaxBackward(dx, y, g runtime.Buffer, rows, cols int) {
	d.fallback("softmax_backward", []runtime.Buffer{dx, y, g}, 1, func(h []runtime.Buffer) {
		d.host.SoftmaxBackward(h[0], h[1], h[2], rows, cols)
	})
}
