// Package philox implements the counter-based Philox-4x32-10 generator of
// Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2,
// 3" (SC 2011), and the fixed stream layout that CPU and GPU code share.
//
// Every value is a pure function of (seed, stream, element index), so a fill
// can be split across goroutines, kernel launches or resumed runs and still
// give the same bits. This file is the CPU/GPU contract: a CUDA kernel that
// follows it produces bit-identical Uint32s, Uniform and Rademacher output,
// and Normal output that agrees to float32 rounding (see Normal below).
//
// # Block function
//
// Block(ctr, key) is Philox-4x32-10 exactly as in Random123's philox.h:
// ten rounds of
//
//	hi0:lo0 = 0xD2511F53 * ctr[0]   (64-bit product)
//	hi1:lo1 = 0xCD9E8D57 * ctr[2]
//	ctr     = (hi1 ^ ctr[1] ^ key[0], lo1, hi0 ^ ctr[3] ^ key[1], lo0)
//	key     = (key[0] + 0x9E3779B9, key[1] + 0xBB67AE85)   (between rounds)
//
// checked against Random123's known-answer vectors (kat_vectors).
//
// # Stream layout
//
// A Key{Seed, Stream} maps to Philox words as follows:
//
//	key        = (uint32(Seed), uint32(Seed>>32))
//	block i    = Block((uint32(i), uint32(i>>32), uint32(Stream), uint32(Stream>>32)), key)
//	element e  = word e%4 of block e/4            (e is a uint64 element index)
//
// A fill dst of length n starting at offset o writes elements e = o+j,
// j = 0..n-1. Offsets need not be multiples of four; element indices wrap
// modulo 2^64.
//
// # Conversions
//
// With w the uint32 word of element e:
//
//	Uint32s:    w
//	Uniform:    float32(w>>8) * 2^-24                  in [0, 1), exact in float32
//	Rademacher: +1 if w>>31 == 0, else -1              (top bit of the word)
//
// Normal uses Box–Muller on word pairs of the same block. Element e with
// block b = e/4 and pair p = (e%4)/2 reads words a = word 2p, c = word 2p+1
// of block b and computes, in float64,
//
//	u1 = (float64(a>>8) + 1) * 2^-24                   in (0, 1]
//	u2 = float64(c>>8) * 2^-24                         in [0, 1)
//	r  = sqrt(-2 * log(u1))
//	θ  = 6.283185307179586 * u2                        (float64(2π) times u2)
//	z  = r * cos(θ)  if e is even,  r * sin(θ)  if e is odd
//
// and stores float32(z) (round to nearest even). So elements 4b+0 and 4b+1
// come from words 0 and 1, elements 4b+2 and 4b+3 from words 2 and 3, and
// each element depends only on (key, e). |z| ≤ sqrt(2·24·ln 2) ≈ 5.77: the
// tails beyond that are cut, as in other 24-bit Box–Muller generators.
// Neither Go's math package nor CUDA's float64 log/sin/cos is correctly
// rounded (CUDA documents ≤ 1 ulp for log and ≤ 2 ulp for sin and cos), so a
// GPU copy of this formula matches after float32 rounding except when z lies
// within a few float64 ulps of a float32 rounding boundary, about one element
// in 10^8; GPU tests should compare Normal within one float32 ulp.
//
// # Derived streams
//
// Key.Split(i) derives an independent key for per-step or per-purpose
// streams by one Philox block under a domain-separated key:
//
//	w    = Block((uint32(i), uint32(i>>32), uint32(Stream), uint32(Stream>>32)),
//	             (uint32(Seed) ^ 0x53504C54, uint32(Seed>>32) ^ 0x4B455953))   // "SPLT", "KEYS"
//	Seed'   = uint64(w[0]) | uint64(w[1])<<32
//	Stream' = uint64(w[2]) | uint64(w[3])<<32
//
// # Parallelism
//
// Fills of at least 1<<16 elements are split across GOMAXPROCS goroutines at
// block boundaries; since every element depends only on (key, e), the output
// does not depend on the split.
//
// Package philox imports only the standard library and must not import other
// ocm packages.
package philox
