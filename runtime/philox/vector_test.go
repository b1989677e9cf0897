package philox

import (
	"math"
	"testing"
	"unsafe"
)

func TestVectorArgLayout(t *testing.T) {
	var a vectorArgs
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"groups", unsafe.Offsetof(a.groups), 0}, {"lo", unsafe.Offsetof(a.lo), 8},
		{"hi", unsafe.Offsetof(a.hi), 12}, {"s0", unsafe.Offsetof(a.s0), 16},
		{"s1", unsafe.Offsetof(a.s1), 20}, {"k0", unsafe.Offsetof(a.k0), 24},
		{"k1", unsafe.Offsetof(a.k1), 28}, {"mask", unsafe.Offsetof(a.mask), 32},
		{"p", unsafe.Offsetof(a.p), 36}, {"scale", unsafe.Offsetof(a.scale), 40},
	} {
		if f.got != f.want {
			t.Errorf("vectorArgs.%s at offset %d, the assembly reads it at %d", f.name, f.got, f.want)
		}
	}
}

// TestVectorMatchesGo compares the assembly's Uniform and Mask values with the Go
// loops', bit for bit: lengths around the 64-value groups, offsets that are not
// multiples of four, and runs that cross the counter's 2^32 low-word boundary.
func TestVectorMatchesGo(t *testing.T) {
	if !vector {
		t.Skip("no AVX-512F on this CPU (or -tags purego)")
	}
	keys := []Key{{Seed: 1}, {Seed: 0xDEADBEEF12345678, Stream: 7}, {Seed: 3, Stream: 1 << 40}}
	offsets := []uint64{0, 3, 64, 1001, 4<<32 - 4*20 - 1, 4<<32 - 4*16, 1<<64 - 130}
	lengths := []int{63, 64, 65, 127, 300, 4099}
	for _, k := range keys {
		for _, o := range offsets {
			for _, n := range lengths {
				for _, masked := range []bool{false, true} {
					got, want := make([]float32, n), make([]float32, n)
					fillBoth(k, o, masked, got, want)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("key %+v offset %d length %d mask %v: element %d is %v, Go gives %v",
								k, o, n, masked, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// fillBoth fills got with the assembly on and want with it off.
func fillBoth(k Key, o uint64, masked bool, got, want []float32) {
	run := func(d []float32) {
		if masked {
			k.Mask(d, o, 0.3, 1/0.7)
		} else {
			k.Uniform(d, o)
		}
	}
	run(got)
	vector = false
	defer func() { vector = true }()
	run(want)
}

func BenchmarkMask(b *testing.B) {
	x := make([]float32, 1<<20)
	b.SetBytes(4 << 20)
	for b.Loop() {
		Key{Seed: 1}.Mask(x, 0, 0.1, 1/0.9)
	}
}
