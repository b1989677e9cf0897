package cpu

import (
	"fmt"
	"runtime"
	"sync"
)

// Kernel names a GEMM micro-kernel implementation.
type Kernel int

const (
	KernelGeneric Kernel = iota // portable Go
	KernelAVX2                  // AVX2 + FMA assembly
	KernelAVX512                // AVX-512F assembly
)

// String returns "generic", "avx2" or "avx512".
func (k Kernel) String() string {
	switch k {
	case KernelGeneric:
		return "generic"
	case KernelAVX2:
		return "avx2"
	case KernelAVX512:
		return "avx512"
	}
	return fmt.Sprintf("Kernel(%d)", int(k))
}

// Available reports whether k can run on this CPU (generic always true).
func (k Kernel) Available() bool {
	return k >= 0 && int(k) < len(sgemmKernels) && sgemmKernels[k] != nil
}

// bestKernel is the fastest available kernel; sgemmKernels is immutable after
// package initialisation, so this is computed once.
var bestKernel = func() Kernel {
	for _, k := range []Kernel{KernelAVX512, KernelAVX2} {
		if k.Available() {
			return k
		}
	}
	return KernelGeneric
}()

// BestKernel returns the fastest kernel this CPU supports.
func BestKernel() Kernel { return bestKernel }

// Gemm holds the settings of a GEMM call: the kernel and how many goroutines
// may work on it. Threads <= 0 means runtime.GOMAXPROCS(0).
type Gemm struct {
	Kernel  Kernel
	Threads int
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with BestKernel() on all cores.
// See Gemm.Sgemm.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Gemm{Kernel: bestKernel}.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C in row-major storage, where
// op(A) is m×k and op(B) is k×n. Without transA, A is m×k with row stride lda;
// with transA, A is k×m with row stride lda and op(A) = Aᵀ. Likewise B is k×n
// (or n×k with transB) with row stride ldb. C is m×n with row stride ldc; only
// its m×n window is written. beta == 0 means C is overwritten without being
// read (NaNs in C do not leak). k == 0 gives C = beta·C.
//
// Invalid arguments (negative sizes, leading dimensions too small, slices too
// short, a kernel not available on this CPU) panic.
func (g Gemm) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g.SgemmBatched(transA, transB, 1, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0)
}

// SgemmBatched runs batch independent products C_i = alpha·op(A_i)·op(B_i) +
// beta·C_i with the conventions of Sgemm; matrix i of A starts at
// a[i*strideA] (likewise B and C). strideA or strideB may be 0 (the same
// matrix for every item, e.g. a shared weight); the C matrices must not
// overlap.
func (g Gemm) SgemmBatched(transA, transB bool, batch, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	sgemmCheck(transA, transB, batch, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC)
	if !g.Kernel.Available() {
		panic(fmt.Sprintf("cpu: sgemm: kernel %v is not available on this CPU", g.Kernel))
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := range batch {
			sgemmScaleC(m, n, beta, c[i*strideC:], ldc)
		}
		return
	}
	kern := sgemmKernels[g.Kernel]
	threads := g.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := sgemmProblem{
		kern: kern, transA: transA, transB: transB,
		m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, sa: strideA,
		b: b, ldb: ldb, sb: strideB,
		c: c, ldc: ldc, sc: strideC,
		batch: batch,
	}
	work := m * n * k // multiply-adds per item
	if threads == 1 || work*batch < 2*sgemmMinWorkPerThread {
		p.runSerial()
		return
	}
	// Whole items per worker when that balances well; otherwise split each
	// item's M or N range among the workers.
	if batch > 1 && (batch%threads == 0 || batch >= 4*threads) {
		parts := min(threads, batch)
		sgemmRunParallel(&p, parts, sgemmSplitBatch)
		return
	}
	// Split the dimension whose other operand is cheaper to pack twice and
	// that has enough tiles for every worker.
	mt, nt := (m+kern.mr-1)/kern.mr, (n+kern.nr-1)/kern.nr
	split, tiles := sgemmSplitM, mt
	if nt > mt || (nt == mt && m*k > n*k) {
		split, tiles = sgemmSplitN, nt
	}
	parts := min(threads, tiles, work/sgemmMinWorkPerThread)
	for i := range batch {
		q := p
		q.batch = 1
		q.a, q.b, q.c = p.a[i*strideA:], p.b[i*strideB:], p.c[i*strideC:]
		if parts <= 1 {
			q.runSerial()
		} else {
			sgemmRunParallel(&q, parts, split)
		}
	}
}

