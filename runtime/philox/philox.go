package philox

import (
	"math"
	"math/bits"
	"runtime"
	"sync"
)

// Philox-4x32-10 constants (Salmon et al. 2011, Random123 philox.h).
const (
	mul0  = 0xD2511F53 // PHILOX_M4x32_0
	mul1  = 0xCD9E8D57 // PHILOX_M4x32_1
	weyl0 = 0x9E3779B9 // PHILOX_W32_0, golden ratio
	weyl1 = 0xBB67AE85 // PHILOX_W32_1, sqrt(3)-1
	// rounds is the round count of the "-10" variant.
	rounds = 10
)

// Split domain tags, XORed into the key so that a Split block differs from
// the data block with the same counter.
const (
	splitTag0 = 0x53504C54 // "SPLT"
	splitTag1 = 0x4B455953 // "KEYS"
)

// Conversion constants (see the package documentation).
const (
	twoPow24         = 1.0 / (1 << 24) // 2^-24
	twoPi    float64 = 2 * math.Pi     // float64(2π) = 6.283185307179586
	parallel         = 1 << 16         // fills at least this long use goroutines
	chunkMin         = 1 << 14         // smallest per-goroutine chunk, in elements
)

// Block computes Philox-4x32-10 of counter ctr under key key (10 rounds,
// multipliers 0xD2511F53, 0xCD9E8D57, Weyl constants 0x9E3779B9,
// 0xBB67AE85), bit-compatible with Random123's philox4x32.
func Block(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c0, c1, c2, c3 := ctr[0], ctr[1], ctr[2], ctr[3]
	k0, k1 := key[0], key[1]
	for r := 0; r < rounds; r++ {
		if r > 0 {
			k0 += weyl0
			k1 += weyl1
		}
		hi0, lo0 := bits.Mul32(mul0, c0)
		hi1, lo1 := bits.Mul32(mul1, c2)
		c0, c1, c2, c3 = hi1^c1^k0, lo1, hi0^c3^k1, lo0
	}
	return [4]uint32{c0, c1, c2, c3}
}

// Key names one Philox stream: Seed selects the Philox key and Stream the
// upper half of the counter (see the package documentation for the layout).
type Key struct {
	Seed, Stream uint64
}

// block returns block i of k's stream.
func (k Key) block(i uint64) [4]uint32 {
	ctr := [4]uint32{uint32(i), uint32(i >> 32), uint32(k.Stream), uint32(k.Stream >> 32)}
	return Block(ctr, [2]uint32{uint32(k.Seed), uint32(k.Seed >> 32)})
}

// Split returns a derived key for an independent stream, for example one per
// sampling step or per purpose. It is one Philox block of counter
// (i, Stream) under the key (Seed) XOR the "SPLT","KEYS" domain tag; words
// 0,1 form the new Seed and words 2,3 the new Stream.
func (k Key) Split(i uint64) Key {
	ctr := [4]uint32{uint32(i), uint32(i >> 32), uint32(k.Stream), uint32(k.Stream >> 32)}
	w := Block(ctr, [2]uint32{uint32(k.Seed) ^ splitTag0, uint32(k.Seed>>32) ^ splitTag1})
	return Key{
		Seed:   uint64(w[0]) | uint64(w[1])<<32,
		Stream: uint64(w[2]) | uint64(w[3])<<32,
	}
}

// Uint32s fills dst with the raw words of elements offset, offset+1, ...
func (k Key) Uint32s(dst []uint32, offset uint64) {
	fill(len(dst), offset, func(lo, hi int, o uint64) {
		forEachBlock(k, dst[lo:hi], o, func(out []uint32, w [4]uint32, first int) {
			copy(out, w[first:])
		})
	})
}

// Uniform fills dst with float32(w>>8) * 2^-24 in [0, 1) for elements
// offset, offset+1, ..., w being each element's word.
func (k Key) Uniform(dst []float32, offset uint64) {
	fill(len(dst), offset, func(lo, hi int, o uint64) { k.fillUniform(dst[lo:hi], o, nil) })
}

// Mask fills dst with a dropout mask for elements offset, offset+1, ...: scale
// where the element's Uniform value is at least p, else 0.
func (k Key) Mask(dst []float32, offset uint64, p, scale float32) {
	m := &maskArgs{p: p, scale: scale}
	fill(len(dst), offset, func(lo, hi int, o uint64) { k.fillUniform(dst[lo:hi], o, m) })
}

// maskArgs turn Uniform values into a dropout mask (nil: no mask).
type maskArgs struct{ p, scale float32 }

// apply returns u, or the mask value for u.
func (m *maskArgs) apply(u float32) float32 {
	switch {
	case m == nil:
		return u
	case u >= m.p:
		return m.scale
	}
	return 0
}

// fillUniform is the serial body of Uniform and Mask: d's first element is element o.
func (k Key) fillUniform(d []float32, o uint64, m *maskArgs) {
	part := func(out []float32, w [4]uint32, first int) {
		for j := range out {
			out[j] = m.apply(uniform(w[first+j]))
		}
	}
	head := min(int((4-o%4)%4), len(d)) // up to the first whole block
	forEachBlock(k, d[:head], o, part)
	d, o = d[head:], o+uint64(head)
	whole := len(d) &^ 3
	b := o / 4
	if vector && whole >= 64 {
		n := whole &^ 63
		k.vectorBlocks(d[:n], b, m)
		d, o, whole, b = d[n:], o+uint64(n), whole-n, b+uint64(n/4)
	}
	k.scalarBlocks(d[:whole], b, m)
	forEachBlock(k, d[whole:], o+uint64(whole), part)
}

