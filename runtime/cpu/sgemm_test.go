package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Helpers are prefixed sg to stay clear of the other test files.

var sgAllKernels = []Kernel{KernelGeneric, KernelAVX2, KernelAVX512}

const sgU = 1.0 / (1 << 24) // unit roundoff of float32

func sgRand(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

func sgFill(s []float32, v float32) []float32 {
	for i := range s {
		s[i] = v
	}
	return s
}

var sgNaN = float32(math.NaN())

// sgOperand stores an r×c operand op(X) (transposed in memory when trans)
// with leading dimension ld = stored cols + pad, NaN in the padding.
// It returns the storage, ld, and an accessor for op(X)[i][j].
func sgOperand(rng *rand.Rand, trans bool, r, c, pad int) ([]float32, int, func(i, j int) float32) {
	sr, sc := r, c
	if trans {
		sr, sc = c, r
	}
	ld := sc + pad
	x := sgFill(make([]float32, max(0, sr*ld)), sgNaN)
	for i := range sr {
		copy(x[i*ld:i*ld+sc], sgRand(rng, sc))
	}
	if trans {
		return x, ld, func(i, j int) float32 { return x[j*ld+i] }
	}
	return x, ld, func(i, j int) float32 { return x[i*ld+j] }
}

// sgRef returns alpha·op(A)·op(B) + beta·C in float64 together with the
// per-element error bound (k+2)·u·(|alpha|·Σ_p|a_ip·b_pj| + |beta·c_ij|),
// the classic γ_{k+2} bound for a float32 dot product plus the scaling; any
// order of summation, with or without FMA, satisfies it.
func sgRef(m, n, k int, alpha float32, opA, opB func(i, j int) float32, beta float32, c []float32, ldc int) (want, tol []float64) {
	want, tol = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				x := float64(opA(i, p)) * float64(opB(p, j))
				s += x
				sa += math.Abs(x)
			}
			w := float64(alpha) * s
			bound := math.Abs(float64(alpha)) * sa
			if beta != 0 {
				cv := float64(beta) * float64(c[i*ldc+j])
				w += cv
				bound += math.Abs(cv)
			}
			want[i*n+j] = w
			tol[i*n+j] = float64(k+2)*sgU*bound + 1e-30
		}
	}
	return want, tol
}

