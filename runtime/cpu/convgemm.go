package cpu

import (
	"fmt"
	"runtime"
)

// GridConv describes a stride-1 convolution computed as an implicit GEMM on the
// "grid" of its padded input: N images of C planes of Hp×Wp values (the zero padding
// already in place), a Cout×C×KH×KW kernel. Output pixel (oh, ow) of image n and
// channel o sits at grid position r = oh·Wp + ow, so for a kernel tap (c, ki, kj)
// the column of the GEMM's B operand
//
//	B[(c·KH + ki)·KW + kj][n·Grid + r] = xp[n·C·Hp·Wp + c·Hp·Wp + ki·Wp + kj + r]
//
// is a contiguous run of the input: B's panels are packed straight from xp with no
// im2col matrix. The grid has Wp − OutW columns per row more than the output (none
// when KW == 1); the products computed there are dropped when C is stored. xp needs
// KW − 1 readable values past its last plane (see InLen).
type GridConv struct {
	N, C, Hp, Wp int // images, input channels, padded plane height and width
	KH, KW, Cout int // kernel height and width, output channels
}

// OutH is the output height Hp − KH + 1.
func (s GridConv) OutH() int { return s.Hp - s.KH + 1 }

// OutW is the output width Wp − KW + 1.
func (s GridConv) OutW() int { return s.Wp - s.KW + 1 }

// Grid is the number of grid positions per output plane, OutH·Wp.
func (s GridConv) Grid() int { return s.OutH() * s.Wp }

// InLen is the number of values xp must have: N·C·Hp·Wp + KW − 1.
func (s GridConv) InLen() int { return s.N*s.C*s.Hp*s.Wp + s.KW - 1 }

// OutLen is the number of output values, N·Cout·OutH·OutW.
func (s GridConv) OutLen() int { return s.N * s.Cout * s.OutH() * s.OutW() }

// GridLen is the number of values of an output gradient laid out on the grid
// (ConvGridWeightGrad's dyg), N·Cout·Grid.
func (s GridConv) GridLen() int { return s.N * s.Cout * s.Grid() }

// taps is the GEMM's K for the forward pass, C·KH·KW.
func (s GridConv) taps() int { return s.C * s.KH * s.KW }

func (s GridConv) check(op string) {
	if s.N < 1 || s.C < 1 || s.Cout < 1 || s.KH < 1 || s.KW < 1 || s.KH > s.Hp || s.KW > s.Wp {
		panic(fmt.Sprintf("cpu: %s: invalid GridConv %+v", op, s))
	}
}

// tapOffset returns the offset in an image of xp of tap p = (c·KH + ki)·KW + kj.
func (s GridConv) tapOffset(p int) int {
	kk := s.KH * s.KW
	c, q := p/kk, p%kk
	return c*s.Hp*s.Wp + (q/s.KW)*s.Wp + q%s.KW
}

// ConvGrid computes the convolution y = w ⋆ xp: y (N, Cout, OutH, OutW), w
// (Cout, C·KH·KW) row-major, xp as GridConv describes. beta is 0 (y overwritten, not
// read) or 1 (added to y). The grid columns are split among the goroutines.
func (g Gemm) ConvGrid(y, xp, w []float32, s GridConv, beta float32) {
	g.ConvGridBias(y, xp, w, nil, s, beta)
}

// ConvGridBias is ConvGrid with a bias added in the pass that stores y: bias holds
// Cout values (one per output channel), N·Cout (one per image and channel), or none
// (nil). With beta 1, y += w ⋆ xp + bias.
func (g Gemm) ConvGridBias(y, xp, w, bias []float32, s GridConv, beta float32) {
	g.convGridStore(y, xp, w, bias, nil, s, beta)
}

// ConvGridBiasAdd is ConvGridBias (beta 0) with the residual res (N, Cout, OutH,
// OutW; it must not overlap y) added in the same pass as the bias:
// y = (w ⋆ xp + bias) + res, rounded as ConvGridBias followed by adding res.
func (g Gemm) ConvGridBiasAdd(y, xp, w, bias, res []float32, s GridConv) {
	if len(res) < s.OutLen() {
		panic(fmt.Sprintf("cpu: convgrid: residual of %d values for %d outputs", len(res), s.OutLen()))
	}
	g.convGridStore(y, xp, w, bias, res[:s.OutLen()], s, 0)
}

