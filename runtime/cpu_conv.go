package runtime

import "ocm/runtime/cpu"

// maxColValues bounds the im2col scratch of one convolution chunk (16 MiB of float32):
// images are processed in groups small enough to stay under it.
const maxColValues = 1 << 22

func getScratch(n int) []float32 { return cpu.Scratch(n) }

func putScratch(s []float32) { cpu.PutScratch(s) }

// convPlan splits a convolution into groups of images whose columns sit side by side.
type convPlan struct {
	geom     cpu.ConvGeom
	ckk, ohw int // rows of the column matrix, output positions per image
	group    int // images per chunk
	inSize   int // values per input image
	outSize  int // values per output image
}

func planConv(c *ConvArgs) convPlan {
	p := convPlan{geom: cpu.ConvGeom{C: c.C, H: c.H, W: c.W, KH: c.KH, KW: c.KW, Stride: c.Stride, Pad: c.Pad},
		ckk: c.C * c.KH * c.KW, ohw: c.OutH * c.OutW, inSize: c.C * c.H * c.W}
	p.outSize = c.Cout * p.ohw
	p.group = max(1, min(c.N, maxColValues/max(1, p.ckk*p.ohw)))
	return p
}

// scratch returns the column matrix and the regrouped-output buffer of one chunk, and
// the function that gives them back.
func (p *convPlan) scratch() (col, tmp []float32, release func()) {
	col, tmp = getScratch(p.ckk*p.group*p.ohw), getScratch(p.outSize*p.group)
	return col, tmp, func() { putScratch(col); putScratch(tmp) }
}

// columns fills col (ckk × gN·ohw) with the patches of images n0..n0+gN.
func (p *convPlan) columns(col, x []float32, n0, gN int) {
	cols := gN * p.ohw
	cpu.ParallelFor(gN, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			img := x[(n0+i)*p.inSize : (n0+i+1)*p.inSize]
			cpu.Im2col(col[i*p.ohw:], cols, img, p.geom)
		}
	})
}

// Conv2d computes y = w ⋆ x: 3×3 stride-1 convolutions with enough channels by
// Winograd's F(2×2, 3×3) (cpu.WinogradConv; see winogradOK), other stride-1 ones as
// implicit GEMMs on the padded input (cpu.GridConv), the rest (and all with
// CPUOptions.Im2col) by im2col. The input and weight gradients take the same paths.
func (d *CPU) Conv2d(y, x, w Buffer, c *ConvArgs) {
	if winogradOK(d, c) {
		d.gemm.ConvWinograd(data(y), data(x), data(w), nil, nil, winogradOf(c), 0)
		return
	}
	if gridOK(d, c) {
		d.conv2dGrid(y, x, w, c)
		return
	}
	d.conv2dIm2col(y, x, w, c)
}

// Conv2dBias computes y = w ⋆ x + b: on the implicit-GEMM path the bias is added
// where the output grid is compacted, on the im2col path in place after the GEMM.
func (d *CPU) Conv2dBias(y, x, w, b Buffer, c *ConvArgs) { d.Conv2dBiasAdd(y, x, w, b, nil, c) }

// Conv2dBiasAdd computes y = (w ⋆ x + b) + r, b nil for no bias and r nil for no
// residual: the bias and the residual are added in one pass, where the output grid
// is compacted on the implicit-GEMM path and in place after the GEMM on the im2col
// path.
func (d *CPU) Conv2dBiasAdd(y, x, w, b, r Buffer, c *ConvArgs) {
	if winogradOK(d, c) {
		d.gemm.ConvWinograd(data(y), data(x), data(w), data(b), data(r), winogradOf(c), 0)
		return
	}
	if gridOK(d, c) {
		d.conv2dGridBias(y, x, w, b, r, c)
		return
	}
	d.conv2dIm2col(y, x, w, c)
	cpu.AddPlaneBias(data(y), data(b), data(r), c.N*c.Cout, c.OutH*c.OutW, c.Cout)
}

// Conv2dInputGrad computes dx from dy and w (see Conv2d for the paths).
func (d *CPU) Conv2dInputGrad(dx, dy, w Buffer, c *ConvArgs) {
	if winogradOK(d, c) {
		d.conv2dInputGradWinograd(dx, dy, w, c)
		return
	}
	if gridOK(d, c) {
		d.conv2dInputGradGrid(dx, dy, w, c)
		return
	}
	d.conv2dInputGradIm2col(dx, dy, w, c)
}