// sgCheck compares the m×n window of c against want and checks that every
// cell outside it (row padding up to ldc, guard cells after the end) still
// holds the NaN it was filled with.
func sgCheck(t *testing.T, name string, m, n int, c []float32, ldc int, want, tol []float64) {
	t.Helper()
	bad := 0
	for i := range m {
		for j := range n {
			got := float64(c[i*ldc+j])
			if !(math.Abs(got-want[i*n+j]) <= tol[i*n+j]) {
				if bad < 3 {
					t.Errorf("%s: c[%d][%d] = %v, want %v (tol %.3g)", name, i, j, got, want[i*n+j], tol[i*n+j])
				}
				bad++
			}
		}
	}
	for idx, v := range c {
		i, j := idx/ldc, idx%ldc
		if (i >= m || j >= n) && !math.IsNaN(float64(v)) {
			t.Errorf("%s: cell %d (row %d col %d) outside C was written: %v", name, idx, i, j, v)
			return
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements wrong", name, bad, m*n)
	}
}

// sgWithBlocking runs f with kernel k's blocking replaced by tiny blocks, so
// that small products exercise every loop of the blocked driver.
func sgWithBlocking(k Kernel, kc, mcTiles, ncTiles int, f func()) {
	orig := sgemmKernels[k]
	tiny := *orig
	tiny.kc, tiny.mc, tiny.nc = kc, mcTiles*orig.mr, ncTiles*orig.nr
	sgemmKernels[k] = &tiny
	defer func() { sgemmKernels[k] = orig }()
	f()
}

type sgShape struct{ m, n, k int }

var sgShapes = []sgShape{
	{1, 1, 1}, {1, 33, 17}, {17, 1, 33}, {3, 7, 0}, {7, 3, 5},
	{17, 33, 7}, {33, 65, 3}, {65, 17, 257}, {7, 257, 33}, {257, 7, 17},
	{12, 32, 9}, {24, 64, 40}, {6, 16, 1}, {13, 35, 65},
	// Last row panels of exactly 4 and 8 rows, full column panels (the row kernels
	// writing C in place).
	{16, 64, 9}, {20, 32, 7}, {64, 96, 50}, {4, 32, 3}, {8, 64, 11},
}

// sgRunCase runs one product with padded leading dimensions and checks it.
func sgRunCase(t *testing.T, rng *rand.Rand, g Gemm, name string, ta, tb bool, s sgShape, alpha, beta float32) {
	t.Helper()
	a, lda, opA := sgOperand(rng, ta, s.m, s.k, 3)
	b, ldb, opB := sgOperand(rng, tb, s.k, s.n, 5)
	ldc := s.n + 2
	c := sgFill(make([]float32, s.m*ldc+7), sgNaN) // 7 guard cells past the end
	if beta != 0 {
		for i := range s.m {
			copy(c[i*ldc:i*ldc+s.n], sgRand(rng, s.n))
		}
	}
	want, tol := sgRef(s.m, s.n, s.k, alpha, opA, opB, beta, c, ldc)
	if s.k == 0 { // A and B hold nothing; pass short slices to check that they are not read
		a, b = nil, nil
	}
	g.Sgemm(ta, tb, s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, c, ldc)
	sgCheck(t, name, s.m, s.n, c, ldc, want, tol)
}

func TestSgemmKernels(t *testing.T) {
	for _, kern := range sgAllKernels {
		t.Run(kern.String(), func(t *testing.T) {
			if !kern.Available() {
				t.Skipf("%v not available on this CPU", kern)
			}
			rng := rand.New(rand.NewPCG(1, uint64(kern)))
			run := func(blocking string) {
				for _, ta := range []bool{false, true} {
					for _, tb := range []bool{false, true} {
						for _, s := range sgShapes {
							for _, beta := range []float32{0, 1, 0.5} {
								name := fmt.Sprintf("%s ta=%v tb=%v %dx%dx%d beta=%v", blocking, ta, tb, s.m, s.n, s.k, beta)
								sgRunCase(t, rng, Gemm{Kernel: kern, Threads: 1}, name, ta, tb, s, -1.5, beta)
							}
						}
					}
				}
			}
			run("default")
			// Blocks of kc=5, 2 tiles of M, 3 tiles of N: every product above
			// with more than 5 k steps or a few tiles goes through several
			// k slices (beta applied once) and several M and N blocks.
			sgWithBlocking(kern, 5, 2, 3, func() { run("tiny-blocks") })
		})
	}
}

// TestSgemmLarge checks one product larger than the default blocks (k > kc,
// m > mc) on every kernel, on all threads.
func TestSgemmLarge(t *testing.T) {
	for _, kern := range sgAllKernels {
		t.Run(kern.String(), func(t *testing.T) {
			if !kern.Available() {
				t.Skipf("%v not available on this CPU", kern)
			}
			rng := rand.New(rand.NewPCG(2, uint64(kern)))
			s := sgShape{m: 301, n: 67, k: 531}
			sgRunCase(t, rng, Gemm{Kernel: kern}, "301x67x531 tb", false, true, s, 0.75, 0.5)
			sgRunCase(t, rng, Gemm{Kernel: kern}, "301x67x531 ta", true, false, s, 1, 0)
		})
	}
}

// TestSgemmThreads checks that 1, 2 and 3 workers agree on products large
// enough to be split by rows, by columns and by batch items.
func TestSgemmThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	kern := BestKernel()
	for _, s := range []struct {
		batch, m, n, k int
		ta, tb         bool
	}{
		{1, 301, 40, 70, false, false}, // split M
		{1, 40, 301, 70, true, false},  // split N
		{1, 130, 130, 70, false, true}, // square
		{6, 60, 50, 90, true, true},    // split batch
		{3, 100, 70, 60, false, false}, // batch not divisible: split each item
	} {
		a, lda, _ := sgOperand(rng, s.ta, s.m, s.k*s.batch, 0)
		b, ldb, _ := sgOperand(rng, s.tb, s.k*s.batch, s.n, 0)
		_ = lda
		_ = ldb
		// Batched layouts: item i of A is rows [i*m, (i+1)*m) of a tall matrix.
		sa, la := s.m*s.k, s.k
		if s.ta {
			la = s.m
		}
		sb, lb := s.k*s.n, s.n
		if s.tb {
			lb = s.k
		}
		a, b = a[:s.batch*sa], b[:s.batch*sb]
		ldc := s.n + 1
		sc := s.m * ldc
		c0 := sgRand(rng, s.batch*sc)
		var ref []float32
		for _, th := range []int{1, 2, 3} {
			c := append([]float32(nil), c0...)
			Gemm{Kernel: kern, Threads: th}.SgemmBatched(s.ta, s.tb, s.batch, s.m, s.n, s.k, 1.25, a, la, sa, b, lb, sb, 0.5, c, ldc, sc)
			if ref == nil {
				ref = c
				continue
			}
			for i := range c {
				// Each element is a k-term dot product of values in [-1, 1)
				// plus 0.5·c; (k+2)·u·(k + 1) bounds the difference of two
				// orders of summation with margin.
				if d := math.Abs(float64(c[i] - ref[i])); !(d <= 2*float64(s.k+2)*sgU*float64(s.k+1)) {
					t.Fatalf("%+v threads=%d: c[%d] = %v, threads=1 gave %v", s, th, i, c[i], ref[i])
				}
			}
		}
	}
}

