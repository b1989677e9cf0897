package cpu

import (
	"fmt"
	"sync"
)

// WinogradConv describes a 3×3 stride-1 convolution computed by Winograd's minimal
// filtering F(2×2, 3×3): N images of C planes of H×W values, zero padding Pad on
// every side, Cout output channels. The output is cut into 2×2 tiles; each tile's
// 4×4 input patch d and each 3×3 kernel g are transformed (V = Bᵀ·d·B, U = G·g·Gᵀ),
// the sixteen products Σ_c U·V are sixteen GEMMs (Cout × C by C × tiles), and the
// tile is Aᵀ·M·A: 16 multiply-adds per tile and channel pair instead of 36.
type WinogradConv struct {
	N, C, H, W, Pad, Cout int
	// Flipped says that w is stored as the kernel of the convolution whose input
	// gradient this one computes, (C, Cout, 3, 3), and is read flipped and transposed
	// (w'[co][ci][ki][kj] = w[ci][co][2−ki][2−kj]).
	Flipped bool
}

// WinogradVector reports whether this CPU runs the Winograd transforms as vector
// code (AVX-512F). Without it they run as Go loops, slower than the implicit GEMM
// the Winograd path replaces (measured at a third of its speed).
func WinogradVector() bool { return winoVector }

// OutH is the output height H + 2·Pad − 2.
func (s WinogradConv) OutH() int { return s.H + 2*s.Pad - 2 }

// OutW is the output width W + 2·Pad − 2.
func (s WinogradConv) OutW() int { return s.W + 2*s.Pad - 2 }

// tilesH and tilesW are the numbers of 2×2 output tiles down and across a plane.
func (s WinogradConv) tilesH() int { return (s.OutH() + 1) / 2 }
func (s WinogradConv) tilesW() int { return (s.OutW() + 1) / 2 }

// tiles is the number of output tiles of all images, the GEMMs' N.
func (s WinogradConv) tiles() int { return s.N * s.tilesH() * s.tilesW() }

// OutLen is the number of output values, N·Cout·OutH·OutW.
func (s WinogradConv) OutLen() int { return s.N * s.Cout * s.OutH() * s.OutW() }

// winoBlockBytes bounds one worker's transformed inputs and products of a block of
// tiles (16·(C + Cout) values per tile), so that they stay in L2 between the
// transforms and the GEMMs.
const winoBlockBytes = 1 << 20

// winoBuf holds a worker's block buffers: transformed inputs v, products m, and the
// micro-kernel's edge tile.
type winoBuf struct {
	v, m, t []float32
}

var winoBufs = sync.Pool{New: func() any { return new(winoBuf) }}

// ConvWinograd computes y = (w ⋆ x + bias) + res for the convolution s: x (N, C, H, W),
// w (Cout, C, 3, 3), y (N, Cout, OutH, OutW); bias holds Cout values, N·Cout, or
// none (nil); res (the shape of y, not overlapping it) is added last, nil for none.
// beta is 0 (y overwritten, not read) or 1 (y += w ⋆ x + bias; res must be nil).
// Blocks of tiles are split among the goroutines.
func (g Gemm) ConvWinograd(y, x, w, bias, res []float32, s WinogradConv, beta float32) {
	s.check(len(y), len(x), len(w), len(bias), res, beta)
	kern := g.kernel("convwinograd")
	u := newWinoWeights(kern, w, s.Cout, s.C, s.Flipped)
	defer u.release()
	o := winoOut{y: y, bias: bias, res: res, beta: beta}
	nt := s.tiles()
	g.splitCols(kern, nt, 16*s.Cout*s.C*nt, func(t0, t1 int) {
		buf := winoBufs.Get().(*winoBuf)
		defer winoBufs.Put(buf)
		tb := s.blockTiles(kern.nr)
		for b0 := t0; b0 < t1; b0 += tb {
			s.block(kern, buf, &o, &u, x, b0, min(t1, b0+tb))
		}
	})
}

// winoWeights are the transformed kernels of a call: u, sixteen Cout × C matrices
// (U[ξ][co][ci] at u[ξ·Cout·C + co·C + ci]), read in place by the micro-kernel for
// the full row panels, and packed, the rows from full on packed by sgemmPackA a kc
// slice at a time (ξ's slice at pc starting at packed[ξ·pr·C + pr·pc], pr the packed
// rows rounded up to mr).
type winoWeights struct {
	u, packed       []float32
	full, pr, kc, c int
}