// convGridStore is ConvGridBias with the residual res (nil: none; then beta is 0)
// added where y is stored.
func (g Gemm) convGridStore(y, xp, w, bias, res []float32, s GridConv, beta float32) {
	s.check("convgrid")
	if len(xp) < s.InLen() || len(y) < s.OutLen() || len(w) < s.Cout*s.taps() {
		panic(fmt.Sprintf("cpu: convgrid: buffer too short (xp %d/%d, y %d/%d, w %d/%d)",
			len(xp), s.InLen(), len(y), s.OutLen(), len(w), s.Cout*s.taps()))
	}
	if len(bias) != 0 && len(bias) != s.Cout && len(bias) != s.N*s.Cout {
		panic(fmt.Sprintf("cpu: convgrid: %d bias values for %d images of %d channels", len(bias), s.N, s.Cout))
	}
	kern := g.kernel("convgrid")
	n := s.N * s.Grid()
	// The product is computed on the grid, one Cout×Grid matrix per image (every
	// full tile inside one image is stored by the micro-kernel itself); when the
	// grid is wider than the output, into a scratch grid that is then compacted.
	sink := imageSink{m: s.Cout, g: s.Grid()}
	if s.Wp == s.OutW() {
		g.splitCols(kern, n, s.Cout*n*s.taps(), func(j0, j1 int) {
			gridForward(kern, y, xp, w, s, &sink, j0, j1, beta)
		})
		AddPlaneBias(y, bias, res, s.N*s.Cout, s.Grid(), s.Cout)
		return
	}
	yg := Scratch(s.GridLen())
	defer PutScratch(yg)
	g.splitCols(kern, n, s.Cout*n*s.taps(), func(j0, j1 int) {
		gridForward(kern, yg, xp, w, s, &sink, j0, j1, 0)
	})
	CompactGrid(y, yg, bias, res, s.N*s.Cout, s.OutH(), s.OutW(), s.Wp, s.Cout, beta)
}

// planeBias returns the bias of plane pl (image pl / cout, channel pl % cout) from
// bias as ConvGridBias takes it.
func planeBias(bias []float32, pl, cout int) float32 {
	if len(bias) == cout {
		return bias[pl%cout]
	}
	return bias[pl]
}

// CompactGrid writes planes planes of the grid yg (oh rows of wp values) into y
// (planes of oh×ow values), dropping the wp − ow columns past each row and adding
// the bias of each plane (see ConvGridBias; planes are image-major over cout
// channels) and the residual res (planes of oh×ow values, nil for none):
// y = (yg + bias) + res (beta 0) or y += yg + bias (beta 1, res nil). Work is split
// across planes.
func CompactGrid(y, yg, bias, res []float32, planes, oh, ow, wp, cout int, beta float32) {
	if len(y) < planes*oh*ow || len(yg) < planes*oh*wp || (res != nil && len(res) < planes*oh*ow) {
		panic("cpu: compactgrid: buffer too short")
	}
	if res != nil && beta != 0 {
		panic("cpu: compactgrid: a residual with beta 1")
	}
	ParallelFor(planes, chunkFor(oh*ow), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d, s := y[pl*oh*ow:(pl+1)*oh*ow], yg[pl*oh*wp:]
			var b float32
			if len(bias) != 0 {
				b = planeBias(bias, pl, cout)
			}
			for r := range oh {
				dr, sr := d[r*ow:(r+1)*ow], s[r*wp:r*wp+ow]
				switch {
				case res != nil:
					storeRowRes(dr, sr, res[(pl*oh+r)*ow:], b, len(bias) != 0)
				case len(bias) == 0:
					storeRow(dr, sr, beta)
				default:
					storeRowBias(dr, sr, b, beta)
				}
			}
		}
	})
}