// sgemmMinWorkPerThread is the number of multiply-adds below which a share of
// a product is not worth handing to another goroutine (a hand-off costs a few
// microseconds; this is about five).
const sgemmMinWorkPerThread = 1 << 18

// sgemmCheck panics on invalid arguments.
func sgemmCheck(transA, transB bool, batch, m, n, k int, a []float32, lda, strideA int, b []float32, ldb, strideB int, c []float32, ldc, strideC int) {
	if batch < 0 || m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("cpu: sgemm: negative size batch=%d m=%d n=%d k=%d", batch, m, n, k))
	}
	if strideA < 0 || strideB < 0 || strideC < 0 {
		panic(fmt.Sprintf("cpu: sgemm: negative stride strideA=%d strideB=%d strideC=%d", strideA, strideB, strideC))
	}
	// Stored shapes (rows × cols) of A and B.
	ar, ac, an := m, k, "k"
	if transA {
		ar, ac, an = k, m, "m"
	}
	br, bc, bn := k, n, "n"
	if transB {
		br, bc, bn = n, k, "k"
	}
	if lda < max(1, ac) {
		panic(fmt.Sprintf("cpu: sgemm: lda %d < %s %d", lda, an, max(1, ac)))
	}
	if ldb < max(1, bc) {
		panic(fmt.Sprintf("cpu: sgemm: ldb %d < %s %d", ldb, bn, max(1, bc)))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("cpu: sgemm: ldc %d < n %d", ldc, max(1, n)))
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	need := func(rows, cols, ld int) int { return (rows-1)*ld + cols }
	if batch > 1 && strideC < need(m, n, ldc) {
		panic(fmt.Sprintf("cpu: sgemm: strideC %d < %d: the C matrices of a batch overlap", strideC, need(m, n, ldc)))
	}
	if nc := (batch-1)*strideC + need(m, n, ldc); len(c) < nc {
		panic(fmt.Sprintf("cpu: sgemm: len(c) %d < %d", len(c), nc))
	}
	if k == 0 {
		return
	}
	if na := (batch-1)*strideA + need(ar, ac, lda); len(a) < na {
		panic(fmt.Sprintf("cpu: sgemm: len(a) %d < %d", len(a), na))
	}
	if nb := (batch-1)*strideB + need(br, bc, ldb); len(b) < nb {
		panic(fmt.Sprintf("cpu: sgemm: len(b) %d < %d", len(b), nb))
	}
}

// sgemmScaleC sets C = beta·C (C = 0 when beta == 0, whatever C held).
func sgemmScaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// sgemmKernel describes a micro-kernel and the cache blocking that suits it.
type sgemmKernel struct {
	mr, nr     int // register tile: mr rows of C by nr columns
	kc, mc, nc int // cache blocks: kc of K (multiple of 1), mc of M (multiple of mr), nc of N (multiple of nr)
	// micro computes, for i < mr and j < nr,
	//
	//	s := sum over p < kc of a[p*mr+i] * b[p*nr+j]
	//	c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]   // c not read when beta == 0
	//
	// a and b are packed panels; kc >= 1.
	micro func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
	// microHalf, if not nil, computes the left half (j < nr/2) of micro's
	// tile from the same panels; it serves column edges with <= nr/2 columns.
	microHalf func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
	// microRowA, if not nil, is micro with A read in place: a[i*lda+p]
	// for i < mr instead of a packed panel. It serves full row panels of
	// a row-major op(A) (no transA), which then need no packing.
	microRowA func(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32)
	// microColA, if not nil, is micro with A read in place from a
	// transposed matrix: a[p*lda+i] for i < mr. It serves full row panels of
	// op(A) = Aᵀ (transA).
	microColA func(kc int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32)
	// micro4 and micro8, if not nil, compute the first 4 or 8 rows of micro's tile
	// from the same panels; they serve a partial last row panel (an M that is not
	// a multiple of mr) without computing the rows it lacks.
	micro4, micro8 func(kc int, a, b, c []float32, ldc int, alpha, beta float32)
}