func newWinoWeights(kern *sgemmKernel, w []float32, cout, c int, flipped bool) winoWeights {
	ww := winoWeights{kc: min(kern.kc, c), c: c}
	if kern.microRowA != nil {
		ww.full = cout / kern.mr * kern.mr
	}
	ww.pr = roundUp(cout-ww.full, kern.mr)
	ww.u = Scratch(16 * cout * c)
	ww.packed = Scratch(16 * ww.pr * c)
	winoKernels(ww.u, w, cout, c, flipped)
	if ww.full < cout {
		ParallelFor(16, 1, func(lo, hi int) {
			for xi := lo; xi < hi; xi++ {
				a := ww.u[xi*cout*c : (xi+1)*cout*c]
				for pc := 0; pc < c; pc += ww.kc {
					kcl := min(ww.kc, c-pc)
					sgemmPackA(ww.packed[xi*ww.pr*c+ww.pr*pc:], false, a, c, ww.full, pc, cout-ww.full, kcl, kern.mr)
				}
			}
		})
	}
	return ww
}

func (ww *winoWeights) release() { PutScratch(ww.u); PutScratch(ww.packed) }

func (s WinogradConv) check(ny, nx, nw, nb int, res []float32, beta float32) {
	if s.N < 1 || s.C < 1 || s.Cout < 1 || s.Pad < 0 || s.Pad > 2 || s.OutH() < 1 || s.OutW() < 1 {
		panic(fmt.Sprintf("cpu: convwinograd: invalid WinogradConv %+v", s))
	}
	if nx < s.N*s.C*s.H*s.W || ny < s.OutLen() || nw < s.Cout*s.C*9 || (res != nil && len(res) < s.OutLen()) {
		panic(fmt.Sprintf("cpu: convwinograd: buffer too short (x %d, y %d, w %d, res %d) for %+v", nx, ny, nw, len(res), s))
	}
	if nb != 0 && nb != s.Cout && nb != s.N*s.Cout {
		panic(fmt.Sprintf("cpu: convwinograd: %d bias values for %d images of %d channels", nb, s.N, s.Cout))
	}
	if beta != 0 && (beta != 1 || res != nil) {
		panic("cpu: convwinograd: beta must be 0, or 1 without a residual")
	}
}

// blockTiles is the number of tiles of a block: a multiple of nr, as many as
// winoBlockBytes holds, at most 256.
func (s WinogradConv) blockTiles(nr int) int {
	per := 16 * 4 * (s.C + s.Cout)
	return max(nr, min(256, winoBlockBytes/per)/nr*nr)
}

// winoKernels writes U = G·g·Gᵀ of every kernel g = w[co][ci] (3×3) as sixteen
// Cout × C matrices: u[ξ·cout·c + co·c + ci] for ξ = 4·a + b. G's rows are (1, 0, 0),
// (½, ½, ½), (½, −½, ½), (0, 0, 1). Each output channel's kernels are first laid
// out tap by tap (nine rows of c values), so that both passes run along ci. With
// flipped, g is read from w (c, cout, 3, 3) flipped and transposed (WinogradConv.Flipped).
func winoKernels(u, w []float32, cout, c int, flipped bool) {
	ParallelFor(cout, chunkFor(16*c), func(lo, hi int) {
		rows := Scratch(21 * c) // nine taps, then G·g's twelve rows
		defer PutScratch(rows)
		row := func(r int) []float32 { return rows[r*c : (r+1)*c] }
		for co := lo; co < hi; co++ {
			for ci := range c {
				if flipped {
					g := (*[9]float32)(w[(ci*cout+co)*9:])
					for t, x := range g {
						rows[(8-t)*c+ci] = x
					}
					continue
				}
				g := (*[9]float32)(w[(co*c+ci)*9:])
				for t, x := range g {
					rows[t*c+ci] = x
				}
			}
			for j := range 3 { // G down the kernel's columns
				winoGRows(row(9+j), row(12+j), row(15+j), row(18+j), row(j), row(3+j), row(6+j))
			}
			for a := range 4 { // then G across
				k := func(b int) []float32 { o := ((4*a+b)*cout + co) * c; return u[o : o+c] }
				winoGRows(k(0), k(1), k(2), k(3), row(9+3*a), row(10+3*a), row(11+3*a))
			}
		}
	})
}