// AddPlaneBias adds the bias of each plane (see ConvGridBias; nil adds nothing) and
// then the residual res (planes of hw values; nil adds nothing) to y, planes planes
// of hw values: y = (y + bias) + res. Work is split across planes.
func AddPlaneBias(y, bias, res []float32, planes, hw, cout int) {
	if len(bias) == 0 && res == nil {
		return
	}
	if len(y) < planes*hw || (res != nil && len(res) < planes*hw) {
		panic("cpu: addplanebias: buffer too short")
	}
	ParallelFor(planes, chunkFor(hw), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d := y[pl*hw : (pl+1)*hw]
			var b float32
			if len(bias) != 0 {
				b = planeBias(bias, pl, cout)
			}
			if res != nil {
				storeRowRes(d, d, res[pl*hw:], b, len(bias) != 0)
				continue
			}
			for i := range d {
				d[i] += b
			}
		}
	})
}

// storeRowBias sets dst = src + b (beta 0) or dst += src + b (beta 1).
func storeRowBias(dst, src []float32, b, beta float32) {
	src = src[:len(dst)]
	if beta == 0 {
		for i, v := range src {
			dst[i] = v + b
		}
		return
	}
	for i, v := range src {
		dst[i] += v + b
	}
}

// storeRowRes sets dst = (src + b) + res, or dst = src + res without a bias (hasB
// false; adding a zero bias could turn −0 into +0). dst may be src.
func storeRowRes(dst, src, res []float32, b float32, hasB bool) {
	src, res = src[:len(dst)], res[:len(dst)]
	if !hasB {
		for i, v := range src {
			dst[i] = v + res[i]
		}
		return
	}
	for i, v := range src {
		dst[i] = (v + b) + res[i]
	}
}

// ConvGridWeightGrad computes dw = Σₙ dygₙ·Bₙᵀ, the weight gradient of ConvGrid:
// dw (Cout, C·KH·KW) is overwritten; dyg (N, Cout, Grid), the output gradient on the
// grid (see GridPlanes), must be zero at the grid
// positions that are not output pixels (ow ≥ OutW), where B holds garbage.
// The kernel taps are split among the goroutines.
func (g Gemm) ConvGridWeightGrad(dw, dyg, xp []float32, s GridConv) {
	s.check("convgridweightgrad")
	if len(xp) < s.InLen() || len(dyg) < s.GridLen() || len(dw) < s.Cout*s.taps() {
		panic("cpu: convgridweightgrad: buffer too short")
	}
	kern := g.kernel("convgridweightgrad")
	g.splitCols(kern, s.taps(), s.Cout*s.taps()*s.N*s.Grid(), func(p0, p1 int) {
		gridWeightGrad(kern, dw, dyg, xp, s, p0, p1)
	})
}

func (g Gemm) kernel(op string) *sgemmKernel {
	if !g.Kernel.Available() {
		panic(fmt.Sprintf("cpu: %s: kernel %v is not available on this CPU", op, g.Kernel))
	}
	return sgemmKernels[g.Kernel]
}

// splitCols runs body over column ranges (multiples of nr) of n columns, one per
// goroutine when the work (multiply-adds) is worth it.
func (g Gemm) splitCols(kern *sgemmKernel, n, work int, body func(j0, j1 int)) {
	tiles := (n + kern.nr - 1) / kern.nr
	parts := g.colParts(kern, n, work)
	if parts <= 1 {
		body(0, n)
		return
	}
	ParallelFor(parts, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			body(min(n, tiles*i/parts*kern.nr), min(n, tiles*(i+1)/parts*kern.nr))
		}
	})
}

// colParts is the number of goroutines n columns are split among: one per nr-column
// panel at most, one per thread, and only as many as the work (multiply-adds) is
// worth; 0 or 1 means the calling goroutine alone.
func (g Gemm) colParts(kern *sgemmKernel, n, work int) int {
	threads := g.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return min(threads, (n+kern.nr-1)/kern.nr, work/sgemmMinWorkPerThread)
}

