package runtime

import "ocm/runtime/cpu"

// gridOK reports whether the convolution c takes the implicit-GEMM path: stride 1,
// a square kernel with Pad ≤ KH − 1 (the input gradient pads dy by KH − 1 − Pad),
// and the device not forced to im2col.
func gridOK(d *CPU, c *ConvArgs) bool {
	return !d.im2col && c.Stride == 1 && c.KH == c.KW && c.Pad <= c.KH-1
}

// gridOf is the forward grid product of c.
func gridOf(c *ConvArgs) cpu.GridConv {
	return cpu.GridConv{N: c.N, C: c.C, Hp: c.H + 2*c.Pad, Wp: c.W + 2*c.Pad, KH: c.KH, KW: c.KW, Cout: c.Cout}
}

// padded returns x (planes of h×w) padded by pad as a grid input for a kernel kw
// wide, and its release: x itself when there is nothing to add.
func padded(x []float32, planes, h, w, pad, kw int) ([]float32, func()) {
	if pad == 0 && kw == 1 {
		return x, func() {}
	}
	xp := getScratch(planes*(h+2*pad)*(w+2*pad) + kw - 1)
	cpu.PadPlanes(xp, x, planes, h, w, pad)
	return xp, func() { putScratch(xp) }
}

// gridOut returns where a grid product with planes planes of oh×wp grid values
// writes (y itself when wp == ow) and the function that moves the pixels into y
// and releases the scratch.
func gridOut(y []float32, planes, oh, ow, wp int) ([]float32, func()) {
	if wp == ow {
		return y, func() {}
	}
	yg := getScratch(planes * oh * wp)
	return yg, func() {
		cpu.CropGrid(y, yg, planes, oh, ow, wp)
		putScratch(yg)
	}
}

// conv2dGrid computes y = w ⋆ x as one implicit GEMM over all images.
func (d *CPU) conv2dGrid(y, x, w Buffer, c *ConvArgs) {
	s := gridOf(c)
	xp, release := padded(data(x), c.N*c.C, c.H, c.W, c.Pad, c.KW)
	defer release()
	yg, finish := gridOut(data(y), c.N*c.Cout, c.OutH, c.OutW, s.Wp)
	d.gemm.ConvGrid(yg, xp, data(w), s, 0)
	finish()
}

// conv2dInputGradGrid computes dx as the forward convolution of dy, padded by
// KH − 1 − Pad, with the flipped and transposed kernel.
func (d *CPU) conv2dInputGradGrid(dx, dy, w Buffer, c *ConvArgs) {
	pb := c.KH - 1 - c.Pad
	s := cpu.GridConv{N: c.N, C: c.Cout, Hp: c.OutH + 2*pb, Wp: c.OutW + 2*pb, KH: c.KH, KW: c.KW, Cout: c.C}
	wf := getScratch(c.Cout * c.C * c.KH * c.KW)
	defer putScratch(wf)
	cpu.FlipKernel(wf, data(w), c.Cout, c.C, c.KH, c.KW)
	dyp, release := padded(data(dy), c.N*c.Cout, c.OutH, c.OutW, pb, c.KW)
	defer release()
	dxg, finish := gridOut(data(dx), c.N*c.C, c.H, c.W, s.Wp)
	d.gemm.ConvGrid(dxg, dyp, wf, s, 0)
	finish()
}

// conv2dWeightGradGrid computes dw = Σₙ dyₙ·Bₙᵀ with B read from the padded input.
func (d *CPU) conv2dWeightGradGrid(dw, dy, x Buffer, c *ConvArgs) {
	s := gridOf(c)
	xp, release := padded(data(x), c.N*c.C, c.H, c.W, c.Pad, c.KW)
	defer release()
	dyg := data(dy)
	if s.Wp != c.OutW {
		dyg = getScratch(s.OutLen())
		defer putScratch(dyg)
		cpu.GridPlanes(dyg, data(dy), c.N*c.Cout, c.OutH, c.OutW, s.Wp)
	}
	d.gemm.ConvGridWeightGrad(data(dw), dyg, xp, s)
}