// winoGRows applies G to (g0[i], g1[i], g2[i]) for every i, into (d0[i], d1[i],
// d2[i], d3[i]).
func winoGRows(d0, d1, d2, d3, g0, g1, g2 []float32) {
	n := len(g0)
	d0, d1, d2, d3, g1, g2 = d0[:n], d1[:n], d2[:n], d3[:n], g1[:n], g2[:n]
	for i, x := range g0 {
		d0[i], d1[i], d2[i], d3[i] = winoG(x, g1[i], g2[i])
	}
}

// winoG is G applied to (g0, g1, g2).
func winoG(g0, g1, g2 float32) (float32, float32, float32, float32) {
	h := (g0 + g2) * 0.5
	return g0, h + g1*0.5, h - g1*0.5, g2
}

// block computes tiles [t0, t1) on the calling goroutine: their input transforms
// into packed B panels, the sixteen GEMMs, and the output transforms into y.
func (s WinogradConv) block(kern *sgemmKernel, buf *winoBuf, o *winoOut, u *winoWeights, x []float32, t0, t1 int) {
	nr := kern.nr
	tp := roundUp(t1-t0, nr)
	buf.v = growF32(buf.v, 16*s.C*tp)
	buf.m = growF32(buf.m, 16*s.Cout*tp)
	s.inputs(buf.v, x, t0, t1, tp, nr)
	s.products(kern, buf, u, tp)
	if s.narrow() {
		for t := t0; t < t1; {
			t += o.narrowRun(s, buf.m, t, t1, t-t0, tp)
		}
		return
	}
	s.forRuns(t0, t1, nr, func(n, i, j0, j1, lt int) {
		o.run(s, buf.m, n, i, j0, j1, lt, tp)
	})
}

// inputs writes the input transforms of tiles [t0, t1) into the packed panels v (a
// block of tp tiles, panels of nr), in narrow runs where the tile rows are narrow.
func (s WinogradConv) inputs(v, x []float32, t0, t1, tp, nr int) {
	if s.narrow() {
		for t := t0; t < t1; {
			lt := t - t0
			a, n := s.narrowInput(t, t1, lt, tp, nr)
			winoInputNarrow(v[(lt/nr)*nr*s.C+lt%nr:], x, &a)
			t += n
		}
		return
	}
	s.forRuns(t0, t1, nr, func(n, i, j0, j1, lt int) {
		a := s.inputRun(i, j0, j1, tp, nr)
		winoInput(v[(lt/nr)*nr*s.C+lt%nr:], x[n*s.C*s.H*s.W:(n+1)*s.C*s.H*s.W], &a)
	})
}

// forRuns calls run for each run of tiles of [t0, t1) in one tile row and one panel
// of nr tiles, at most 16 long: image n, tile row i, tile columns [j0, j1), the
// run's first tile at lt in the block.
func (s WinogradConv) forRuns(t0, t1, nr int, run func(n, i, j0, j1, lt int)) {
	th, tw := s.tilesH(), s.tilesW()
	for t := t0; t < t1; {
		n, r := t/(th*tw), t%(th*tw)
		i, j0 := r/tw, r%tw
		lt := t - t0
		j1 := min(tw, j0+t1-t, j0+16, j0+nr-lt%nr)
		run(n, i, j0, j1, lt)
		t += j1 - j0
	}
}

// inputRun returns the arguments of winoInput for tiles [j0, j1) of tile row i: the
// run reads input columns c0 = 2·j0 − Pad up to c0 + 2·(j1 − j0) + 2 of rows
// 2·i − Pad up to 2·i − Pad + 4, zero outside the plane.
func (s WinogradConv) inputRun(i, j0, j1, tp, nr int) winoIn {
	a := winoIn{vstride: s.C * tp, nr: nr, hw: s.H * s.W, c: s.C, store: uint16(1<<(j1-j0) - 1)}
	c0, l := 2*j0-s.Pad, 2*(j1-j0)+2
	var cols uint64 // bit q: column c0 + q inside the row and read
	for q := range l {
		if c := c0 + q; c >= 0 && c < s.W {
			cols |= 1 << q
		}
	}
	for k := range 4 {
		y := 2*i - s.Pad + k
		a.rowOff[k] = y*s.W + c0
		if y < 0 || y >= s.H {
			continue
		}
		for q := range 3 {
			a.load[k][q] = uint16(cols >> (16 * q))
		}
	}
	return a
}

