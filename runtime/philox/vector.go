package philox

// vectorArgs are the arguments of one uniformAVX512 call; the assembly reads its
// fields at fixed offsets (vector_amd64.s; TestVectorArgLayout checks them).
type vectorArgs struct {
	groups         int     // runs of 16 blocks
	lo, hi, s0, s1 uint32  // the first block's counter
	k0, k1         uint32  // the key
	mask           uint32  // 1: write scale where the value is at least p, else 0
	p, scale       float32 // the dropout threshold and the kept values' scale
}

// vectorBlocks writes the values of blocks b, b+1, … to d (a multiple of 64 long)
// with the assembly, cutting the run where the counter's low word wraps.
func (k Key) vectorBlocks(d []float32, b uint64, m *maskArgs) {
	a := vectorArgs{s0: uint32(k.Stream), s1: uint32(k.Stream >> 32), k0: uint32(k.Seed), k1: uint32(k.Seed >> 32)}
	if m != nil {
		a.mask, a.p, a.scale = 1, m.p, m.scale
	}
	for len(d) > 0 {
		groups := len(d) / 64
		if room := (1<<32 - uint64(uint32(b))) / 16; room < uint64(groups) {
			groups = int(room)
		}
		if groups == 0 { // fewer than 16 blocks before the low word wraps
			k.scalarBlocks(d[:64], b, m)
			d, b = d[64:], b+16
			continue
		}
		a.groups, a.lo, a.hi = groups, uint32(b), uint32(b>>32)
		uniformAVX512(&d[0], &a)
		d, b = d[64*groups:], b+16*uint64(groups)
	}
}
