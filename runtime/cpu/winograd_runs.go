package cpu

import "math/bits"

// winoIn holds the arguments of one input-transform run (winoInput): up to 16 tiles
// of one tile row, every input channel. The assembly reads its fields at fixed
// offsets (winograd_amd64.s; TestWinoArgLayout checks them).
type winoIn struct {
	vstride int          // values between V[ξ] and V[ξ+1] (C·tp)
	nr      int          // values between channels in a panel
	hw      int          // values per input plane
	c       int          // input channels
	rowOff  [4]int       // offset in a plane of row k's first column of the run (may be negative)
	load    [4][3]uint16 // row k's columns c0+16·q+l read (bit l), zero for rows outside the plane
	store   uint16       // the run's tiles (bit j)
}

// winoOutArgs holds the arguments of one output-transform run (winoOutput): up to 16
// tiles of one tile row, every output channel.
type winoOutArgs struct {
	mstride int       // values between M[ξ] and M[ξ+1] (Cout·tp)
	tp      int       // values between channels in the products
	ohw     int       // values per output plane
	c       int       // output channels
	ow      int       // output row stride
	rows    int       // output rows of the tile row inside the plane: 1 or 2
	flags   int       // winoBias, winoResidual, winoAccumulate
	load    uint16    // the run's tiles (bit j)
	store   [2]uint16 // the run's output columns inside the plane (bit l of 32)
}

// Flags of winoOutArgs.
const (
	winoBias       = 1 // y = Y + bias (bias one value per channel)
	winoResidual   = 2 // then + res
	winoAccumulate = 4 // y += Y (+ bias)
)

// winoInput writes V = Bᵀ·d·B of a run's tiles, channel by channel: tile j's patch
// d[k][q] is input value x[ci·hw + rowOff[k] + 2·j + q] (zero where the load mask
// says), V[4·a + b] goes to v[ξ·vstride + ci·nr + j]. Bᵀ's rows are (1, 0, −1, 0),
// (0, 1, 1, 0), (0, −1, 1, 0), (0, 1, 0, −1), applied down the columns first.
func winoInput(v, x []float32, a *winoIn) {
	if winoVector {
		// Bounds: the masks name only values inside x; v holds the run's stores.
		_ = v[15*a.vstride+(a.c-1)*a.nr+bits.Len16(a.store)-1]
		winoInputAVX512(&v[0], &x[0], a)
		return
	}
	winoInputGo(v, x, a)
}

// winoInputGo is the portable winoInput, the same float32 operations in the same
// order as the assembly.
func winoInputGo(v, x []float32, a *winoIn) {
	var d [16][16]float32 // d[4·k + q][j]
	for ci := range a.c {
		for k := range 4 {
			var cols [48]float32
			for q := range 48 {
				if a.load[k][q/16]>>(q%16)&1 != 0 {
					cols[q] = x[ci*a.hw+a.rowOff[k]+q]
				}
			}
			for j := range 16 {
				for q := range 4 {
					d[4*k+q][j] = cols[2*j+q]
				}
			}
		}
		winoBStore(v, &d, a.store, a.vstride, ci*a.nr)
	}
}

// winoBStore transforms the patches d[4·k + q][j] of the tiles j in store and writes
// V[ξ] of tile j to v[ξ·vstride + off + j].
func winoBStore(v []float32, d *[16][16]float32, store uint16, vstride, off int) {
	for j := range 16 {
		if store>>j&1 == 0 {
			continue
		}
		var e [16]float32
		for q := range 4 {
			e[q], e[4+q], e[8+q], e[12+q] = winoB(d[q][j], d[4+q][j], d[8+q][j], d[12+q][j])
		}
		for r := range 4 {
			e[4*r], e[4*r+1], e[4*r+2], e[4*r+3] = winoB(e[4*r], e[4*r+1], e[4*r+2], e[4*r+3])
		}
		for xi, val := range e {
			v[xi*vstride+off+j] = val
		}
	}
}

// winoB is Bᵀ applied to (d0, d1, d2, d3).
func winoB(d0, d1, d2, d3 float32) (float32, float32, float32, float32) {
	return d0 - d2, d1 + d2, d2 - d1, d1 - d3
}

// winoOutput writes Y = Aᵀ·M·A of a run's tiles, channel by channel: M[ξ] of tile j
// is m[ξ·mstride + co·tp + j]; Y[a][b] goes to y[co·ohw + a·ow + 2·j + b] (where the
// store mask says), rounded as (Y + bias[co]) + res (see winoOutArgs.flags). Aᵀ's
// rows are (1, 1, 1, 0) and (0, 1, −1, −1), applied down the columns first.
func winoOutput(m, y, res, bias []float32, a *winoOutArgs) {
	if winoVector {
		last := (a.c-1)*a.ohw + (a.rows-1)*a.ow + bits.Len32(uint32(a.store[1])<<16|uint32(a.store[0])) - 1
		_ = m[15*a.mstride+(a.c-1)*a.tp+bits.Len16(a.load)-1]
		_ = y[last]
		rp, bp := winoOutPtrs(res, bias, last, a.c, a.flags)
		winoOutputAVX512(&m[0], &y[0], rp, bp, a)
		return
	}
	winoOutputGo(m, y, res, bias, a)
}