// Conv2dWeightGrad computes dw from dy and x (see Conv2d for the paths).
func (d *CPU) Conv2dWeightGrad(dw, dy, x Buffer, c *ConvArgs) {
	if winogradOK(d, c) {
		d.gemm.ConvWinogradWeightGrad(data(dw), data(dy), data(x), winogradOf(c))
		return
	}
	if gridOK(d, c) {
		d.conv2dWeightGradGrid(dw, dy, x, c)
		return
	}
	d.conv2dWeightGradIm2col(dw, dy, x, c)
}

// conv2dIm2col computes y = w ⋆ x by im2col and one GEMM per group of images: the
// reference path.
func (d *CPU) conv2dIm2col(y, x, w Buffer, c *ConvArgs) {
	p := planConv(c)
	yd, xd, wd := data(y), data(x), data(w)
	col, tmp, release := p.scratch()
	defer release()
	for n0 := 0; n0 < c.N; n0 += p.group {
		gN := min(p.group, c.N-n0)
		cols := gN * p.ohw
		p.columns(col, xd, n0, gN)
		if gN == 1 {
			d.gemm.Sgemm(false, false, c.Cout, cols, p.ckk, 1, wd, p.ckk, col, cols, 0, yd[n0*p.outSize:], cols)
			continue
		}
		d.gemm.Sgemm(false, false, c.Cout, cols, p.ckk, 1, wd, p.ckk, col, cols, 0, tmp, cols)
		scatterImages(yd[n0*p.outSize:], tmp, c.Cout, gN, p.ohw)
	}
}

// conv2dInputGradIm2col computes dx = Wᵀ·dy scattered back by col2im.
func (d *CPU) conv2dInputGradIm2col(dx, dy, w Buffer, c *ConvArgs) {
	p := planConv(c)
	dxd, dyd, wd := data(dx), data(dy), data(w)
	col, tmp, release := p.scratch()
	defer release()
	for n0 := 0; n0 < c.N; n0 += p.group {
		gN := min(p.group, c.N-n0)
		cols := gN * p.ohw
		g := gatherImages(tmp, dyd[n0*p.outSize:], c.Cout, gN, p.ohw)
		d.gemm.Sgemm(true, false, p.ckk, cols, c.Cout, 1, wd, p.ckk, g, cols, 0, col, cols)
		cpu.ParallelFor(gN, 1, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				img := dxd[(n0+i)*p.inSize : (n0+i+1)*p.inSize]
				clear(img)
				cpu.Col2im(img, col[i*p.ohw:], cols, p.geom)
			}
		})
	}
}

// conv2dWeightGradIm2col computes dw = Σ dy·colᵀ over all images.
func (d *CPU) conv2dWeightGradIm2col(dw, dy, x Buffer, c *ConvArgs) {
	p := planConv(c)
	dwd, dyd, xd := data(dw), data(dy), data(x)
	col, tmp, release := p.scratch()
	defer release()
	var beta float32
	for n0 := 0; n0 < c.N; n0 += p.group {
		gN := min(p.group, c.N-n0)
		cols := gN * p.ohw
		p.columns(col, xd, n0, gN)
		g := gatherImages(tmp, dyd[n0*p.outSize:], c.Cout, gN, p.ohw)
		d.gemm.Sgemm(false, true, c.Cout, p.ckk, cols, 1, g, cols, col, cols, beta, dwd, p.ckk)
		beta = 1
	}
}

// scatterImages copies tmp (cout × gN·ohw) into y (gN, cout, ohw).
func scatterImages(y, tmp []float32, cout, gN, ohw int) {
	cols := gN * ohw
	cpu.ParallelFor(gN, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for co := range cout {
				copy(y[(i*cout+co)*ohw:(i*cout+co+1)*ohw], tmp[co*cols+i*ohw:co*cols+(i+1)*ohw])
			}
		}
	})
}

// gatherImages copies dy (gN, cout, ohw) into tmp (cout × gN·ohw) and returns it; with
// one image the layouts agree and dy itself is returned.
func gatherImages(tmp, dy []float32, cout, gN, ohw int) []float32 {
	if gN == 1 {
		return dy[:cout*ohw]
	}
	cols := gN * ohw
	cpu.ParallelFor(gN, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for co := range cout {
				copy(tmp[co*cols+i*ohw:co*cols+(i+1)*ohw], dy[(i*cout+co)*ohw:(i*cout+co+1)*ohw])
			}
		}
	})
	return tmp[:cout*cols]
}

