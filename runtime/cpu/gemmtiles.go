package cpu

// tileSink says where the GEMM's C lives, for products whose C is not one
// row-major matrix (the convolution grid: one matrix per image).
type tileSink interface {
	// at returns the offset in c of element (i, j) and the row stride there when the
	// rows×cols tile at (i, j) is a plain strided block of c; ok is false otherwise.
	at(i, j, rows, cols int) (off, ldc int, ok bool)
	// store writes (beta 0) or adds (beta 1) the rows×cols tile t (row stride tld)
	// into c at (i, j).
	store(c, t []float32, tld, i, j, rows, cols int, beta float32)
}

// denseSink is a row-major C with row stride ldc.
type denseSink struct{ ldc int }

func (s *denseSink) at(i, j, rows, cols int) (int, int, bool) { return i*s.ldc + j, s.ldc, true }

func (s *denseSink) store(c, t []float32, tld, i, j, rows, cols int, beta float32) {
	for r := range rows {
		storeRow(c[(i+r)*s.ldc+j:(i+r)*s.ldc+j+cols], t[r*tld:r*tld+cols], beta)
	}
}

// imageSink is the output of a grid product: C of m rows whose column j = n·g + r
// (grid position r of image n) is c[n·m·g + i·g + r], one m×g matrix per image.
type imageSink struct{ m, g int }

func (s *imageSink) at(i, j, rows, cols int) (int, int, bool) {
	n, r := j/s.g, j%s.g
	return n*s.m*s.g + i*s.g + r, s.g, r+cols <= s.g
}

// store serves the tiles that straddle two images.
func (s *imageSink) store(c, t []float32, tld, i, j, rows, cols int, beta float32) {
	for done := 0; done < cols; {
		n, r := (j+done)/s.g, (j+done)%s.g
		l := min(cols-done, s.g-r)
		base := n*s.m*s.g + r
		for q := range rows {
			o := base + (i+q)*s.g
			storeRow(c[o:o+l], t[q*tld+done:q*tld+done+l], beta)
		}
		done += l
	}
}

// storeRow sets dst = src (beta 0) or dst += src (beta 1).
func storeRow(dst, src []float32, beta float32) {
	if beta == 0 {
		copy(dst, src)
		return
	}
	addTo(dst, src)
}

// runTiles multiplies the m×kc slice of a row-major A (a starts at its column 0,
// row stride lda) by the packed B panels bp (kc × nc, see sgemmPackB) into the
// columns [j0, j0+nc) of C as sink describes, with C = A·B + beta·C (beta 0 or 1):
// the inner loops of sgemmBlocked. Full row panels of A are read in place when the
// kernel can (microRowA); others are packed into buf.a.
func runTiles(kn *sgemmKernel, buf *sgemmBuf, a []float32, lda, m, kc int, bp []float32, nc int, c []float32, sink tileSink, j0 int, beta float32) {
	mr, nr := kn.mr, kn.nr
	direct := kn.microRowA != nil
	for ic := 0; ic < m; ic += kn.mc {
		mc := min(kn.mc, m-ic)
		ap := buf.a[:roundUp(mc, mr)*kc]
		if direct {
			if full := mc / mr * mr; full < mc {
				sgemmPackA(ap[full*kc:], false, a, lda, ic+full, 0, mc-full, kc, mr)
			}
		} else {
			sgemmPackA(ap, false, a, lda, ic, 0, mc, kc, mr)
		}
		for jr := 0; jr < nc; jr += nr {
			cols := min(nr, nc-jr)
			panelTiles(kn, buf.t, a, lda, ap, ic, mc, kc, bp[jr*kc:(jr+nr)*kc], cols, c, sink, j0+jr, beta)
		}
	}
}

// panelTiles multiplies rows [i0, i0+m) of A (row i at a[i·lda:], kc deep) by one
// packed B panel bpan (kc × nr, of which cols columns are wanted) into C at column
// j as sink describes, C = A·B + beta·C (beta 0 or 1). Full row panels of A are read
// in place when the kernel can (microRowA); the others come from ap, rows
// [i0, i0+m) packed by sgemmPackA (row i at panel (i−i0)/mr; ap may be nil when
// every row panel is read in place). Tiles that sink
// cannot take in place are computed into t (mr × nr) and stored by the sink.
func panelTiles(kn *sgemmKernel, t, a []float32, lda int, ap []float32, i0, m, kc int, bpan []float32, cols int, c []float32, sink tileSink, j int, beta float32) {
	mr, nr := kn.mr, kn.nr
	direct := kn.microRowA != nil
	for ir := 0; ir < m; ir += mr {
		rows := min(mr, m-ir)
		i := i0 + ir
		rowA := direct && rows == mr
		var apan []float32 // packed only where A is not read in place
		if !rowA {
			apan = ap[ir*kc : (ir+mr)*kc]
		}
		q, microRows := kn.rowsKernel(rows)
		if q == rows && cols == nr {
			if off, ldc, ok := sink.at(i, j, rows, cols); ok {
				switch {
				case rowA:
					kn.microRowA(kc, a[i*lda:], lda, bpan, c[off:], ldc, 1, beta)
				default:
					microRows(kc, apan, bpan, c[off:], ldc, 1, beta)
				}
				continue
			}
		}
		switch {
		case rowA:
			kn.microRowA(kc, a[i*lda:], lda, bpan, t, nr, 1, 0)
		case rows < mr:
			microRows(kc, apan, bpan, t, nr, 1, 0)
		case cols <= nr/2 && kn.microHalf != nil:
			kn.microHalf(kc, apan, bpan, t, nr, 1, 0)
		default:
			kn.micro(kc, apan, bpan, t, nr, 1, 0)
		}
		sink.store(c, t, nr, i, j, rows, cols, beta)
	}
}
