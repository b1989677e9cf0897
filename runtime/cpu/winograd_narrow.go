package cpu

import "math/bits"

// Narrow maps: a tile row of at most seven tiles needs at most sixteen input columns,
// one vector. A run of the input transform then takes up to four tile rows (of one
// image or of consecutive images), each loaded as its own sixteen-column window and
// permuted into its lanes, so that it fills up to sixteen lanes where a single tile
// row fills seven (14×14 maps) or four (7×7).

// narrow reports whether s's tile rows are narrow enough for winoInN runs.
func (s WinogradConv) narrow() bool { return s.tilesW() <= 7 }

// winoInN holds the arguments of one narrow input-transform run: up to four groups,
// each the tiles [j0, j1) of one tile row, in consecutive lanes. The assembly reads
// its fields at fixed offsets (winograd_amd64.s; TestWinoArgLayout checks them).
type winoInN struct {
	vstride int          // values between V[ξ] and V[ξ+1] (C·tp)
	nr      int          // values between channels in a panel
	hw      int          // values per input plane
	c       int          // input channels
	groups  int          // 1 to 4
	rowOff  [4][4]int    // group g, patch row k: offset in x of its window's first column, channel 0
	idx     [4][16]int32 // column q of lane l's tile in its group's window: 2·(l − first lane) + q
	load    [4][4]uint16 // group g, patch row k: the window's columns inside the plane (bit q)
	lanes   [4]uint16    // group g's lanes
	store   uint16       // the run's lanes
}

// narrowInput returns the arguments of the narrow run that starts at tile t (lane
// lt of a block of tp tiles in panels of nr) and ends before t1, and its tile count.
func (s WinogradConv) narrowInput(t, t1, lt, tp, nr int) (a winoInN, n int) {
	a = winoInN{vstride: s.C * tp, nr: nr, hw: s.H * s.W, c: s.C}
	a.groups, n = s.narrowGroups(t, min(16, nr-lt%nr, t1-t), func(g, lane, img, i, j0, j1 int) {
		c0 := 2*j0 - s.Pad
		var cols uint16
		for q := range 2*(j1-j0) + 2 {
			if c := c0 + q; c >= 0 && c < s.W {
				cols |= 1 << q
			}
		}
		for k := range 4 {
			y := 2*i - s.Pad + k
			a.rowOff[g][k] = img*s.C*s.H*s.W + y*s.W + c0
			if y >= 0 && y < s.H {
				a.load[g][k] = cols
			}
		}
		for l := lane; l < lane+j1-j0; l++ {
			for q := range 4 {
				a.idx[q][l] = int32(2*(l-lane) + q)
			}
		}
		a.lanes[g] = uint16((1<<(j1-j0) - 1) << lane)
	})
	a.store = uint16(1<<n - 1)
	return a, n
}

// narrowGroups cuts the tiles from t into up to four groups of at most limit tiles
// in all, each the tiles [j0, j1) of tile row i of image img, and calls group for
// each with its index g and its first lane. It returns the group and tile counts.
func (s WinogradConv) narrowGroups(t, limit int, group func(g, lane, img, i, j0, j1 int)) (groups, n int) {
	th, tw := s.tilesH(), s.tilesW()
	for ; groups < 4 && n < limit; groups++ {
		img, r := t/(th*tw), t%(th*tw)
		i, j0 := r/tw, r%tw
		j1 := min(tw, j0+limit-n)
		group(groups, n, img, i, j0, j1)
		n += j1 - j0
		t += j1 - j0
	}
	return groups, n
}

// winoInputNarrow writes V = Bᵀ·d·B of a narrow run's tiles, channel by channel, as
// winoInput does: lane l of group g has d[k][q] = x[ci·hw + rowOff[g][k] + idx[q][l]]
// (zero where the load mask says); V[ξ] goes to v[ξ·vstride + ci·nr + l].
func winoInputNarrow(v, x []float32, a *winoInN) {
	if winoVector {
		_ = v[15*a.vstride+(a.c-1)*a.nr+bits.Len16(a.store)-1]
		winoInputNarrowAVX512(&v[0], &x[0], a)
		return
	}
	winoInputNarrowGo(v, x, a)
}

// winoInputNarrowGo is the portable winoInputNarrow, the same float32 operations in
// the same order as the assembly.
func winoInputNarrowGo(v, x []float32, a *winoInN) {
	var d [16][16]float32 // d[4·k + q][lane]
	for ci := range a.c {
		for g := range a.groups {
			for k := range 4 {
				var win [16]float32
				for q := range 16 {
					if a.load[g][k]>>q&1 != 0 {
						win[q] = x[ci*a.hw+a.rowOff[g][k]+q]
					}
				}
				for l := range 16 {
					if a.lanes[g]>>l&1 != 0 {
						for q := range 4 {
							d[4*k+q][l] = win[a.idx[q][l]]
						}
					}
				}
			}
		}
		winoBStore(v, &d, a.store, a.vstride, ci*a.nr)
	}
}

