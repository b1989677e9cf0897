package cpu

import "fmt"

// ConvWinogradWeightGrad computes dw, the weight gradient of ConvWinograd: dw (Cout,
// C, 3, 3) is overwritten from dy (N, Cout, OutH, OutW) and x (N, C, H, W). It is the
// reverse of the forward algorithm: per block of tiles dM = A·dY·Aᵀ and V = Bᵀ·d·B,
// sixteen GEMMs dU[ξ] += dM[ξ]·V[ξ]ᵀ (K over the tiles), then dw = Gᵀ·dU·G. Each
// goroutine sums its own share of the tiles; the shares are added in a fixed order.
func (g Gemm) ConvWinogradWeightGrad(dw, dy, x []float32, s WinogradConv) {
	s.check(len(dy), len(x), len(dw), 0, nil, 0)
	kern := g.kernel("convwinogradweightgrad")
	nt := s.tiles()
	parts := max(1, g.colParts(kern, nt, 16*s.Cout*s.C*nt))
	du := make([][]float32, parts)
	ParallelFor(parts, 1, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			t0, t1 := nt*p/parts, nt*(p+1)/parts
			du[p] = Scratch(16 * s.Cout * s.C)
			s.gradShare(g.Kernel, kern, du[p], dy, x, t0, t1)
		}
	})
	winoKernelGrads(dw, du, s.Cout, s.C)
	for _, d := range du {
		PutScratch(d)
	}
}

// gradShare sums dU (sixteen Cout × C matrices, overwritten) over tiles [t0, t1),
// t0 < t1 (colParts gives no more shares than panels of tiles).
func (s WinogradConv) gradShare(k Kernel, kern *sgemmKernel, du, dy, x []float32, t0, t1 int) {
	buf := winoBufs.Get().(*winoBuf)
	defer winoBufs.Put(buf)
	one := Gemm{Kernel: k, Threads: 1}
	tb := s.blockTiles(kern.nr)
	for b0 := t0; b0 < t1; b0 += tb {
		b1 := min(t1, b0+tb)
		tp := roundUp(b1-b0, kern.nr)
		buf.v = growF32(buf.v, 16*s.C*tp)
		buf.m = growF32(buf.m, 16*s.Cout*tp)
		// One panel as wide as the block: V[ξ] is a row-major C × tp matrix.
		s.inputs(buf.v, x, b0, b1, tp, tp)
		s.gradOuts(buf.m, dy, b0, b1, tp)
		beta := float32(1)
		if b0 == t0 {
			beta = 0
		}
		for xi := range 16 {
			one.Sgemm(false, true, s.Cout, s.C, b1-b0, 1, buf.m[xi*s.Cout*tp:], tp, buf.v[xi*s.C*tp:], tp,
				beta, du[xi*s.Cout*s.C:], s.C)
		}
	}
}

// gradOuts writes dM of tiles [b0, b1) into the block's products m (tp tiles), in
// narrow runs where the tile rows are narrow.
func (s WinogradConv) gradOuts(m, dy []float32, b0, b1, tp int) {
	if s.narrow() {
		for t := b0; t < b1; {
			a, n := s.narrowOutput(t, b1, t-b0, tp, 0)
			winoGradOutNarrow(m[t-b0:], dy, &a)
			t += n
		}
		return
	}
	s.forRuns(b0, b1, tp, func(n, i, j0, j1, lt int) {
		d := s.gradRun(i, j0, j1, tp)
		winoGradOut(m[lt:], dy[n*s.Cout*s.OutH()*s.OutW()+2*i*s.OutW()+2*j0:], &d)
	})
}

// gradRun returns the arguments of winoGradOut for tiles [j0, j1) of tile row i.
func (s WinogradConv) gradRun(i, j0, j1, tp int) winoDyArgs {
	oh, ow := s.OutH(), s.OutW()
	a := winoDyArgs{mstride: s.Cout * tp, tp: tp, ohw: oh * ow, c: s.Cout, ow: ow, store: uint16(1<<(j1-j0) - 1)}
	cols := 1<<min(2*(j1-j0), ow-2*j0) - 1
	for r := range min(2, oh-2*i) {
		a.load[r] = [2]uint16{uint16(cols), uint16(cols >> 16)}
	}
	return a
}

// winoKernelGrads writes dw = Gᵀ·dU·G for every kernel, dU the sum of the shares du
// (each sixteen Cout × C matrices), added in order. Gᵀ's rows are (1, ½, ½, 0),
// (0, ½, −½, 0), (0, ½, ½, 1).
func winoKernelGrads(dw []float32, du [][]float32, cout, c int) {
	if len(dw) < cout*c*9 {
		panic(fmt.Sprintf("cpu: convwinogradweightgrad: %d weight-gradient values for %d", len(dw), cout*c*9))
	}
	ParallelFor(cout, chunkFor(16*c), func(lo, hi int) {
		rows := Scratch(28 * c) // dU's sixteen rows, then Gᵀ·dU's twelve
		defer PutScratch(rows)
		row := func(r int) []float32 { return rows[r*c : (r+1)*c] }
		for co := lo; co < hi; co++ {
			for xi := range 16 {
				r := row(xi)
				copy(r, du[0][(xi*cout+co)*c:])
				for _, d := range du[1:] {
					addTo(r, d[(xi*cout+co)*c:(xi*cout+co+1)*c])
				}
			}
			for b := range 4 { // Gᵀ down the columns
				winoGTRows(row(16+b), row(20+b), row(24+b), row(b), row(4+b), row(8+b), row(12+b))
			}
			for r := range 3 { // then across, into the taps
				winoGTTaps(dw[co*c*9:], 3*r, row(16+4*r), row(17+4*r), row(18+4*r), row(19+4*r))
			}
		}
	})
}

// winoGT is Gᵀ applied to (x0, x1, x2, x3).
func winoGT(x0, x1, x2, x3 float32) (float32, float32, float32) {
	h := (x1 + x2) * 0.5
	return x0 + h, (x1 - x2) * 0.5, h + x3
}

// winoGTRows applies Gᵀ to (x0[i], x1[i], x2[i], x3[i]) for every i, into (d0[i],
// d1[i], d2[i]).
func winoGTRows(d0, d1, d2, x0, x1, x2, x3 []float32) {
	n := len(x0)
	d0, d1, d2, x1, x2, x3 = d0[:n], d1[:n], d2[:n], x1[:n], x2[:n], x3[:n]
	for i, v := range x0 {
		d0[i], d1[i], d2[i] = winoGT(v, x1[i], x2[i], x3[i])
	}
}

// winoGTTaps applies Gᵀ across one row of Gᵀ·dU and writes taps t0, t0+1, t0+2 of
// every input channel's kernel: dw[ci·9 + t0 + s].
func winoGTTaps(dw []float32, t0 int, x0, x1, x2, x3 []float32) {
	n := len(x0)
	dw, x1, x2, x3 = dw[:9*n], x1[:n], x2[:n], x3[:n]
	for ci, v := range x0 {
		g := (*[9]float32)(dw[9*ci:])
		g[t0], g[t0+1], g[t0+2] = winoGT(v, x1[ci], x2[ci], x3[ci])
	}
}