// TestSgemmBatchedShared checks SgemmBatched with a shared operand (stride 0)
// against the reference, for A shared and for B shared.
func TestSgemmBatchedShared(t *testing.T) {
	for _, kern := range sgAllKernels {
		if !kern.Available() {
			continue
		}
		for _, shareA := range []bool{true, false} {
			rng := rand.New(rand.NewPCG(4, uint64(kern)))
			const batch, m, n, k = 5, 19, 37, 23
			sa, sb := m*k, k*n
			if shareA {
				sa = 0
			} else {
				sb = 0
			}
			a := sgRand(rng, max(1, batch*sa)+m*k)
			b := sgRand(rng, max(1, batch*sb)+k*n)
			ldc, sc := n+3, m*(n+3)+2
			c := sgFill(make([]float32, batch*sc), sgNaN)
			for _, th := range []int{1, 2} {
				Gemm{Kernel: kern, Threads: th}.SgemmBatched(false, true, batch, m, n, k, 2, a, k, sa, b, k, sb, 0, c, ldc, sc)
				for i := range batch {
					ai, bi := a[i*sa:], b[i*sb:]
					opA := func(r, p int) float32 { return ai[r*k+p] }
					opB := func(p, j int) float32 { return bi[j*k+p] }
					want, tol := sgRef(m, n, k, 2, opA, opB, 0, nil, 0)
					ci := c[i*sc : i*sc+sc]
					if i == batch-1 {
						ci = c[i*sc:]
					}
					sgCheck(t, fmt.Sprintf("%v shareA=%v threads=%d item %d", kern, shareA, th, i), m, n, ci, ldc, want, tol)
				}
			}
		}
	}
}

func TestSgemmKZeroAndAlphaZero(t *testing.T) {
	c := []float32{1, 2, sgNaN, 3, 4, sgNaN}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 3)
	if c[0] != 0.5 || c[1] != 1 || c[3] != 1.5 || c[4] != 2 || !math.IsNaN(float64(c[2])) {
		t.Errorf("k=0 beta=0.5: c = %v", c)
	}
	c = []float32{sgNaN, sgNaN, 7}
	Sgemm(true, true, 1, 2, 3, 0, []float32{1, 2, 3}, 1, []float32{1, 2, 3, 4, 5, 6}, 3, 0, c, 2)
	if c[0] != 0 || c[1] != 0 || c[2] != 7 {
		t.Errorf("alpha=0 beta=0: c = %v, want [0 0 7]", c)
	}
}

