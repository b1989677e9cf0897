package runtime

import (
	"math/bits"
	"sync"

	"ocm/runtime/cpu"
)

// maxColValues bounds the im2col scratch of one convolution chunk (16 MiB of float32):
// images are processed in groups small enough to stay under it.
const maxColValues = 1 << 22

// scratchPools hold reusable float32 scratch slices by power-of-two size class, so the
// steady state of a training loop allocates no im2col buffers. Immutable after init.
var scratchPools [40]sync.Pool

func getScratch(n int) []float32 {
	c := bits.Len(uint(max(n-1, 1)))
	if s, ok := scratchPools[c].Get().(*[]float32); ok {
		return (*s)[:n]
	}
	return make([]float32, n, 1<<c)
}

func putScratch(s []float32) {
	c := bits.Len(uint(max(cap(s)-1, 1)))
	if cap(s) == 1<<c {
		scratchPools[c].Put(&s)
	}
}

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

// Conv2d computes y = w ⋆ x: stride-1 convolutions as implicit GEMMs on the padded
// input (cpu.GridConv), others (and all with CPUOptions.Im2col) by im2col.
func (d *CPU) Conv2d(y, x, w Buffer, c *ConvArgs) {
	if gridOK(d, c) {
		d.conv2dGrid(y, x, w, c)
		return
	}
	d.conv2dIm2col(y, x, w, c)
}

// Conv2dInputGrad computes dx from dy and w (see Conv2d for the paths).
func (d *CPU) Conv2dInputGrad(dx, dy, w Buffer, c *ConvArgs) {
	if gridOK(d, c) {
		d.conv2dInputGradGrid(dx, dy, w, c)
		return
	}
	d.conv2dInputGradIm2col(dx, dy, w, c)
}

// Conv2dWeightGrad computes dw from dy and x (see Conv2d for the paths).
func (d *CPU) Conv2dWeightGrad(dw, dy, x Buffer, c *ConvArgs) {
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
