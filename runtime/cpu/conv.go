package cpu

// ConvGeom describes one 2-D convolution over an NCHW image: C input
// channels, H×W input, KH×KW kernel, Stride, zero padding Pad on all four
// sides.
type ConvGeom struct{ C, H, W, KH, KW, Stride, Pad int }

// OutH is the output height (H+2·Pad-KH)/Stride + 1.
func (g ConvGeom) OutH() int { return (g.H+2*g.Pad-g.KH)/g.Stride + 1 }

// OutW is the output width (W+2·Pad-KW)/Stride + 1.
func (g ConvGeom) OutW() int { return (g.W+2*g.Pad-g.KW)/g.Stride + 1 }

// check validates g and the buffer lengths for Im2col/Col2im.
func (g ConvGeom) check(op string, ldcol, ncol, nimg int) {
	if g.C < 1 || g.H < 1 || g.W < 1 || g.KH < 1 || g.KW < 1 || g.Stride < 1 || g.Pad < 0 {
		panic("cpu: " + op + ": invalid ConvGeom")
	}
	if g.KH > g.H+2*g.Pad || g.KW > g.W+2*g.Pad {
		panic("cpu: " + op + ": kernel larger than padded input")
	}
	ohw := g.OutH() * g.OutW()
	if ldcol < ohw {
		panic("cpu: " + op + ": ldcol < OutH*OutW")
	}
	if ncol < (g.C*g.KH*g.KW-1)*ldcol+ohw {
		panic("cpu: " + op + ": col too short")
	}
	if nimg < g.C*g.H*g.W {
		panic("cpu: " + op + ": img too short")
	}
}

// validRange returns [lo, hi), the outputs o in [0, n) whose input index
// o*s - p + k lies in [0, size); lo == hi when there are none.
func validRange(n, size, s, p, k int) (lo, hi int) {
	if d := p - k; d > 0 {
		lo = (d + s - 1) / s
	}
	if d := size - 1 + p - k; d >= 0 {
		hi = d/s + 1
	}
	hi = min(hi, n)
	lo = min(lo, hi)
	return lo, hi
}

// Im2col writes the patches of one image img (C×H×W) into col, a
// (C·KH·KW) × (OutH·OutW) block whose rows have stride ldcol
// (ldcol >= OutH·OutW), so several images can sit side by side:
//
//	col[(c*KH*KW + ki*KW + kj)*ldcol + oh*OutW + ow] = img[c, oh*Stride-Pad+ki, ow*Stride-Pad+kj]
//
// or 0 where that pixel lies in the padding. Elements of col between a row's
// OutH·OutW values and the next row are not touched. Work is split across
// channels with ParallelFor.
func Im2col(col []float32, ldcol int, img []float32, g ConvGeom) {
	g.check("Im2col", ldcol, len(col), len(img))
	oh, ow := g.OutH(), g.OutW()
	ksz := g.KH * g.KW
	ParallelFor(g.C, chunkFor(ksz*oh*ow), func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			im2colChannel(col[c*ksz*ldcol:], ldcol, img[c*g.H*g.W:(c+1)*g.H*g.W], g, oh, ow)
		}
	})
}