// rowsKernel returns the micro-kernel for a row panel with rows valid rows and the
// number of rows it writes (at least rows): micro4 or micro8 where the kernel has
// them and rows fit, else micro and mr.
func (kn *sgemmKernel) rowsKernel(rows int) (int, func(kc int, a, b, c []float32, ldc int, alpha, beta float32)) {
	switch {
	case rows <= 4 && kn.micro4 != nil:
		return 4, kn.micro4
	case rows <= 8 && kn.micro8 != nil:
		return 8, kn.micro8
	}
	return kn.mr, kn.micro
}

// sgemmProblem is a (batched) product, or a worker's share of one.
type sgemmProblem struct {
	kern           *sgemmKernel
	transA, transB bool
	batch, m, n, k int
	alpha, beta    float32
	a              []float32
	lda, sa        int
	b              []float32
	ldb, sb        int
	c              []float32
	ldc, sc        int
}

// sgemmBuf holds a worker's packing buffers.
type sgemmBuf struct {
	a, b, t []float32
}

var sgemmBufs = sync.Pool{New: func() any { return new(sgemmBuf) }}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// runSerial computes the problem on the calling goroutine.
func (p *sgemmProblem) runSerial() {
	buf := sgemmBufs.Get().(*sgemmBuf)
	kn := p.kern
	kc, mc, nc := min(kn.kc, p.k), min(kn.mc, roundUp(p.m, kn.mr)), min(kn.nc, roundUp(p.n, kn.nr))
	buf.a = growF32(buf.a, roundUp(mc, kn.mr)*kc)
	buf.b = growF32(buf.b, roundUp(nc, kn.nr)*kc)
	buf.t = growF32(buf.t, kn.mr*kn.nr)
	for i := range p.batch {
		sgemmBlocked(p, buf, p.a[i*p.sa:], p.b[i*p.sb:], p.c[i*p.sc:])
	}
	sgemmBufs.Put(buf)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// sgemmBlocked is the GotoBLAS loop nest for one product on one goroutine:
// for each nc-wide block of columns and kc-deep slice of K, pack op(B) into
// nr-column panels (kept in L2/L3); for each mc-tall block of rows pack op(A)
// into mr-row panels (kept in L2); then run the micro-kernel over the tiles,
// with one B panel resident in L1 while the A panels stream past it.
func sgemmBlocked(p *sgemmProblem, buf *sgemmBuf, a, b, c []float32) {
	kn := p.kern
	mr, nr := kn.mr, kn.nr
	m, n, k := p.m, p.n, p.k
	// direct: full row panels of op(A) are read in place by microA.
	microA := kn.microRowA
	if p.transA {
		microA = kn.microColA
	}
	direct := microA != nil && n > nr/2
	// aoff is the offset in a of op(A)[i][p].
	lda := p.lda
	aoff := func(i, q int) int { return i*lda + q }
	if p.transA {
		aoff = func(i, q int) int { return q*lda + i }
	}
	for jc := 0; jc < n; jc += kn.nc {
		nc := min(kn.nc, n-jc)
		for pc := 0; pc < k; pc += kn.kc {
			kc := min(kn.kc, k-pc)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			bp := buf.b[:roundUp(nc, nr)*kc]
			sgemmPackB(bp, p.transB, b, p.ldb, pc, jc, kc, nc, nr)
			for ic := 0; ic < m; ic += kn.mc {
				mc := min(kn.mc, m-ic)
				ap := buf.a[:roundUp(mc, mr)*kc]
				if direct {
					// Full panels are read in place; pack only a partial last one.
					if full := mc / mr * mr; full < mc {
						sgemmPackA(ap[full*kc:], p.transA, a, p.lda, ic+full, pc, mc-full, kc, mr)
					}
				} else {
					sgemmPackA(ap, p.transA, a, p.lda, ic, pc, mc, kc, mr)
				}
				for jr := 0; jr < nc; jr += nr {
					cols := min(nr, nc-jr)
					bpan := bp[jr*kc : (jr+nr)*kc]
					for ir := 0; ir < mc; ir += mr {
						rows := min(mr, mc-ir)
						apan := ap[ir*kc : (ir+mr)*kc]
						off := (ic+ir)*p.ldc + jc + jr
						rowA := direct && rows == mr
						if rows == mr && cols == nr {
							if rowA {
								microA(kc, a[aoff(ic+ir, pc):], p.lda, bpan, c[off:], p.ldc, p.alpha, beta)
							} else {
								kn.micro(kc, apan, bpan, c[off:], p.ldc, p.alpha, beta)
							}
							continue
						}
						q, microRows := kn.rowsKernel(rows)
						if q == rows && cols == nr {
							microRows(kc, apan, bpan, c[off:], p.ldc, p.alpha, beta)
							continue
						}
						// Edge tile: compute into t, copy the valid part.
						t := buf.t
						if rowA {
							microA(kc, a[aoff(ic+ir, pc):], p.lda, bpan, t, nr, p.alpha, 0)
						} else if rows < mr {
							microRows(kc, apan, bpan, t, nr, p.alpha, 0)
						} else if cols <= nr/2 && kn.microHalf != nil {
							kn.microHalf(kc, apan, bpan, t, nr, p.alpha, 0)
						} else {
							kn.micro(kc, apan, bpan, t, nr, p.alpha, 0)
						}
						storeTile(c[off:], p.ldc, t, nr, rows, cols, beta)
					}
				}
			}
		}
	}
}

// storeTile writes the rows×cols corner of the edge tile t (row stride nr) into c
// (row stride ldc): c = beta·c + t.
func storeTile(c []float32, ldc int, t []float32, nr, rows, cols int, beta float32) {
	for i := range rows {
		dst := c[i*ldc : i*ldc+cols]
		src := t[i*nr : i*nr+cols]
		switch beta {
		case 0:
			copy(dst, src)
		case 1:
			for j, v := range src {
				dst[j] += v
			}
		default:
			for j, v := range src {
				dst[j] = beta*dst[j] + v
			}
		}
	}
}

// sgemmPackA packs rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into
// mr-row panels: panel q holds dst[q*mr*kc + p*mr + r] = op(A)[i0+q*mr+r][p0+p],
// with rows past mc zero.
func sgemmPackA(dst []float32, transA bool, a []float32, lda, i0, p0, mc, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		rows := min(mr, mc-ir)
		d := dst[ir*kc : (ir+mr)*kc]
		if transA {
			// op(A)[i][p] = a[p*lda+i]: each k step is a contiguous run of rows.
			if rows == mr && sgemmCopyRows(d, a[p0*lda+i0+ir:], lda, kc, mr) {
				continue
			}
			for p := range kc {
				src := a[(p0+p)*lda+i0+ir:]
				dp := d[p*mr : p*mr+mr]
				copy(dp, src[:rows])
				clear(dp[rows:])
			}
			continue
		}
		if rows == mr && sgemmPackRows(d, a[(i0+ir)*lda+p0:], lda, kc, mr) {
			continue
		}
		for r := range rows {
			src := a[(i0+ir+r)*lda+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*mr+r] = v
			}
		}
		for r := rows; r < mr; r++ {
			for p := range kc {
				d[p*mr+r] = 0
			}
		}
	}
}

