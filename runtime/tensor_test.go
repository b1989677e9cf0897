package runtime

import (
	"slices"
	"testing"
)

// TestTensorBasics checks the shape accessors, the zero fill of New, Full and Scalar,
// and that FromSlice copies its data.
func TestTensorBasics(t *testing.T) {
	x := New(testDev, 2, 3, 4)
	if x.Rank() != 3 || x.Len() != 24 || x.Dim(0) != 2 || x.Dim(-1) != 4 || x.Dim(-2) != 3 {
		t.Errorf("New(2,3,4): rank %d, len %d, dims %d %d %d", x.Rank(), x.Len(), x.Dim(0), x.Dim(-2), x.Dim(-1))
	}
	for i, v := range x.Data() {
		if v != 0 {
			t.Fatalf("New: value %d = %g, want 0", i, v)
		}
	}
	for i, v := range Full(testDev, 2.5, 3, 2).Data() {
		if v != 2.5 {
			t.Fatalf("Full(2.5): value %d = %g", i, v)
		}
	}
	if s := Scalar(testDev, -3); s.Rank() != 0 || s.Len() != 1 || s.Item() != -3 {
		t.Errorf("Scalar(-3): rank %d, len %d, item %g", s.Rank(), s.Len(), s.Item())
	}
	src := []float32{1, 2, 3, 4, 5, 6}
	y := FromSlice(testDev, src, 2, 3)
	src[0] = 99
	if got := y.Data(); got[0] != 1 || got[5] != 6 {
		t.Errorf("FromSlice does not copy its data: %v", got)
	}
	if Numel([]int{2, 0, 5}) != 0 || Numel(nil) != 1 || Numel([]int{3, 4}) != 12 {
		t.Errorf("Numel: %d %d %d", Numel([]int{2, 0, 5}), Numel(nil), Numel([]int{3, 4}))
	}
	mustPanic(t, "FromSlice with 5 values for (2,3)", "5 values", func() { FromSlice(testDev, src[:5], 2, 3) })
	mustPanic(t, "Item of 6 values", "6 values", func() { y.Item() })
	mustPanic(t, "New(-1)", "negative dimension", func() { New(testDev, 2, -1) })
}

// TestReshape checks that Reshape keeps the row-major order of the values, infers a -1
// axis, shares the buffer, and refuses size changes.
func TestReshape(t *testing.T) {
	x := ramp(2, 3, 4)
	want := x.Data()
	cases := []struct{ in, want []int }{
		{[]int{24}, []int{24}},
		{[]int{4, 6}, []int{4, 6}},
		{[]int{-1, 4}, []int{6, 4}},
		{[]int{2, -1}, []int{2, 12}},
		{[]int{2, 3, 2, -1}, []int{2, 3, 2, 2}},
		{[]int{1, 24, 1}, []int{1, 24, 1}},
	}
	for _, c := range cases {
		r := x.Reshape(c.in...)
		if !slices.Equal(r.Shape(), c.want) {
			t.Errorf("Reshape(%v): shape %v, want %v", c.in, r.Shape(), c.want)
		}
		if !slices.Equal(r.Data(), want) {
			t.Errorf("Reshape(%v) changed the values", c.in)
		}
		if r.Buffer() != x.Buffer() {
			t.Errorf("Reshape(%v) copied the buffer", c.in)
		}
	}
	// The caller's shape slice is not kept.
	s := []int{4, -1}
	r := x.Reshape(s...)
	s[0] = 1
	if !slices.Equal(r.Shape(), []int{4, 6}) {
		t.Errorf("Reshape kept the caller's slice: %v", r.Shape())
	}
	if !slices.Equal(New(testDev, 0, 3).Reshape(-1, 3).Shape(), []int{0, 3}) {
		t.Errorf("Reshape of an empty tensor to (-1, 3): %v", New(testDev, 0, 3).Reshape(-1, 3).Shape())
	}
	mustPanic(t, "Reshape(5, 5)", "changes the size", func() { x.Reshape(5, 5) })
	mustPanic(t, "Reshape(-1, 5)", "changes the size", func() { x.Reshape(-1, 5) })
	mustPanic(t, "Reshape(-1, -1)", "more than one -1", func() { x.Reshape(-1, -1) })
}

// TestCloneAndCopyInto checks that Clone owns its values and CopyInto copies by size.
func TestCloneAndCopyInto(t *testing.T) {
	x := ramp(2, 3)
	c := x.Clone()
	if c.Buffer() == x.Buffer() || !slices.Equal(c.Data(), x.Data()) || !slices.Equal(c.Shape(), x.Shape()) {
		t.Fatalf("Clone: shares its buffer or differs: %v vs %v", c, x)
	}
	dst := New(testDev, 3, 2)
	CopyInto(dst, x)
	if !slices.Equal(dst.Data(), x.Data()) || !slices.Equal(dst.Shape(), []int{3, 2}) {
		t.Errorf("CopyInto: %v from %v", dst, x)
	}
	CopyInto(c, Full(testDev, 7, 6))
	if x.Data()[0] != 1 || c.Data()[0] != 7 {
		t.Errorf("writing a clone changed the original: %v, clone %v", x, c)
	}
	mustPanic(t, "CopyInto of 6 into 4", "copyinto", func() { CopyInto(New(testDev, 4), x) })
}

// TestPermuteLayout checks the gather strides that describe Permute, worked out by hand
// from the contiguous strides of the source.
func TestPermuteLayout(t *testing.T) {
	cases := []struct{ shape, perm, wantShape, wantStrides []int }{
		// (2,3,4) has strides (12,4,1).
		{[]int{2, 3, 4}, []int{0, 1, 2}, []int{2, 3, 4}, []int{12, 4, 1}},
		{[]int{2, 3, 4}, []int{2, 0, 1}, []int{4, 2, 3}, []int{1, 12, 4}},
		{[]int{2, 3, 4}, []int{1, 2, 0}, []int{3, 4, 2}, []int{4, 1, 12}},
		{[]int{5, 7}, []int{1, 0}, []int{7, 5}, []int{1, 7}},
		// (2,3,4,5) has strides (60,20,5,1).
		{[]int{2, 3, 4, 5}, []int{0, 2, 3, 1}, []int{2, 4, 5, 3}, []int{60, 5, 1, 20}},
	}
	for _, c := range cases {
		l := PermuteLayout(c.shape, c.perm)
		if !slices.Equal(l.Shape, c.wantShape) || !slices.Equal(l.XStrides, c.wantStrides) {
			t.Errorf("PermuteLayout(%v, %v) = %v %v, want %v %v", c.shape, c.perm, l.Shape, l.XStrides, c.wantShape, c.wantStrides)
		}
	}
}