// scalarBlocks fills d (a multiple of 4 long) with the values of blocks b, b+1, …
// in Go, two blocks at a time so that their independent multiply chains overlap.
func (k Key) scalarBlocks(d []float32, b uint64, m *maskArgs) {
	key := [2]uint32{uint32(k.Seed), uint32(k.Seed >> 32)}
	s0, s1 := uint32(k.Stream), uint32(k.Stream>>32)
	u := func(w uint32) float32 { return m.apply(uniform(w)) }
	for len(d) >= 8 {
		w, v := block2([4]uint32{uint32(b), uint32(b >> 32), s0, s1}, [4]uint32{uint32(b + 1), uint32((b + 1) >> 32), s0, s1}, key)
		o := (*[8]float32)(d)
		o[0], o[1], o[2], o[3] = u(w[0]), u(w[1]), u(w[2]), u(w[3])
		o[4], o[5], o[6], o[7] = u(v[0]), u(v[1]), u(v[2]), u(v[3])
		d, b = d[8:], b+2
	}
	if len(d) == 4 {
		w := Block([4]uint32{uint32(b), uint32(b >> 32), s0, s1}, key)
		d[0], d[1], d[2], d[3] = u(w[0]), u(w[1]), u(w[2]), u(w[3])
	}
}

// block2 is Block of two counters under one key, the rounds interleaved.
func block2(a, b [4]uint32, key [2]uint32) (wa, wb [4]uint32) {
	a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
	b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
	k0, k1 := key[0], key[1]
	for r := 0; r < rounds; r++ {
		if r > 0 {
			k0 += weyl0
			k1 += weyl1
		}
		ha0, la0 := bits.Mul32(mul0, a0)
		ha1, la1 := bits.Mul32(mul1, a2)
		hb0, lb0 := bits.Mul32(mul0, b0)
		hb1, lb1 := bits.Mul32(mul1, b2)
		a0, a1, a2, a3 = ha1^a1^k0, la1, ha0^a3^k1, la0
		b0, b1, b2, b3 = hb1^b1^k0, lb1, hb0^b3^k1, lb0
	}
	return [4]uint32{a0, a1, a2, a3}, [4]uint32{b0, b1, b2, b3}
}

// Rademacher fills dst with ±1 for elements offset, offset+1, ...: +1 when
// the top bit (bit 31) of the element's word is 0, else -1.
func (k Key) Rademacher(dst []float32, offset uint64) {
	fill(len(dst), offset, func(lo, hi int, o uint64) {
		forEachBlock(k, dst[lo:hi], o, func(out []float32, w [4]uint32, first int) {
			for j := range out {
				out[j] = rademacher(w[first+j])
			}
		})
	})
}

// Normal fills dst with standard normal samples for elements offset,
// offset+1, ... by Box–Muller on the word pairs (0,1) and (2,3) of each
// block, computed in float64 and rounded to float32; the package
// documentation gives the exact formula.
func (k Key) Normal(dst []float32, offset uint64) {
	fill(len(dst), offset, func(lo, hi int, o uint64) {
		forEachBlock(k, dst[lo:hi], o, func(out []float32, w [4]uint32, first int) {
			var z [4]float32
			if first < 2 {
				z[0], z[1] = boxMuller(w[0], w[1])
			}
			if first+len(out) > 2 {
				z[2], z[3] = boxMuller(w[2], w[3])
			}
			copy(out, z[first:])
		})
	})
}

// uniform maps a word to [0, 1) with 24 bits, exactly representable in float32.
func uniform(w uint32) float32 {
	return float32(w>>8) * twoPow24
}

// rademacher maps the top bit of a word to +1 (bit clear) or -1 (bit set).
func rademacher(w uint32) float32 {
	if w>>31 == 0 {
		return 1
	}
	return -1
}

// boxMuller returns the Box–Muller pair (r cos θ, r sin θ) for words a, c
// with u1 = ((a>>8)+1)·2^-24, u2 = (c>>8)·2^-24, r = sqrt(-2 ln u1),
// θ = 2π·u2, in float64, rounded to float32.
func boxMuller(a, c uint32) (float32, float32) {
	u1 := (float64(a>>8) + 1) * twoPow24
	u2 := float64(c>>8) * twoPow24
	r := math.Sqrt(-2 * math.Log(u1))
	theta := twoPi * u2
	return float32(r * math.Cos(theta)), float32(r * math.Sin(theta))
}

// forEachBlock walks dst, whose first element has index offset, one Philox
// block at a time: f gets the part of dst covered by the block, the block's
// words, and the word index of that part's first element.
func forEachBlock[T any](k Key, dst []T, offset uint64, f func(out []T, w [4]uint32, first int)) {
	e := offset
	for len(dst) > 0 {
		first := int(e % 4)
		n := min(4-first, len(dst))
		f(dst[:n], k.block(e/4), first)
		dst = dst[n:]
		e += uint64(n)
	}
}

// fill runs body over [0, n) — serially when n is small, else in chunks on
// GOMAXPROCS goroutines. body gets a half-open range and the element index
// of its first element. Chunk edges are at block boundaries.
func fill(n int, offset uint64, body func(lo, hi int, o uint64)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallel || workers < 2 {
		body(0, n, offset)
		return
	}
	chunk := max((n+workers-1)/workers, chunkMin)
	chunk = (chunk + 3) &^ 3
	// First chunk ends where the element index reaches a multiple of 4.
	lead := int((4 - offset%4) % 4)
	var wg sync.WaitGroup
	for lo := 0; lo < n; {
		hi := min(lo+chunk, n)
		if lo == 0 {
			hi = min(lead+chunk, n)
		}
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			body(lo, hi, offset+uint64(lo))
		}(lo, hi)
		lo = hi
	}
	wg.Wait()
}