// sgemmPackB packs rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into
// nr-column panels: panel q holds dst[q*nr*kc + p*nr + j] = op(B)[p0+p][j0+q*nr+j],
// with columns past nc zero.
func sgemmPackB(dst []float32, transB bool, b []float32, ldb, p0, j0, kc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		d := dst[jr*kc : (jr+nr)*kc]
		if !transB {
			// op(B)[p][j] = b[p*ldb+j]: each k step is a contiguous run of columns.
			if cols == nr && sgemmCopyRows(d, b[p0*ldb+j0+jr:], ldb, kc, nr) {
				continue
			}
			for p := range kc {
				src := b[(p0+p)*ldb+j0+jr:]
				dp := d[p*nr : p*nr+nr]
				copy(dp, src[:cols])
				clear(dp[cols:])
			}
			continue
		}
		if cols == nr && sgemmPackRows(d, b[(j0+jr)*ldb+p0:], ldb, kc, nr) {
			continue
		}
		for j := range cols {
			src := b[(j0+jr+j)*ldb+p0:]
			src = src[:kc]
			for p, v := range src {
				d[p*nr+j] = v
			}
		}
		for j := cols; j < nr; j++ {
			for p := range kc {
				d[p*nr+j] = 0
			}
		}
	}
}

// sgemmCopyRows copies kc rows of w values (row stride ld) of src into
// d[p*w : p*w+w] for the widths it specialises (4, 6, 12, 16, 32) with
// fixed-size 16-byte moves (the compiler inlines those, while larger array
// copies become memmove calls), and reports whether it did.
func sgemmCopyRows(d, src []float32, ld, kc, w int) bool {
	switch w {
	case 4:
		for p := range kc {
			*(*[4]float32)(d[p*4:]) = *(*[4]float32)(src[p*ld:])
		}
	case 6:
		for p := range kc {
			s, dd := src[p*ld:p*ld+6], d[p*6:p*6+6]
			*(*[4]float32)(dd) = *(*[4]float32)(s)
			*(*[2]float32)(dd[4:]) = *(*[2]float32)(s[4:])
		}
	case 12:
		for p := range kc {
			s, dd := src[p*ld:p*ld+12], d[p*12:p*12+12]
			*(*[4]float32)(dd) = *(*[4]float32)(s)
			*(*[4]float32)(dd[4:]) = *(*[4]float32)(s[4:])
			*(*[4]float32)(dd[8:]) = *(*[4]float32)(s[8:])
		}
	case 16:
		for p := range kc {
			s, dd := src[p*ld:p*ld+16], d[p*16:p*16+16]
			*(*[4]float32)(dd) = *(*[4]float32)(s)
			*(*[4]float32)(dd[4:]) = *(*[4]float32)(s[4:])
			*(*[4]float32)(dd[8:]) = *(*[4]float32)(s[8:])
			*(*[4]float32)(dd[12:]) = *(*[4]float32)(s[12:])
		}
	case 32:
		for p := range kc {
			s, dd := src[p*ld:p*ld+32], d[p*32:p*32+32]
			*(*[4]float32)(dd) = *(*[4]float32)(s)
			*(*[4]float32)(dd[4:]) = *(*[4]float32)(s[4:])
			*(*[4]float32)(dd[8:]) = *(*[4]float32)(s[8:])
			*(*[4]float32)(dd[12:]) = *(*[4]float32)(s[12:])
			*(*[4]float32)(dd[16:]) = *(*[4]float32)(s[16:])
			*(*[4]float32)(dd[20:]) = *(*[4]float32)(s[20:])
			*(*[4]float32)(dd[24:]) = *(*[4]float32)(s[24:])
			*(*[4]float32)(dd[28:]) = *(*[4]float32)(s[28:])
		}
	default:
		return false
	}
	return true
}