// gridForward computes columns [j0, j1) of ConvGrid on the calling goroutine. K is
// cut into super-blocks whose slice of A (the weights, m × kb) stays in L2; within
// one, each nr-column panel of B is packed just before every row panel of A runs
// over it, a kc block at a time, so that the panel is read back from L1/L2 and the
// panel's tiles of C stay in cache across the kc blocks (packing a whole nc block
// first sent both to L3).
func gridForward(kern *sgemmKernel, y, xp, w []float32, s GridConv, sink tileSink, j0, j1 int, beta0 float32) {
	buf := sgemmBufs.Get().(*sgemmBuf)
	defer sgemmBufs.Put(buf)
	m, k, mr, nr := s.Cout, s.taps(), kern.mr, kern.nr
	kc := min(kern.kc, k)
	mp := roundUp(m, mr)
	kb := max(kc, gridABudget/(4*mp)/kc*kc)
	buf.a = growF32(buf.a, mp*min(kb, roundUp(k, kc)))
	buf.b = growF32(buf.b, nr*kc)
	buf.t = growF32(buf.t, mr*nr)
	direct := kern.microRowA != nil
	for p0 := 0; p0 < k; p0 += kb {
		p1 := min(k, p0+kb)
		// Pack the rows of A that are not read in place, kc block by kc block.
		for pc := p0; pc < p1; pc += kc {
			kcl := min(kc, p1-pc)
			ap := buf.a[(pc-p0)*mp : (pc-p0)*mp+mp*kcl]
			full := 0
			if direct {
				full = m / mr * mr
			}
			if full < m {
				sgemmPackA(ap[full*kcl:], false, w, k, full, pc, m-full, kcl, mr)
			}
		}
		for jr := j0; jr < j1; jr += nr {
			cols := min(nr, j1-jr)
			for pc := p0; pc < p1; pc += kc {
				kcl := min(kc, p1-pc)
				beta := beta0
				if pc > 0 {
					beta = 1
				}
				bp := buf.b[:nr*kcl]
				s.packB(bp, xp, pc, jr, kcl, cols, nr)
				ap := buf.a[(pc-p0)*mp : (pc-p0)*mp+mp*kcl]
				panelTiles(kern, buf.t, w[pc:], k, ap, 0, m, kcl, bp, cols, y, sink, jr, beta)
			}
		}
	}
}

// gridABudget is the size in bytes of the slice of A that gridForward keeps in L2
// while B's panels stream past it.
const gridABudget = 512 << 10

// gridWeightGrad computes taps [p0, p1) of ConvGridWeightGrad on the calling
// goroutine: K of the GEMM runs over the grid positions of each image in turn, a kc
// block at a time; for each block the rows of A (dyg) that are not read in place are
// packed once, and each nr-tap panel of Bᵀ is packed just before every row panel of
// A runs over it (as in gridForward).
func gridWeightGrad(kern *sgemmKernel, dw, dyg, xp []float32, s GridConv, p0, p1 int) {
	buf := sgemmBufs.Get().(*sgemmBuf)
	defer sgemmBufs.Put(buf)
	m, g, mr, nr := s.Cout, s.Grid(), kern.mr, kern.nr
	kc := min(kern.kc, g)
	mp := roundUp(m, mr)
	buf.a = growF32(buf.a, mp*kc)
	buf.b = growF32(buf.b, nr*kc)
	buf.t = growF32(buf.t, mr*nr)
	full := 0
	if kern.microRowA != nil {
		full = m / mr * mr
	}
	sink := denseSink{ldc: s.taps()}
	for n := range s.N {
		a := dyg[n*m*g:]
		for r0 := 0; r0 < g; r0 += kc {
			kcl := min(kc, g-r0)
			ap := buf.a[:mp*kcl]
			if full < m {
				sgemmPackA(ap[full*kcl:], false, a, g, full, r0, m-full, kcl, mr)
			}
			beta := float32(1)
			if n == 0 && r0 == 0 {
				beta = 0
			}
			for jr := p0; jr < p1; jr += nr {
				cols := min(nr, p1-jr)
				bp := buf.b[:nr*kcl]
				s.packBT(bp, xp[n*s.C*s.Hp*s.Wp+r0:], jr, kcl, cols, nr)
				panelTiles(kern, buf.t, a[r0:], g, ap, 0, m, kcl, bp, cols, dw, &sink, jr, beta)
			}
		}
	}
}