// winoOutN holds the arguments of one narrow output-transform run: up to four
// groups, each the tiles of one tile row of one image in consecutive lanes.
type winoOutN struct {
	mstride int // values between M[ξ] and M[ξ+1] (Cout·tp)
	tp      int // values between channels in the products
	ohw     int // values per output plane
	c       int // output channels
	ow      int // output row stride
	flags   int // winoBias, winoResidual, winoAccumulate
	groups  int // 1 to 4
	load    uint16
	grp     [4]winoOutGroup
}

// winoOutGroup is where one group of a narrow output run goes: output row r of the
// interleaved vectors (column 2·l + b for tile lane l) at y[co·ohw + off[r] + column],
// where store[r] (32 bits in two halves) says.
type winoOutGroup struct {
	off   [2]int
	store [2][2]uint16
}

// narrowOutput returns the arguments of the narrow output run that starts at tile t
// (lane lt of the block's products) and ends before t1, in one image, and its tile
// count.
func (s WinogradConv) narrowOutput(t, t1, lt, tp int, flags int) (a winoOutN, n int) {
	oh, ow := s.OutH(), s.OutW()
	a = winoOutN{mstride: s.Cout * tp, tp: tp, ohw: oh * ow, c: s.Cout, ow: ow, flags: flags}
	per := s.tilesH() * s.tilesW()
	a.groups, n = s.narrowGroups(t, min(16, t1-t, (t/per+1)*per-t), func(g, lane, img, i, j0, j1 int) {
		cols := uint32(1<<min(2*(j1-j0), ow-2*j0)-1) << (2 * lane)
		for row := range min(2, oh-2*i) {
			a.grp[g].off[row] = img*s.Cout*oh*ow + (2*i+row)*ow + 2*j0 - 2*lane
			a.grp[g].store[row] = [2]uint16{uint16(cols), uint16(cols >> 16)}
		}
	})
	a.load = uint16(1<<n - 1)
	return a, n
}

// winoOutputNarrow writes Y = Aᵀ·M·A of a narrow run's tiles, channel by channel, as
// winoOutput does; y and res are the whole output (the groups' offsets say where).
func winoOutputNarrow(m, y, res, bias []float32, a *winoOutN) {
	if winoVector {
		_ = m[15*a.mstride+(a.c-1)*a.tp+bits.Len16(a.load)-1]
		last := a.lastOut()
		_ = y[last]
		rp, bp := winoOutPtrs(res, bias, last, a.c, a.flags)
		winoOutputNarrowAVX512(&m[0], &y[0], rp, bp, a)
		return
	}
	winoOutputNarrowGo(m, y, res, bias, a)
}

// lastOut is the index of the last output value a narrow run stores (or reads, for
// the output gradient), in its last channel.
func (a *winoOutN) lastOut() int {
	last := 0
	for _, g := range a.grp[:a.groups] {
		for r, st := range g.store {
			if w := uint32(st[1])<<16 | uint32(st[0]); w != 0 {
				last = max(last, (a.c-1)*a.ohw+g.off[r]+bits.Len32(w)-1)
			}
		}
	}
	return last
}

// winoOutputNarrowGo is the portable winoOutputNarrow, the same float32 operations
// in the same order as the assembly.
func winoOutputNarrowGo(m, y, res, bias []float32, a *winoOutN) {
	for co := range a.c {
		ys := winoTiles(m, co, a.load, a.mstride, a.tp, bias, a.flags)
		for _, g := range a.grp[:a.groups] {
			for r, st := range g.store {
				for l := range 32 {
					if st[l/16]>>(l%16)&1 != 0 {
						winoPut(y, res, co*a.ohw+g.off[r]+l, ys[l/2][r][l%2], a.flags)
					}
				}
			}
		}
	}
}

// winoGradOutNarrow writes dM = A·dY·Aᵀ of a narrow run's tiles, channel by channel,
// as winoGradOut does: a holds the run's groups as narrowOutput gives them (where
// each group's output-gradient rows are), dy is the whole output gradient.
func winoGradOutNarrow(dm, dy []float32, a *winoOutN) {
	if winoVector {
		_ = dm[15*a.mstride+(a.c-1)*a.tp+bits.Len16(a.load)-1]
		_ = dy[a.lastOut()]
		winoGradOutNarrowAVX512(&dm[0], &dy[0], a)
		return
	}
	winoGradOutNarrowGo(dm, dy, a)
}

// winoGradOutNarrowGo is the portable winoGradOutNarrow, the same float32 operations
// in the same order as the assembly.
func winoGradOutNarrowGo(dm, dy []float32, a *winoOutN) {
	for co := range a.c {
		var d [16][2][2]float32
		for _, g := range a.grp[:a.groups] {
			for r, st := range g.store {
				for l := range 32 {
					if st[l/16]>>(l%16)&1 != 0 {
						d[l/2][r][l%2] = dy[co*a.ohw+g.off[r]+l]
					}
				}
			}
		}
		winoDMStore(dm, &d, a.load, a.mstride, co*a.tp)
	}
}