// winoOutPtrs returns the first residual and bias values the flags name (nil for
// none), checking that the residual reaches value last and the bias c values.
func winoOutPtrs(res, bias []float32, last, c, flags int) (rp, bp *float32) {
	if flags&winoResidual != 0 {
		_ = res[last]
		rp = &res[0]
	}
	if flags&winoBias != 0 {
		_ = bias[c-1]
		bp = &bias[0]
	}
	return rp, bp
}

// winoOutputGo is the portable winoOutput, the same float32 operations in the same
// order as the assembly.
func winoOutputGo(m, y, res, bias []float32, a *winoOutArgs) {
	for co := range a.c {
		ys := winoTiles(m, co, a.load, a.mstride, a.tp, bias, a.flags)
		for r := range a.rows {
			for l := range 32 {
				if a.store[l/16]>>(l%16)&1 != 0 {
					winoPut(y, res, co*a.ohw+r*a.ow+l, ys[l/2][r][l%2], a.flags)
				}
			}
		}
	}
}

// winoTiles returns Y = Aᵀ·M·A (+ bias[co] with winoBias) of channel co of the tiles
// j in load: M[ξ] of tile j is m[ξ·mstride + co·tp + j]; Y[a][b] is ys[j][a][b].
func winoTiles(m []float32, co int, load uint16, mstride, tp int, bias []float32, flags int) (ys [16][2][2]float32) {
	for j := range 16 {
		if load>>j&1 == 0 {
			continue
		}
		var t [2][4]float32 // Aᵀ·M
		for c := range 4 {
			mc := func(r int) float32 { return m[(4*r+c)*mstride+co*tp+j] }
			t[0][c] = mc(0) + mc(1) + mc(2)
			t[1][c] = mc(1) - mc(2) - mc(3)
		}
		for r := range 2 {
			ys[j][r] = [2]float32{t[r][0] + t[r][1] + t[r][2], t[r][1] - t[r][2] - t[r][3]}
			if flags&winoBias != 0 {
				ys[j][r][0] += bias[co]
				ys[j][r][1] += bias[co]
			}
		}
	}
	return ys
}

// winoPut stores one output value at y[k] as the flags say: y[k] = val, val + res[k],
// or y[k] + val.
func winoPut(y, res []float32, k int, val float32, flags int) {
	switch {
	case flags&winoResidual != 0:
		y[k] = val + res[k]
	case flags&winoAccumulate != 0:
		y[k] += val
	default:
		y[k] = val
	}
}

// winoDyArgs holds the arguments of one output-gradient transform run (winoGradOut):
// up to 16 tiles of one tile row, every output channel.
type winoDyArgs struct {
	mstride int          // values between dM[ξ] and dM[ξ+1] (Cout·tp)
	tp      int          // values between channels in dM
	ohw     int          // values per output-gradient plane
	c       int          // output channels
	ow      int          // output row stride
	load    [2][2]uint16 // output row a's columns 2·j0 + 16·h + l inside the plane (bit l)
	store   uint16       // the run's tiles (bit j)
}

// winoGradOut writes dM = A·dY·Aᵀ of a run's tiles, channel by channel: tile j's
// dY[a][b] is dy[co·ohw + a·ow + 2·j + b] (zero where the load mask says), dM[4·r +
// s] goes to dm[ξ·mstride + co·tp + j]. A's rows are (1, 0), (1, 1), (1, −1),
// (0, −1), applied down the columns first.
func winoGradOut(dm, dy []float32, a *winoDyArgs) {
	if winoVector {
		_ = dm[15*a.mstride+(a.c-1)*a.tp+bits.Len16(a.store)-1]
		winoGradOutAVX512(&dm[0], &dy[0], a)
		return
	}
	winoGradOutGo(dm, dy, a)
}

// winoGradOutGo is the portable winoGradOut, the same float32 operations in the same
// order as the assembly.
func winoGradOutGo(dm, dy []float32, a *winoDyArgs) {
	for co := range a.c {
		var d [16][2][2]float32 // dY[r][b] of tile j
		for r := range 2 {
			for l := range 32 {
				if a.load[r][l/16]>>(l%16)&1 != 0 {
					d[l/2][r][l%2] = dy[co*a.ohw+r*a.ow+l]
				}
			}
		}
		winoDMStore(dm, &d, a.store, a.mstride, co*a.tp)
	}
}

// winoDMStore writes dM = A·dY·Aᵀ of the tiles j in store, dY[r][b] of tile j in
// d[j][r][b], to dm[ξ·mstride + off + j].
func winoDMStore(dm []float32, d *[16][2][2]float32, store uint16, mstride, off int) {
	for j := range 16 {
		if store>>j&1 == 0 {
			continue
		}
		var z [4][2]float32 // A·dY
		for b := range 2 {
			z[0][b], z[1][b], z[2][b], z[3][b] = winoAT(d[j][0][b], d[j][1][b])
		}
		for r := range 4 {
			s0, s1, s2, s3 := winoAT(z[r][0], z[r][1])
			for s, v := range [4]float32{s0, s1, s2, s3} {
				dm[(4*r+s)*mstride+off+j] = v
			}
		}
	}
}

// winoAT is A applied to (x0, x1).
func winoAT(x0, x1 float32) (float32, float32, float32, float32) {
	return x0, x0 + x1, x0 - x1, -x1
}