// packB packs taps [p0, p0+kc) and grid columns [j0, j0+nc) of B into nr-column
// panels (the layout of sgemmPackB), with columns past nc zero.
func (s GridConv) packB(dst, xp []float32, p0, j0, kc, nc, nr int) {
	g, img := s.Grid(), s.C*s.Hp*s.Wp
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		j := j0 + jr
		n, r := j/g, j%g
		if cols == nr && r+nr <= g {
			// One image, full panel: each tap is one contiguous run of nr values.
			s.packRuns(d, xp[n*img+r:], p0, kc, nr, nr)
			continue
		}
		clear(d)
		for done := 0; done < cols; {
			n, r := (j+done)/g, (j+done)%g
			l := min(cols-done, g-r)
			s.packRuns(d[done:], xp[n*img+r:], p0, kc, nr, l)
			done += l
		}
	}
}

// packRuns writes d[p·ld : p·ld+l] = base[tapOffset(p0+p):][:l] for p < kc, walking
// the taps (c, ki, kj) with counters; l of 16 or 32 (full panels of the AVX
// kernels) are copied with fixed-size moves.
func (s GridConv) packRuns(d, base []float32, p0, kc, ld, l int) {
	kk, hw := s.KH*s.KW, s.Hp*s.Wp
	c, q := p0/kk, p0%kk
	ki, kj := q/s.KW, q%s.KW
	o := c*hw + ki*s.Wp // offset of tap row (c, ki)
	for p := 0; p < kc; {
		// The taps kj .. KW−1 of row (c, ki) read consecutive offsets.
		m := min(s.KW-kj, kc-p)
		src, dp := base[o+kj:], d[p*ld:]
		switch {
		case l == 16 && ld == 16:
			copyRuns16(dp, src, m)
		case l == 32 && ld == 32:
			copyRuns32(dp, src, m)
		default:
			for t := range m {
				copy(dp[t*ld:t*ld+l], src[t:t+l])
			}
		}
		p += m
		kj = 0
		if ki++; ki == s.KH {
			ki, c = 0, c+1
			o = c * hw
		} else {
			o += s.Wp
		}
	}
}

// copyRuns16Go writes d[t·16 : t·16+16] = src[t : t+16] for t < m (the portable
// copyRuns16).
func copyRuns16Go(d, src []float32, m int) {
	for t := range m {
		s, dd := src[t:t+16], d[t*16:t*16+16]
		*(*[4]float32)(dd) = *(*[4]float32)(s)
		*(*[4]float32)(dd[4:]) = *(*[4]float32)(s[4:])
		*(*[4]float32)(dd[8:]) = *(*[4]float32)(s[8:])
		*(*[4]float32)(dd[12:]) = *(*[4]float32)(s[12:])
	}
}

// copyRuns32Go writes d[t·32 : t·32+32] = src[t : t+32] for t < m (the portable
// copyRuns32).
func copyRuns32Go(d, src []float32, m int) {
	for t := range m {
		s, dd := src[t:t+32], d[t*32:t*32+32]
		for o := 0; o < 32; o += 8 {
			*(*[4]float32)(dd[o:]) = *(*[4]float32)(s[o:])
			*(*[4]float32)(dd[o+4:]) = *(*[4]float32)(s[o+4:])
		}
	}
}