// im2colChannel fills the KH·KW rows of col that belong to one input plane.
func im2colChannel(col []float32, ldcol int, plane []float32, g ConvGeom, oh, ow int) {
	H, W, S, P := g.H, g.W, g.Stride, g.Pad
	ohw := oh * ow
	hw := H * W
	if g.KH == 1 && g.KW == 1 && S == 1 && P == 0 {
		copy(col[:hw], plane)
		return
	}
	r := 0
	for ki := 0; ki < g.KH; ki++ {
		hlo, hhi := validRange(oh, H, S, P, ki)
		for kj := 0; kj < g.KW; kj++ {
			row := col[r*ldcol : r*ldcol+ohw]
			r++
			clear(row[:hlo*ow])
			clear(row[hhi*ow:])
			if S == 1 && ow == W {
				// Stride 1 and OutW == W: the valid rows of this
				// patch row are the plane shifted by a constant,
				// so copy them in one piece (clipped to the plane)
				// and then zero the columns that wrapped around.
				shift := (ki-P)*W + (kj - P)
				a, b := max(hlo*ow, -shift), min(hhi*ow, hw-shift)
				if a < b {
					copy(row[a:b], plane[a+shift:b+shift])
				}
				if z := min(P-kj, W); z > 0 {
					zeroCols(row[hlo*ow:hhi*ow], ow, 0, z)
				} else if z := min(kj-P, W); z > 0 {
					zeroCols(row[hlo*ow:hhi*ow], ow, ow-z, z)
				}
				continue
			}
			wlo, whi := validRange(ow, W, S, P, kj)
			for y := hlo; y < hhi; y++ {
				dst := row[y*ow : y*ow+ow]
				src := plane[(y*S-P+ki)*W : (y*S-P+ki)*W+W]
				clear(dst[:wlo])
				clear(dst[whi:])
				if S == 1 {
					copy(dst[wlo:whi], src[wlo-P+kj:])
				} else if wlo < whi {
					d := dst[wlo:whi]
					base := wlo*S - P + kj
					s := src[base : base+(len(d)-1)*S+1]
					for i := range d {
						d[i] = s[i*S]
					}
				}
			}
		}
	}
}

// Col2im is the adjoint of Im2col: it accumulates every element of col into
// the image pixel Im2col read it from,
//
//	img[c, oh*Stride-Pad+ki, ow*Stride-Pad+kj] += col[(c*KH*KW + ki*KW + kj)*ldcol + oh*OutW + ow]
//
// skipping the entries that Im2col filled with padding. Work is split across
// channels with ParallelFor.
func Col2im(img []float32, col []float32, ldcol int, g ConvGeom) {
	g.check("Col2im", ldcol, len(col), len(img))
	oh, ow := g.OutH(), g.OutW()
	ksz := g.KH * g.KW
	ParallelFor(g.C, chunkFor(ksz*oh*ow), func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			col2imChannel(img[c*g.H*g.W:(c+1)*g.H*g.W], col[c*ksz*ldcol:], ldcol, g, oh, ow)
		}
	})
}

// col2imChannel accumulates the KH·KW rows of col that belong to one plane.
func col2imChannel(plane []float32, col []float32, ldcol int, g ConvGeom, oh, ow int) {
	H, W, S, P := g.H, g.W, g.Stride, g.Pad
	if g.KH == 1 && g.KW == 1 && S == 1 && P == 0 {
		addTo(plane, col[:H*W])
		return
	}
	r := 0
	for ki := 0; ki < g.KH; ki++ {
		hlo, hhi := validRange(oh, H, S, P, ki)
		for kj := 0; kj < g.KW; kj++ {
			row := col[r*ldcol : r*ldcol+oh*ow]
			r++
			wlo, whi := validRange(ow, W, S, P, kj)
			if wlo == whi {
				continue
			}
			for y := hlo; y < hhi; y++ {
				src := row[y*ow+wlo : y*ow+whi]
				dst := plane[(y*S-P+ki)*W : (y*S-P+ki)*W+W]
				base := wlo*S - P + kj
				if S == 1 {
					addTo(dst[base:base+len(src)], src)
				} else {
					d := dst[base : base+(len(src)-1)*S+1]
					for i, v := range src {
						d[i*S] += v
					}
				}
			}
		}
	}
}

// zeroCols zeroes columns [c0, c0+z) of every row of m, a matrix of rows of
// width w stored contiguously; z is small, so it uses plain stores rather
// than clear's call.
func zeroCols(m []float32, w, c0, z int) {
	for o := c0; o+z <= len(m); o += w {
		r := m[o : o+z]
		for k := range r {
			r[k] = 0
		}
	}
}

// addTo computes dst[i] += src[i] for i < len(src); len(dst) >= len(src).
func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	i := 0
	for ; i+4 <= len(src); i += 4 {
		s := src[i : i+4 : i+4]
		d := dst[i : i+4 : i+4]
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
	}
	for ; i < len(src); i++ {
		dst[i] += src[i]
	}
}