// products computes the sixteen GEMMs of a block: m[ξ] (Cout × tp, row stride tp) =
// U[ξ] (Cout × C) · V[ξ] (the packed panels), K cut into kc slices.
func (s WinogradConv) products(kern *sgemmKernel, buf *winoBuf, u *winoWeights, tp int) {
	nr := kern.nr
	buf.t = growF32(buf.t, kern.mr*nr)
	sink := denseSink{ldc: tp}
	for xi := range 16 {
		a := u.u[xi*s.Cout*s.C : (xi+1)*s.Cout*s.C]
		v := buf.v[xi*s.C*tp : (xi+1)*s.C*tp]
		m := buf.m[xi*s.Cout*tp : (xi+1)*s.Cout*tp]
		for pc := 0; pc < s.C; pc += u.kc {
			kcl := min(u.kc, s.C-pc)
			ap := u.packed[xi*u.pr*s.C+u.pr*pc:]
			beta := float32(1)
			if pc == 0 {
				beta = 0
			}
			for q := 0; q < tp; q += nr {
				bpan := v[q*s.C+pc*nr : q*s.C+(pc+kcl)*nr]
				if u.full > 0 {
					panelTiles(kern, buf.t, a[pc:], s.C, nil, 0, u.full, kcl, bpan, nr, m, &sink, q, beta)
				}
				if u.full < s.Cout {
					panelTiles(kern, buf.t, a[pc:], s.C, ap, u.full, s.Cout-u.full, kcl, bpan, nr, m, &sink, q, beta)
				}
			}
		}
	}
}

// winoOut is where a Winograd convolution stores its tiles.
type winoOut struct {
	y, bias, res []float32
	beta         float32
}

// narrowRun stores the narrow run of tiles from t (lane lt of the block's products m)
// and returns its tile count.
func (o *winoOut) narrowRun(s WinogradConv, m []float32, t, t1, lt, tp int) int {
	img := t / (s.tilesH() * s.tilesW())
	flags, bias := o.flags(s, img)
	a, n := s.narrowOutput(t, t1, lt, tp, flags)
	winoOutputNarrow(m[lt:], o.y, o.res, bias, &a)
	return n
}

// flags returns the output flags of image n and the bias values it adds (from
// channel 0).
func (o *winoOut) flags(s WinogradConv, n int) (int, []float32) {
	var f int
	var bias []float32
	if len(o.bias) != 0 {
		f |= winoBias
		bias = o.bias
		if len(o.bias) != s.Cout {
			bias = o.bias[n*s.Cout:]
		}
	}
	if o.res != nil {
		f |= winoResidual
	}
	if o.beta != 0 {
		f |= winoAccumulate
	}
	return f, bias
}

// run stores the tiles [j0, j1) of tile row i of image n, every channel, from the
// block's products m (the run's first tile at lt).
func (o *winoOut) run(s WinogradConv, m []float32, n, i, j0, j1, lt, tp int) {
	oh, ow := s.OutH(), s.OutW()
	a := winoOutArgs{mstride: s.Cout * tp, tp: tp, ohw: oh * ow, c: s.Cout, ow: ow, rows: min(2, oh-2*i),
		load: uint16(1<<(j1-j0) - 1)}
	cols := 1<<min(2*(j1-j0), ow-2*j0) - 1 // the run's output columns
	a.store[0], a.store[1] = uint16(cols), uint16(cols>>16)
	off := n*s.Cout*oh*ow + 2*i*ow + 2*j0
	var res, bias []float32
	a.flags, bias = o.flags(s, n)
	if o.res != nil {
		res = o.res[off:]
	}
	winoOutput(m[lt:], o.y[off:], res, bias, &a)
}
