package cpu

// Upsample2x performs nearest-neighbour 2× upsampling of nc planes of h×w
// (src) into nc planes of 2h×2w (dst):
//
//	dst[p, 2i+a, 2j+b] = src[p, i, j]   for a, b ∈ {0, 1}
//
// Source rows are split with ParallelFor.
func Upsample2x(dst, src []float32, nc, h, w int) {
	if nc < 0 || h < 1 || w < 1 {
		panic("cpu: Upsample2x: invalid shape")
	}
	needLen("Upsample2x", "src", src, nc*h*w, false)
	needLen("Upsample2x", "dst", dst, 4*nc*h*w, false)
	ParallelFor(nc*h, chunkFor(4*w), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := src[r*w : (r+1)*w]
			d0 := dst[4*r*w : 4*r*w+2*w]
			d0 = d0[:2*len(s)]
			for j, v := range s {
				d0[2*j] = v
				d0[2*j+1] = v
			}
			copy(dst[4*r*w+2*w:4*r*w+4*w], d0)
		}
	})
}

// Upsample2xBackward is the adjoint of Upsample2x: it overwrites
//
//	dsrc[p, i, j] = ddst[p, 2i, 2j] + ddst[p, 2i, 2j+1] + ddst[p, 2i+1, 2j] + ddst[p, 2i+1, 2j+1]
//
// Source rows are split with ParallelFor.
func Upsample2xBackward(dsrc, ddst []float32, nc, h, w int) {
	if nc < 0 || h < 1 || w < 1 {
		panic("cpu: Upsample2xBackward: invalid shape")
	}
	needLen("Upsample2xBackward", "dsrc", dsrc, nc*h*w, false)
	needLen("Upsample2xBackward", "ddst", ddst, 4*nc*h*w, false)
	ParallelFor(nc*h, chunkFor(4*w), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := dsrc[r*w : (r+1)*w]
			d0 := ddst[4*r*w : 4*r*w+2*w]
			d1 := ddst[4*r*w+2*w : 4*r*w+4*w]
			d0, d1 = d0[:2*len(s)], d1[:2*len(s)]
			for j := range s {
				s[j] = (d0[2*j] + d0[2*j+1]) + (d1[2*j] + d1[2*j+1])
			}
		}
	})
}
