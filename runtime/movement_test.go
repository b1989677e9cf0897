package runtime

import (
	"slices"
	"testing"
)

// permutations returns every permutation of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for pos := 0; pos <= len(p); pos++ {
			q := append(append(slices.Clone(p[:pos]), n-1), p[pos:]...)
			out = append(out, q)
		}
	}
	return out
}

// TestPermute checks every permutation of a rank-3 and a rank-4 tensor value by value:
// out[i₀, i₁, …] = x[j] with j[perm[k]] = iₖ, and that the inverse permutation restores x.
func TestPermute(t *testing.T) {
	for _, shape := range [][]int{{2, 3, 4}, {2, 1, 3, 5}} {
		x := ramp(shape...)
		xs := x.Data()
		perms := permutations(len(shape))
		if len(perms) != map[int]int{3: 6, 4: 24}[len(shape)] {
			t.Fatalf("permutations(%d): %d", len(shape), len(perms))
		}
		for _, p := range perms {
			y := Permute(x, p...)
			ws := make([]int, len(p))
			for k := range p {
				ws[k] = shape[p[k]]
			}
			if !slices.Equal(y.Shape(), ws) {
				t.Errorf("Permute(%v, %v): shape %v, want %v", shape, p, y.Shape(), ws)
				continue
			}
			for i, v := range y.Data() {
				ix := unravel(i, ws)
				j := make([]int, len(p))
				for k := range p {
					j[p[k]] = ix[k]
				}
				if want := xs[ravel(j, shape)]; v != want {
					t.Errorf("Permute(%v, %v): value %v = %g, want %g", shape, p, ix, v, want)
					break
				}
			}
			inv := InversePerm(p)
			for k := range p {
				if p[inv[k]] != k || inv[p[k]] != k {
					t.Fatalf("InversePerm(%v) = %v is not its inverse", p, inv)
				}
			}
			if back := Permute(y, inv...); !slices.Equal(back.Shape(), shape) || !slices.Equal(back.Data(), xs) {
				t.Errorf("Permute(Permute(x, %v), %v) is not x", p, inv)
			}
		}
	}
}

// TestTranspose checks that Transpose swaps the last two axes of a batch of matrices.
func TestTranspose(t *testing.T) {
	x := ramp(2, 3, 4)
	y := Transpose(x)
	if !slices.Equal(y.Shape(), []int{2, 4, 3}) {
		t.Fatalf("Transpose(2,3,4): shape %v", y.Shape())
	}
	xs, ys := x.Data(), y.Data()
	for b := range 2 {
		for i := range 3 {
			for j := range 4 {
				if got, want := ys[b*12+j*3+i], xs[b*12+i*4+j]; got != want {
					t.Fatalf("Transpose: [%d,%d,%d] = %g, want %g", b, j, i, got, want)
				}
			}
		}
	}
}

// TestPermuteRejects checks that a wrong-length or repeated permutation panics.
func TestPermuteRejects(t *testing.T) {
	x := ramp(2, 3)
	mustPanic(t, "Permute by (0)", "permute", func() { Permute(x, 0) })
	mustPanic(t, "Permute by (0, 0)", "not a permutation", func() { Permute(x, 0, 0) })
	mustPanic(t, "Permute by (0, 2)", "not a permutation", func() { Permute(x, 0, 2) })
}

// TestConcatSlice joins three tensors of different sizes along each axis (also counted
// from the end), checks every value of the result against the part it came from, and
// slices each part back out.
func TestConcatSlice(t *testing.T) {
	base := []int{2, 3, 4}
	sizes := []int{1, 3, 2}
	for axis := -3; axis < 3; axis++ {
		a := (axis + 3) % 3
		var parts []*Tensor
		for i, s := range sizes {
			sh := slices.Clone(base)
			sh[a] = s
			parts = append(parts, randomT(uint64(10*a+i), sh...))
		}
		out := Concat(axis, parts...)
		want := slices.Clone(base)
		want[a] = 6
		if !slices.Equal(out.Shape(), want) {
			t.Errorf("Concat axis %d: shape %v, want %v", axis, out.Shape(), want)
			continue
		}
		// Index arithmetic: value ix of out comes from the part whose range along a
		// holds ix[a], at ix[a] minus the sizes before it.
		od := out.Data()
		for i, v := range od {
			ix := unravel(i, want)
			p, lo := 0, 0
			for ix[a] >= lo+sizes[p] {
				lo += sizes[p]
				p++
			}
			ix[a] -= lo
			if w := parts[p].Data()[ravel(ix, parts[p].Shape())]; v != w {
				t.Errorf("Concat axis %d: value %d = %g, want %g (part %d)", axis, i, v, w, p)
				break
			}
		}
		lo := 0
		for i, s := range sizes {
			back := Slice(out, axis, lo, lo+s)
			if !slices.Equal(back.Shape(), parts[i].Shape()) || !slices.Equal(back.Data(), parts[i].Data()) {
				t.Errorf("Slice(Concat(axis %d), %d, %d) is not part %d", axis, lo, lo+s, i)
			}
			adj := SliceAdjoint(parts[i], want, axis, lo).Data()
			for j, v := range adj {
				ix := unravel(j, want)
				w := float32(0)
				if ix[a] >= lo && ix[a] < lo+s {
					ix[a] -= lo
					w = parts[i].Data()[ravel(ix, parts[i].Shape())]
				}
				if v != w {
					t.Errorf("SliceAdjoint(part %d, axis %d): value %d = %g, want %g", i, axis, j, v, w)
					break
				}
			}
			lo += s
		}
	}
}

// TestSliceValues checks Slice of the middle of each axis value by value, and the empty
// slice.
func TestSliceValues(t *testing.T) {
	shape := []int{3, 4, 5}
	x := ramp(shape...)
	xs := x.Data()
	for a := range 3 {
		lo, hi := 1, shape[a]-1
		y := Slice(x, a, lo, hi)
		ws := slices.Clone(shape)
		ws[a] = hi - lo
		if !slices.Equal(y.Shape(), ws) {
			t.Fatalf("Slice axis %d [%d, %d): shape %v, want %v", a, lo, hi, y.Shape(), ws)
		}
		for i, v := range y.Data() {
			ix := unravel(i, ws)
			ix[a] += lo
			if w := xs[ravel(ix, shape)]; v != w {
				t.Fatalf("Slice axis %d [%d, %d): value %d = %g, want %g", a, lo, hi, i, v, w)
			}
		}
		if e := Slice(x, a, 2, 2); e.Len() != 0 || e.Dim(a) != 0 {
			t.Errorf("Slice axis %d [2, 2): shape %v", a, e.Shape())
		}
	}
}

// TestConcatSliceRejects checks the shape errors of Concat and Slice.
func TestConcatSliceRejects(t *testing.T) {
	x := ramp(2, 3)
	mustPanic(t, "Concat of (2,3) and (3,3) on axis 1", "differ off axis", func() { Concat(1, x, ramp(3, 3)) })
	mustPanic(t, "Concat of ranks 2 and 1", "ranks differ", func() { Concat(0, x, ramp(3)) })
	mustPanic(t, "Concat of nothing", "no tensors", func() { Concat(0) })
	mustPanic(t, "Concat on axis 2 of rank 2", "axis out of range", func() { Concat(2, x, x) })
	mustPanic(t, "Slice [2, 4) of 3", "slice", func() { Slice(x, 1, 2, 4) })
	mustPanic(t, "Slice [2, 1)", "slice", func() { Slice(x, 1, 2, 1) })
	mustPanic(t, "Slice on axis -3 of rank 2", "axis out of range", func() { Slice(x, -3, 0, 1) })
}
