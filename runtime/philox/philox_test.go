package philox

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// TestBlockKAT checks Block against Random123's published known-answer
// vectors for philox4x32_10 (Random123 tests/kat_vectors; the same triples
// appear in TensorFlow's and others' Philox tests).
func TestBlockKAT(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := Block(c.ctr, c.key); got != c.want {
			t.Errorf("Block(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

// TestStreamLayout checks the documented element → (block, word) mapping.
func TestStreamLayout(t *testing.T) {
	k := Key{Seed: 0x0123456789abcdef, Stream: 0xfedcba9876543210}
	const off = 1<<33 + 2 // crosses into the counter's high word
	got := make([]uint32, 11)
	k.Uint32s(got, off)
	for j, g := range got {
		e := uint64(off + j)
		i := e / 4
		ctr := [4]uint32{uint32(i), uint32(i >> 32), 0x76543210, 0xfedcba98}
		want := Block(ctr, [2]uint32{0x89abcdef, 0x01234567})[e%4]
		if g != want {
			t.Fatalf("element %d = %08x, want %08x", e, g, want)
		}
	}
}

// TestConversions checks Uniform, Rademacher and Normal against direct
// float64 transcriptions of the documented formulas, bit for bit.
func TestConversions(t *testing.T) {
	if twoPi != float64(6.283185307179586) {
		t.Fatalf("twoPi = %v, want float64(2π) = %v", twoPi, 2*math.Pi)
	}
	k := Key{Seed: 42, Stream: 7}
	const n, off = 103, 5
	w := make([]uint32, n)
	u := make([]float32, n)
	r := make([]float32, n)
	z := make([]float32, n)
	k.Uint32s(w, off)
	k.Uniform(u, off)
	k.Rademacher(r, off)
	k.Normal(z, off)
	for j := range n {
		e := off + j
		if want := float32(float64(w[j]>>8) / (1 << 24)); u[j] != want || u[j] >= 1 {
			t.Fatalf("Uniform[%d] = %v, want %v", e, u[j], want)
		}
		if want := float32(1 - 2*float64(w[j]>>31)); r[j] != want {
			t.Fatalf("Rademacher[%d] = %v, want %v", e, r[j], want)
		}
		if want := refNormal(k, uint64(e)); math.Float32bits(z[j]) != math.Float32bits(want) {
			t.Fatalf("Normal[%d] = %v, want %v", e, z[j], want)
		}
	}
}

// refNormal transcribes the documented Box–Muller formula for element e.
func refNormal(k Key, e uint64) float32 {
	blk := e / 4
	p := (e % 4) / 2
	var ws [4]uint32
	k.Uint32s(ws[:], 4*blk)
	a, c := ws[2*p], ws[2*p+1]
	u1 := (float64(a>>8) + 1) / (1 << 24)
	u2 := float64(c>>8) / (1 << 24)
	rad := math.Sqrt(-2 * math.Log(u1))
	if e%2 == 0 {
		return float32(rad * math.Cos(2*math.Pi*u2))
	}
	return float32(rad * math.Sin(2*math.Pi*u2))
}

// fillers lists every fill kind as a function writing float32 bit patterns,
// so the split tests can compare them uniformly.
var fillers = map[string]func(k Key, dst []uint32, off uint64){
	"Uint32s": func(k Key, dst []uint32, off uint64) { k.Uint32s(dst, off) },
	"Uniform": func(k Key, dst []uint32, off uint64) {
		f := make([]float32, len(dst))
		k.Uniform(f, off)
		toBits(dst, f)
	},
	"Normal": func(k Key, dst []uint32, off uint64) {
		f := make([]float32, len(dst))
		k.Normal(f, off)
		toBits(dst, f)
	},
	"Rademacher": func(k Key, dst []uint32, off uint64) {
		f := make([]float32, len(dst))
		k.Rademacher(f, off)
		toBits(dst, f)
	},
}

func toBits(dst []uint32, f []float32) {
	for i, v := range f {
		dst[i] = math.Float32bits(v)
	}
}

// TestSplitFills checks that element e gets the same bits however a fill
// is split: at every offset mod 4, odd lengths, and near 2^32 blocks.
func TestSplitFills(t *testing.T) {
	k := Key{Seed: 0xdeadbeef, Stream: 3}
	offsets := []uint64{0, 1, 2, 3, 5, 4<<32 - 3, 1<<62 + 1}
	lengths := []int{0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 1000}
	for name, f := range fillers {
		for _, off := range offsets {
			whole := make([]uint32, 1100)
			f(k, whole, off)
			for _, n := range lengths {
				for _, start := range []int{0, 1, 2, 3, 6, 11} {
					part := make([]uint32, n)
					f(k, part, off+uint64(start))
					if !slices.Equal(part, whole[start:start+n]) {
						t.Fatalf("%s: fill(off=%d+%d, n=%d) differs from the whole fill", name, off, start, n)
					}
				}
			}
		}
	}
}

// TestParallelFill checks that a fill large enough to use goroutines equals
// the serial walk, element by element, at an unaligned offset.
func TestParallelFill(t *testing.T) {
	k := Key{Seed: 9, Stream: 1 << 40}
	const n = 3*parallel + 5
	const off = 1<<32 + 3
	for name, f := range fillers {
		got := make([]uint32, n)
		f(k, got, off)
		want := make([]uint32, n)
		for lo := 0; lo < n; lo += 1000 { // chunks far below the parallel threshold
			hi := min(lo+1000, n)
			f(k, want[lo:hi], off+uint64(lo))
		}
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("%s: parallel fill differs from serial at element %d", name, i)
		}
	}
}

func firstDiff(a, b []uint32) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

// TestDeterminism checks same key → same bits, and that other streams,
// seeds and Split keys give different values.
func TestDeterminism(t *testing.T) {
	const n = 256
	get := func(k Key) []uint32 {
		d := make([]uint32, n)
		k.Uint32s(d, 0)
		return d
	}
	base := Key{Seed: 1, Stream: 0}
	if !slices.Equal(get(base), get(Key{Seed: 1, Stream: 0})) {
		t.Fatal("same key gave different words")
	}
	others := map[string]Key{
		"stream+1":  {Seed: 1, Stream: 1},
		"seed+1":    {Seed: 2, Stream: 0},
		"seed<<32":  {Seed: 1 << 32, Stream: 0},
		"Split(0)":  base.Split(0),
		"Split(1)":  base.Split(1),
		"Split2(0)": base.Split(0).Split(0),
	}
	ref := get(base)
	seen := map[Key]string{base: "base"}
	for name, k := range others {
		if prev, ok := seen[k]; ok {
			t.Fatalf("%s and %s are the same key %+v", name, prev, k)
		}
		seen[k] = name
		if same := countEqual(ref, get(k)); same > 2 { // P(one match) = 2^-32
			t.Errorf("%s shares %d of %d words with base", name, same, n)
		}
	}
	if base.Split(5) != base.Split(5) {
		t.Error("Split is not deterministic")
	}
}

func countEqual(a, b []uint32) int {
	c := 0
	for i := range a {
		if a[i] == b[i] {
			c++
		}
	}
	return c
}

// moments returns mean, variance and kurtosis (E[(x-μ)^4]/σ^4) in float64.
func moments(x []float32) (mean, variance, kurt float64) {
	for _, v := range x {
		mean += float64(v)
	}
	mean /= float64(len(x))
	var m2, m4 float64
	for _, v := range x {
		d := float64(v) - mean
		m2 += d * d
		m4 += d * d * d * d
	}
	m2 /= float64(len(x))
	m4 /= float64(len(x))
	return mean, m2, m4 / (m2 * m2)
}

// statN is the sample size of the statistics tests. Bounds below are
// 6 standard errors at this N, so a correct generator fails with
// probability ~1e-9 per check (and the seeds are fixed anyway).
const statN = 1 << 20

// TestUniformStats checks mean 1/2, variance 1/12 and the range.
func TestUniformStats(t *testing.T) {
	x := make([]float32, statN)
	Key{Seed: 2024, Stream: 11}.Uniform(x, 17)
	mean, v, _ := moments(x)
	seMean := math.Sqrt(1.0 / 12 / statN)          // sd of a U(0,1) mean
	seVar := math.Sqrt((1.0/80 - 1.0/144) / statN) // sd of the variance estimate
	check(t, "Uniform mean", mean, 0.5, 6*seMean)
	check(t, "Uniform var", v, 1.0/12, 6*seVar)
	lo, hi := slices.Min(x), slices.Max(x)
	if lo < 0 || hi >= 1 || lo > 1e-4 || hi < 1-1e-4 {
		t.Errorf("Uniform range [%v, %v], want inside [0,1) and near both ends", lo, hi)
	}
}

// TestNormalStats checks mean 0, variance 1, kurtosis 3, the pair
// correlations (cos-only or a reused word makes pairs correlated), and a
// Kolmogorov–Smirnov distance to N(0,1).
func TestNormalStats(t *testing.T) {
	x := make([]float32, statN)
	Key{Seed: 77, Stream: 5}.Normal(x, 1)
	mean, v, kurt := moments(x)
	check(t, "Normal mean", mean, 0, 6/math.Sqrt(statN))
	check(t, "Normal var", v, 1, 6*math.Sqrt(2.0/statN))
	check(t, "Normal kurtosis", kurt, 3, 6*math.Sqrt(24.0/statN))
	for _, lag := range []int{1, 2, 3, 4} {
		check(t, fmt.Sprintf("Normal lag-%d correlation", lag), lagCorr(x, lag), 0, 6/math.Sqrt(statN))
	}
	// Squared pair correlation: z0² and z1² are independent for a correct
	// Box–Muller; it catches r reused with the wrong angle word.
	sq := make([]float32, len(x))
	for i, v := range x {
		sq[i] = v*v - 1
	}
	check(t, "Normal lag-1 correlation of z²", lagCorr(sq, 1), 0, 6/math.Sqrt(statN))
	if d := ksNormal(x); d*math.Sqrt(statN) > 1.95 { // KS critical value at p = 0.001
		t.Errorf("Normal KS distance %.5f, sqrt(N)·D = %.3f > 1.95", d, d*math.Sqrt(statN))
	}
}

// lagCorr returns the sample correlation of x[i] and x[i+lag].
func lagCorr(x []float32, lag int) float64 {
	a, b := x[:len(x)-lag], x[lag:]
	var ma, mb float64
	for i := range a {
		ma += float64(a[i])
		mb += float64(b[i])
	}
	ma /= float64(len(a))
	mb /= float64(len(a))
	var sab, saa, sbb float64
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return sab / math.Sqrt(saa*sbb)
}

// ksNormal returns sup |F_n(x) - Φ(x)|.
func ksNormal(x []float32) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := float64(len(s))
	d := 0.0
	for i, v := range s {
		phi := 0.5 * math.Erfc(-float64(v)/math.Sqrt2)
		d = max(d, math.Abs(float64(i+1)/n-phi), math.Abs(phi-float64(i)/n))
	}
	return d
}

// TestRademacherStats checks values are ±1, balanced, and uncorrelated.
func TestRademacherStats(t *testing.T) {
	x := make([]float32, statN)
	Key{Seed: 5, Stream: 0}.Rademacher(x, 2)
	sum := 0.0
	for i, v := range x {
		if v != 1 && v != -1 {
			t.Fatalf("Rademacher[%d] = %v", i, v)
		}
		sum += float64(v)
	}
	check(t, "Rademacher mean", sum/statN, 0, 6/math.Sqrt(statN))
	check(t, "Rademacher lag-1 correlation", lagCorr(x, 1), 0, 6/math.Sqrt(statN))
}

func check(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6g, want %.6g ± %.3g", what, got, want, tol)
	}
}

func BenchmarkNormal(b *testing.B) {
	x := make([]float32, 1<<20)
	b.SetBytes(4 << 20)
	for b.Loop() {
		Key{Seed: 1}.Normal(x, 0)
	}
}

func BenchmarkUint32s(b *testing.B) {
	x := make([]uint32, 1<<20)
	b.SetBytes(4 << 20)
	for b.Loop() {
		Key{Seed: 1}.Uint32s(x, 0)
	}
}

func BenchmarkUniform(b *testing.B) {
	x := make([]float32, 1<<20)
	b.SetBytes(4 << 20)
	for b.Loop() {
		Key{Seed: 1}.Uniform(x, 0)
	}
}