// sgemmPackRows transposes w full rows of length kc (row stride ld) of src
// into d[p*w+r] = src[r*ld+p] for the widths it specialises (6 and
// multiples of 4), and reports whether it did.
func sgemmPackRows(d, src []float32, ld, kc, w int) bool {
	d = d[:kc*w]
	switch w {
	case 4:
		r0, r1, r2, r3 := src[:kc], src[ld:ld+kc], src[2*ld:2*ld+kc], src[3*ld:3*ld+kc]
		for p := range kc {
			dp := d[p*4 : p*4+4 : p*4+4]
			dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
		}
	case 6:
		r0, r1, r2 := src[:kc], src[ld:ld+kc], src[2*ld:2*ld+kc]
		r3, r4, r5 := src[3*ld:3*ld+kc], src[4*ld:4*ld+kc], src[5*ld:5*ld+kc]
		for p := range kc {
			dp := d[p*6 : p*6+6 : p*6+6]
			dp[0], dp[1], dp[2], dp[3], dp[4], dp[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
		}
	case 8, 12, 16, 20, 24, 28, 32:
		var rows [32][]float32
		for r := range w {
			rows[r] = src[r*ld : r*ld+kc]
		}
		return transposeRows(d, rows[:w], kc) // 8×8 AVX transposes where it can
	default:
		return false
	}
	return true
}

// sgemmSplit says how sgemmRunParallel divides a problem.
type sgemmSplit int

const (
	sgemmSplitBatch sgemmSplit = iota // whole batch items per worker
	sgemmSplitM                       // row ranges (multiples of mr)
	sgemmSplitN                       // column ranges (multiples of nr)
)

// part returns worker i's share of p (of parts), or ok == false if empty.
func (p *sgemmProblem) part(split sgemmSplit, i, parts int) (q sgemmProblem, ok bool) {
	q = *p
	switch split {
	case sgemmSplitBatch:
		lo, hi := p.batch*i/parts, p.batch*(i+1)/parts
		q.batch = hi - lo
		q.a, q.b, q.c = p.a[lo*p.sa:], p.b[lo*p.sb:], p.c[lo*p.sc:]
		return q, hi > lo
	case sgemmSplitM:
		t := (p.m + p.kern.mr - 1) / p.kern.mr
		lo, hi := t*i/parts*p.kern.mr, min(p.m, t*(i+1)/parts*p.kern.mr)
		q.m = hi - lo
		if p.transA {
			q.a = p.a[lo:]
		} else {
			q.a = p.a[lo*p.lda:]
		}
		q.c = p.c[lo*p.ldc:]
		return q, hi > lo
	default:
		t := (p.n + p.kern.nr - 1) / p.kern.nr
		lo, hi := t*i/parts*p.kern.nr, min(p.n, t*(i+1)/parts*p.kern.nr)
		q.n = hi - lo
		if p.transB {
			q.b = p.b[lo*p.ldb:]
		} else {
			q.b = p.b[lo:]
		}
		q.c = p.c[lo:]
		return q, hi > lo
	}
}

// sgemmCall is one parallel run: the workers' shares and their WaitGroup,
// recycled so that steady-state calls do not allocate.
type sgemmCall struct {
	parts []sgemmProblem
	wg    sync.WaitGroup
}

type sgemmJob struct {
	p  *sgemmProblem
	wg *sync.WaitGroup
}

var (
	sgemmCalls   = sync.Pool{New: func() any { return new(sgemmCall) }}
	sgemmJobs    = make(chan sgemmJob)
	sgemmMu      sync.Mutex
	sgemmWorkers int // long-lived goroutines receiving from sgemmJobs
)

func sgemmWorker() {
	for j := range sgemmJobs {
		j.p.runSerial()
		j.wg.Done()
	}
}

// sgemmRunParallel splits p into parts shares, runs parts-1 of them on
// long-lived worker goroutines and one on the caller, and waits for all.
func sgemmRunParallel(p *sgemmProblem, parts int, split sgemmSplit) {
	sgemmMu.Lock()
	for sgemmWorkers < parts-1 {
		go sgemmWorker()
		sgemmWorkers++
	}
	sgemmMu.Unlock()
	call := sgemmCalls.Get().(*sgemmCall)
	call.parts = call.parts[:0]
	for i := range parts {
		if q, ok := p.part(split, i, parts); ok {
			call.parts = append(call.parts, q)
		}
	}
	call.wg.Add(len(call.parts) - 1)
	for i := 1; i < len(call.parts); i++ {
		sgemmJobs <- sgemmJob{&call.parts[i], &call.wg}
	}
	call.parts[0].runSerial()
	call.wg.Wait()
	clear(call.parts) // drop references to the caller's slices
	sgemmCalls.Put(call)
}

// sgemmMicroGeneric is the portable 4×4 micro-kernel (see sgemmKernel.micro).
func sgemmMicroGeneric(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	a = a[:kc*4]
	b = b[:kc*4]
	for p := 0; p < len(a); p += 4 {
		ap := a[p : p+4 : p+4]
		bp := b[p : p+4 : p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	sgemmStoreRow4(c[0*ldc:0*ldc+4], c00, c01, c02, c03, alpha, beta)
	sgemmStoreRow4(c[1*ldc:1*ldc+4], c10, c11, c12, c13, alpha, beta)
	sgemmStoreRow4(c[2*ldc:2*ldc+4], c20, c21, c22, c23, alpha, beta)
	sgemmStoreRow4(c[3*ldc:3*ldc+4], c30, c31, c32, c33, alpha, beta)
}

func sgemmStoreRow4(c []float32, s0, s1, s2, s3, alpha, beta float32) {
	c = c[:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}

// sgemmGeneric is the portable kernel with its blocking: a 4×4 tile of 16
// scalar accumulators; 32 KiB of A panel per kc slice fits L1 comfortably.
var sgemmGeneric = &sgemmKernel{mr: 4, nr: 4, kc: 256, mc: 128, nc: 2048, micro: sgemmMicroGeneric}