func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 100)
	for _, tc := range []struct {
		want string
		f    func()
	}{
		{"cpu: sgemm: negative size", func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) }},
		{"cpu: sgemm: lda 3 < k 4", func() { Sgemm(false, false, 2, 2, 4, 1, s, 3, s, 2, 0, s, 2) }},
		{"cpu: sgemm: lda 1 < m 2", func() { Sgemm(true, false, 2, 2, 4, 1, s, 1, s, 2, 0, s, 2) }},
		{"cpu: sgemm: ldb 2 < n 3", func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s, 2, 0, s, 3) }},
		{"cpu: sgemm: ldb 3 < k 4", func() { Sgemm(false, true, 2, 3, 4, 1, s, 4, s, 3, 0, s, 3) }},
		{"cpu: sgemm: ldc 2 < n 3", func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s, 3, 0, s, 2) }},
		{"cpu: sgemm: len(a) 7 < 8", func() { Sgemm(false, false, 2, 3, 4, 1, s[:7], 4, s, 3, 0, s, 3) }},
		{"cpu: sgemm: len(b) 11 < 12", func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s[:11], 3, 0, s, 3) }},
		{"cpu: sgemm: len(c) 5 < 6", func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s, 3, 0, s[:5], 3) }},
		{"cpu: sgemm: strideC 3 < 6", func() {
			Gemm{}.SgemmBatched(false, false, 2, 2, 3, 4, 1, s, 4, 0, s, 3, 0, 0, s, 3, 3)
		}},
		{"cpu: sgemm: len(a) 9 < 10", func() {
			Gemm{}.SgemmBatched(false, false, 2, 1, 1, 2, 1, s[:9], 2, 8, s, 1, 0, 0, s, 1, 1)
		}},
		{"cpu: sgemm: kernel Kernel(9) is not available", func() {
			Gemm{Kernel: 9}.Sgemm(false, false, 1, 1, 1, 1, s, 1, s, 1, 0, s, 1)
		}},
	} {
		func() {
			defer func() {
				r := recover()
				if msg, ok := r.(string); !ok || !strings.HasPrefix(msg, tc.want) {
					t.Errorf("panic %v, want prefix %q", r, tc.want)
				}
			}()
			tc.f()
		}()
	}
}

func TestSgemmKernelInfo(t *testing.T) {
	for k, want := range map[Kernel]string{KernelGeneric: "generic", KernelAVX2: "avx2", KernelAVX512: "avx512", 7: "Kernel(7)"} {
		if k.String() != want {
			t.Errorf("Kernel(%d).String() = %q, want %q", int(k), k.String(), want)
		}
	}
	if !KernelGeneric.Available() || Kernel(-1).Available() || Kernel(3).Available() {
		t.Error("Available: generic must be, -1 and 3 must not be")
	}
	if !BestKernel().Available() {
		t.Errorf("BestKernel %v not available", BestKernel())
	}
	for _, k := range sgAllKernels {
		if k.Available() && k > BestKernel() {
			t.Errorf("BestKernel %v, but %v is available", BestKernel(), k)
		}
	}
}

// TestSgemmNoAlloc checks that steady-state calls, serial and parallel, do
// not allocate.
func TestSgemmNoAlloc(t *testing.T) {
	const m, n, k = 128, 96, 64
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for _, th := range []int{1, 2} {
		g := Gemm{Kernel: BestKernel(), Threads: th}
		f := func() { g.Sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n) }
		f()
		if allocs := testing.AllocsPerRun(20, f); allocs > 0 {
			t.Errorf("threads=%d: %v allocations per call", th, allocs)
		}
	}
}