// packBT packs grid positions [0, kc) of one image (xp starting at that image's
// first position) as the K rows and taps [p0, p0+nc) as the columns of op(B) = Bᵀ:
// panel q holds dst[q·nr·kc + k·nr + j] = B[p0+q·nr+j][k], columns past nc zero.
func (s GridConv) packBT(dst, xp []float32, p0, kc, nc, nr int) {
	var rows [32][]float32
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		for j := range cols {
			off := s.tapOffset(p0 + jr + j)
			rows[j] = xp[off : off+kc]
		}
		if cols == nr && transposeRows(d, rows[:nr], kc) {
			continue
		}
		for j := range cols {
			for k, v := range rows[j] {
				d[k*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for k := range kc {
				d[k*nr+j] = 0
			}
		}
	}
}

// transposeRowsGo writes d[k·w + j] = rows[j][k] for k < kc when w = len(rows) is
// a multiple of 4, four rows at a time, and reports whether it did (the portable
// transposeRows).
func transposeRowsGo(d []float32, rows [][]float32, kc int) bool {
	w := len(rows)
	if w%4 != 0 {
		return false
	}
	d = d[:kc*w]
	for j := 0; j < w; j += 4 {
		r0, r1, r2, r3 := rows[j][:kc], rows[j+1][:kc], rows[j+2][:kc], rows[j+3][:kc]
		for k := range kc {
			dp := d[k*w+j : k*w+j+4 : k*w+j+4]
			dp[0], dp[1], dp[2], dp[3] = r0[k], r1[k], r2[k], r3[k]
		}
	}
	return true
}

// PadPlanes writes planes planes of h×w values of x into xp with pad zeros on all
// four sides ((h+2·pad)×(w+2·pad) each, contiguous), then zeroes the slack values
// of xp past the last plane (GridConv.InLen's KW − 1). Work is split across planes.
func PadPlanes(xp, x []float32, planes, h, w, pad int) {
	hp, wp := h+2*pad, w+2*pad
	if len(x) < planes*h*w || len(xp) < planes*hp*wp {
		panic("cpu: padplanes: buffer too short")
	}
	ParallelFor(planes, chunkFor(hp*wp), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d, s := xp[pl*hp*wp:(pl+1)*hp*wp], x[pl*h*w:(pl+1)*h*w]
			clear(d[:pad*wp])
			clear(d[(hp-pad)*wp:])
			for y := range h {
				row := d[(y+pad)*wp : (y+pad+1)*wp]
				clear(row[:pad])
				copy(row[pad:pad+w], s[y*w:(y+1)*w])
				clear(row[pad+w:])
			}
		}
	})
	clear(xp[planes*hp*wp:])
}

// GridPlanes lays out planes planes of oh×ow values of y on the grid: yg holds oh
// rows of wp values each, the first ow of them y's and the rest zero. Work is split
// across planes.
func GridPlanes(yg, y []float32, planes, oh, ow, wp int) {
	if len(y) < planes*oh*ow || len(yg) < planes*oh*wp {
		panic("cpu: gridplanes: buffer too short")
	}
	ParallelFor(planes, chunkFor(oh*wp), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d, s := yg[pl*oh*wp:], y[pl*oh*ow:]
			for r := range oh {
				copy(d[r*wp:r*wp+ow], s[r*ow:r*ow+ow])
				clear(d[r*wp+ow : r*wp+wp])
			}
		}
	})
}

// FlipKernel writes the kernel of the input gradient of a stride-1 convolution:
// for w (cout, c, kh, kw), wf (c, cout, kh, kw) with
// wf[ci][co][ki][kj] = w[co][ci][kh−1−ki][kw−1−kj], so that dx = wf ⋆ dy padded by
// kh−1−pad is a forward convolution. The output channels are split among the cores.
func FlipKernel(wf, w []float32, cout, c, kh, kw int) {
	kk := kh * kw
	if len(w) < cout*c*kk || len(wf) < cout*c*kk {
		panic("cpu: flipkernel: buffer too short")
	}
	ParallelFor(cout, chunkFor(c*kk), func(lo, hi int) {
		for co := lo; co < hi; co++ {
			for ci := range c {
				src := w[(co*c+ci)*kk : (co*c+ci+1)*kk]
				dst := wf[(ci*cout+co)*kk : (ci*cout+co+1)*kk]
				for q, v := range src {
					dst[kk-1-q] = v
				}
			}
		}
	})
}