// gridOK reports whether the convolution c takes the implicit-GEMM path: stride 1,
// a square kernel with Pad ≤ KH − 1 (the input gradient pads dy by KH − 1 − Pad), at
// most 1/3 more grid columns than output columns (KW − 1 per row: at 7×7 a 3×3
// kernel computes 29 % more products than it keeps, and still measured faster than
// im2col, which copies its input nine times and scatters the input gradient back;
// at 4×4 it would compute 50 % more; the tests lift this bound with forceGrid), and
// the device not forced to im2col.
func gridOK(d *CPU, c *ConvArgs) bool {
	return !d.im2col && c.Stride == 1 && c.KH == c.KW && c.Pad <= c.KH-1 && (d.forceGrid || 3*(c.KW-1) <= c.OutW)
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

// conv2dGrid computes y = w ⋆ x as one implicit GEMM over all images.
func (d *CPU) conv2dGrid(y, x, w Buffer, c *ConvArgs) { d.conv2dGridBias(y, x, w, nil, nil, c) }

// conv2dGridBias computes y = (w ⋆ x + b) + r (b nil: no bias; r nil: no residual)
// as one implicit GEMM.
func (d *CPU) conv2dGridBias(y, x, w, b, r Buffer, c *ConvArgs) {
	s := gridOf(c)
	xp, release := padded(data(x), c.N*c.C, c.H, c.W, c.Pad, c.KW)
	defer release()
	if r == nil {
		d.gemm.ConvGridBias(data(y), xp, data(w), data(b), s, 0)
		return
	}
	d.gemm.ConvGridBiasAdd(data(y), xp, data(w), data(b), data(r), s)
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
	d.gemm.ConvGrid(data(dx), dyp, wf, s, 0)
}

// conv2dWeightGradGrid computes dw = Σₙ dyₙ·Bₙᵀ with B read from the padded input.
func (d *CPU) conv2dWeightGradGrid(dw, dy, x Buffer, c *ConvArgs) {
	s := gridOf(c)
	xp, release := padded(data(x), c.N*c.C, c.H, c.W, c.Pad, c.KW)
	defer release()
	dyg := data(dy)
	if s.Wp != c.OutW {
		dyg = getScratch(s.GridLen())
		defer putScratch(dyg)
		cpu.GridPlanes(dyg, data(dy), c.N*c.Cout, c.OutH, c.OutW, s.Wp)
	}
	d.gemm.ConvGridWeightGrad(data(dw), dyg, xp, s)
}

// winogradMinChannels is the fewest input and output channels for which a 3×3
// convolution takes Winograd's F(2×2, 3×3) (below it the transforms cost more than
// the multiplications they save).
const winogradMinChannels = 16

// winogradOK reports whether the convolution c takes the Winograd path: 3×3, stride
// 1, Pad ≤ 2 (the input gradient pads by 2 − Pad), and the device not forced to
// another path; unless the tests force it, also at least winogradMinChannels input
// and output channels and vector transforms on this CPU.
func winogradOK(d *CPU, c *ConvArgs) bool {
	if d.im2col || d.forceGrid || c.Stride != 1 || c.KH != 3 || c.KW != 3 || c.Pad > 2 {
		return false
	}
	return d.forceWinograd || cpu.WinogradVector() && min(c.C, c.Cout) >= winogradMinChannels
}

// winogradOf is the forward Winograd convolution of c.
func winogradOf(c *ConvArgs) cpu.WinogradConv {
	return cpu.WinogradConv{N: c.N, C: c.C, H: c.H, W: c.W, Pad: c.Pad, Cout: c.Cout}
}

// conv2dInputGradWinograd computes dx as the Winograd convolution of dy, padded by
// 2 − Pad, with the flipped and transposed kernel (read so by the kernel transform).
func (d *CPU) conv2dInputGradWinograd(dx, dy, w Buffer, c *ConvArgs) {
	s := cpu.WinogradConv{N: c.N, C: c.Cout, H: c.OutH, W: c.OutW, Pad: 2 - c.Pad, Cout: c.C, Flipped: true}
	d.gemm.ConvWinograd(data(dx), data(dy), data(w), nil, nil, s, 0)
}
