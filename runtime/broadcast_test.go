package runtime

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// broadcastCases are shape pairs with their NumPy broadcast, worked out by hand from the
// rule (align at the right; equal sizes stay, a 1 stretches, anything else fails); a nil
// want means the pair must not broadcast.
var broadcastCases = []struct {
	a, b, want []int
}{
	{[]int{2, 3}, []int{2, 3}, []int{2, 3}},
	{[]int{2, 3}, []int{3}, []int{2, 3}},
	{[]int{2, 3}, []int{1, 3}, []int{2, 3}},
	{[]int{2, 3}, []int{2, 1}, []int{2, 3}},
	{[]int{4, 1, 5}, []int{3, 1}, []int{4, 3, 5}},
	{[]int{1}, []int{7}, []int{7}},
	{[]int{}, []int{2, 2}, []int{2, 2}},
	{[]int{}, []int{}, []int{}},
	{[]int{5, 1, 1}, []int{1, 6, 1}, []int{5, 6, 1}},
	{[]int{0, 3}, []int{1, 3}, []int{0, 3}},
	{[]int{0}, []int{1}, []int{0}},
	{[]int{2, 3}, []int{2}, nil},
	{[]int{3, 1}, []int{2, 4}, nil},
	{[]int{0}, []int{2}, nil},
	{[]int{2, 3, 4}, []int{3, 5}, nil},
}

// TestBroadcastShape checks BroadcastShape on the table, in both argument orders.
func TestBroadcastShape(t *testing.T) {
	for _, c := range broadcastCases {
		for _, p := range [][2][]int{{c.a, c.b}, {c.b, c.a}} {
			got, err := BroadcastShape(p[0], p[1])
			switch {
			case c.want == nil && err == nil:
				t.Errorf("BroadcastShape(%v, %v) = %v, want an error", p[0], p[1], got)
			case c.want != nil && err != nil:
				t.Errorf("BroadcastShape(%v, %v): %v, want %v", p[0], p[1], err, c.want)
			case c.want != nil && !slices.Equal(got, c.want):
				t.Errorf("BroadcastShape(%v, %v) = %v, want %v", p[0], p[1], got, c.want)
			}
		}
	}
}

// bcastIndex maps an index of the broadcast shape out to the flat index of the operand
// of shape in that it reads: leading axes of out are dropped and size-1 axes read 0.
func bcastIndex(ix, in, out []int) int {
	lead := len(out) - len(in)
	j := make([]int, len(in))
	for a := range in {
		if in[a] != 1 {
			j[a] = ix[a+lead]
		}
	}
	return ravel(j, in)
}

// TestBroadcastValues runs Add, Sub, Mul, Maximum and Expand on every valid pair and
// checks each output value against the operands read by index arithmetic; invalid pairs
// must panic naming the shapes.
func TestBroadcastValues(t *testing.T) {
	ops := []struct {
		name string
		f    func(x, y *Tensor) *Tensor
		ref  func(a, b float32) float32
	}{
		{"add", Add, func(a, b float32) float32 { return a + b }},
		{"sub", Sub, func(a, b float32) float32 { return a - b }},
		{"mul", Mul, func(a, b float32) float32 { return a * b }},
		{"max", Maximum, func(a, b float32) float32 { return max(a, b) }},
	}
	for ci, c := range broadcastCases {
		x, y := randomT(uint64(2*ci+1), c.a...), randomT(uint64(2*ci+2), c.b...)
		if c.want == nil {
			mustPanic(t, "add of "+shapeStr(c.a, c.b), "do not broadcast", func() { Add(x, y) })
			continue
		}
		xs, ys := x.Data(), y.Data()
		for _, op := range ops {
			z := op.f(x, y)
			if !slices.Equal(z.Shape(), c.want) {
				t.Errorf("%s %s: shape %v, want %v", op.name, shapeStr(c.a, c.b), z.Shape(), c.want)
				continue
			}
			for i, v := range z.Data() {
				ix := unravel(i, c.want)
				want := op.ref(xs[bcastIndex(ix, c.a, c.want)], ys[bcastIndex(ix, c.b, c.want)])
				if v != want {
					t.Errorf("%s %s: value %v = %g, want %g", op.name, shapeStr(c.a, c.b), ix, v, want)
					break
				}
			}
		}
		for _, in := range []struct {
			t     *Tensor
			shape []int
		}{{x, c.a}, {y, c.b}} {
			if !slices.Equal(in.shape, c.want) {
				e := Expand(in.t, c.want...).Data()
				src := in.t.Data()
				for i, v := range e {
					if want := src[bcastIndex(unravel(i, c.want), in.shape, c.want)]; v != want {
						t.Errorf("expand %v to %v: value %d = %g, want %g", in.shape, c.want, i, v, want)
						break
					}
				}
			}
		}
	}
}

func shapeStr(a, b []int) string { return fmt.Sprintf("(%v, %v)", a, b) }

// TestExpandRejects checks that Expand refuses a target that is not the broadcast of
// the source with it (the source would have to shrink).
func TestExpandRejects(t *testing.T) {
	x := ramp(2, 3)
	mustPanic(t, "expand (2,3) to (3)", "cannot broadcast", func() { Expand(x, 3) })
	mustPanic(t, "expand (2,3) to (2,1)", "cannot broadcast", func() { Expand(x, 2, 1) })
	mustPanic(t, "expand (2,3) to (4,3)", "do not broadcast", func() { Expand(x, 4, 3) })
}

// TestBroadcastStrides checks the read strides of broadcast inputs, worked out by hand:
// contiguous strides of the operand, 0 on leading and stretched axes.
func TestBroadcastStrides(t *testing.T) {
	cases := []struct{ in, out, want []int }{
		{[]int{2, 3}, []int{2, 3}, []int{3, 1}},
		{[]int{3}, []int{2, 3}, []int{0, 1}},
		{[]int{2, 1}, []int{2, 3}, []int{1, 0}},
		{[]int{3, 1}, []int{4, 3, 5}, []int{0, 1, 0}},
		{[]int{4, 1, 5}, []int{4, 3, 5}, []int{5, 0, 1}},
		{[]int{}, []int{2, 2}, []int{0, 0}},
		{[]int{2, 3, 4}, []int{2, 3, 4}, []int{12, 4, 1}},
	}
	for _, c := range cases {
		if got := bstrides(c.in, c.out); !slices.Equal(got, c.want) {
			t.Errorf("bstrides(%v, %v) = %v, want %v", c.in, c.out, got, c.want)
		}
	}
	l := broadcastLayout("test", []int{3, 1}, []int{4, 1, 5})
	if !slices.Equal(l.Shape, []int{4, 3, 5}) || !slices.Equal(l.XStrides, []int{0, 1, 0}) || !slices.Equal(l.YStrides, []int{5, 0, 1}) {
		t.Errorf("broadcastLayout((3,1), (4,1,5)) = %+v", *l)
	}
}

// TestCollapseAxes checks the merging of axes that both operands read contiguously, on
// cases worked out by hand.
func TestCollapseAxes(t *testing.T) {
	cases := []struct {
		shape, xs, ys    []int
		wantS, wantX, wy []int
	}{
		// Both contiguous: one axis.
		{[]int{2, 3, 4}, []int{12, 4, 1}, []int{12, 4, 1}, []int{24}, []int{1}, []int{1}},
		// A row vector added to a matrix: the axes cannot merge (y repeats each row).
		{[]int{2, 3}, []int{3, 1}, []int{0, 1}, []int{2, 3}, []int{3, 1}, []int{0, 1}},
		// Size-1 axes drop out; the rest merges only where both agree.
		{[]int{2, 1, 3}, []int{3, 0, 1}, []int{0, 0, 1}, []int{2, 3}, []int{3, 1}, []int{0, 1}},
		// A scalar broadcast over a contiguous block merges (0 = 0·dim).
		{[]int{4, 5}, []int{5, 1}, []int{0, 0}, []int{20}, []int{1}, []int{0}},
		// All ones: one axis of size 1.
		{[]int{1, 1}, []int{0, 0}, []int{0, 0}, []int{1}, []int{0}, []int{0}},
	}
	for _, c := range cases {
		s, a, b := CollapseAxes(c.shape, c.xs, c.ys)
		if !slices.Equal(s, c.wantS) || !slices.Equal(a, c.wantX) || !slices.Equal(b, c.wy) {
			t.Errorf("CollapseAxes(%v, %v, %v) = %v %v %v, want %v %v %v",
				c.shape, c.xs, c.ys, s, a, b, c.wantS, c.wantX, c.wy)
		}
		// Whatever the merge, walking the collapsed layout must visit the same
		// (x, y) offsets in the same order as the original one.
		if got, want := walk(s, a, b), walk(c.shape, c.xs, c.ys); !slices.Equal(got, want) {
			t.Errorf("CollapseAxes(%v, %v, %v): offsets %v, want %v", c.shape, c.xs, c.ys, got, want)
		}
	}
}

// walk lists the x and y offsets read by a row-major walk of shape with strides xs, ys.
func walk(shape, xs, ys []int) []int {
	var out []int
	for i := range numel(shape) {
		ix := unravel(i, shape)
		ox, oy := 0, 0
		for a := range ix {
			ox += ix[a] * xs[a]
			oy += ix[a] * ys[a]
		}
		out = append(out, ox, oy)
	}
	return out
}

// TestSumTo reduces the broadcast of every valid pair back to each operand's shape and
// compares with a float64 sum over the output indices that read each operand value.
func TestSumTo(t *testing.T) {
	for ci, c := range broadcastCases {
		if c.want == nil {
			continue
		}
		g := randomT(uint64(100+ci), c.want...)
		gs := g.Data()
		for _, in := range [][]int{c.a, c.b} {
			ref, mag := make([]float64, numel(in)), make([]float64, numel(in))
			for i, v := range gs {
				j := bcastIndex(unravel(i, c.want), in, c.want)
				ref[j] += float64(v)
				mag[j] += math.Abs(float64(v))
			}
			s := SumTo(g, in)
			if !slices.Equal(s.Shape(), in) {
				t.Errorf("SumTo(%v → %v): shape %v", c.want, in, s.Shape())
				continue
			}
			for j, v := range s.Data() {
				if e := math.Abs(float64(v) - ref[j]); !(e <= 1e-6*(1+mag[j])) {
					t.Errorf("SumTo(%v → %v): value %d = %g, want %g", c.want, in, j, v, ref[j])
					break
				}
			}
		}
	}
}

// TestSumToAdjoint checks that SumTo is the adjoint of Expand: ⟨Expand(x), g⟩ = ⟨x, SumTo(g)⟩.
func TestSumToAdjoint(t *testing.T) {
	for _, c := range []struct{ in, out []int }{
		{[]int{3, 1}, []int{4, 3, 5}},
		{[]int{5}, []int{2, 3, 5}},
		{[]int{1, 1}, []int{6, 7}},
		{[]int{2, 1, 4}, []int{2, 3, 4}},
	} {
		x, g := randomT(7, c.in...), randomT(8, c.out...)
		lhs := dot(Expand(x, c.out...).Data(), g.Data())
		rhs := dot(x.Data(), SumTo(g, c.in).Data())
		if math.Abs(lhs-rhs) > 1e-5*(1+math.Abs(lhs)) {
			t.Errorf("%v ← %v: ⟨Expand x, g⟩ = %g, ⟨x, SumTo g⟩ = %g", c.in, c.out, lhs, rhs)
		}
	}
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestSumToRejects checks that SumTo to a shape of higher rank, or to one that is not a
// broadcast source of x, panics.
func TestSumToRejects(t *testing.T) {
	x := ramp(2, 3)
	mustPanic(t, "sumto (2,3) to (1,2,3)", "sumto", func() { SumTo(x, []int{1, 2, 3}) })
	mustPanic(t, "sumto (2,6) to (3)", "changes the size", func() { SumTo(ramp(2, 6), []int{3}) })
}

// TestReduceKeptParallel checks the split reductions (a bias gradient (N, C, H·W) → C
// and row sums (N·C, H·W) → N·C, summed and maximised) against the serial walk
// reduceRec, bit for bit, on sizes large enough to be split across cores.
func TestReduceKeptParallel(t *testing.T) {
	d := NewCPU(CPUOptions{})
	for _, c := range []struct {
		shape   []int
		reduced []bool
		dims    []int
		red     []bool
	}{
		{[]int{33, 70, 13, 13}, []bool{true, false, true, true}, []int{33, 70, 169}, []bool{true, false, true}},
		{[]int{33, 70, 13, 13}, []bool{false, false, true, true}, []int{33 * 70, 169}, []bool{false, true}},
		{[]int{5, 300, 1, 91}, []bool{true, false, false, true}, []int{5, 300, 91}, []bool{true, false, true}},
	} {
		x := randomT(uint64(len(c.shape)*c.shape[1]), c.shape...)
		for _, op := range []ReduceOp{ReduceSum, ReduceMax} {
			kept := 1
			for i, n := range c.shape {
				if !c.reduced[i] {
					kept *= n
				}
			}
			got := &cpuBuf{d: make([]float32, kept)}
			d.Reduce(op, got, x.buf, c.shape, c.reduced)
			acc := make([]float64, kept)
			if op == ReduceMax {
				for i := range acc {
					acc[i] = math.Inf(-1)
				}
			}
			reduceRec(op, acc, x.Data(), c.dims, c.red)
			for i, v := range acc {
				if math.Float32bits(got.d[i]) != math.Float32bits(float32(v)) {
					t.Fatalf("%v %v: value %d = %g, serial walk %g", op, c.shape, i, got.d[i], float32(v))
				}
			}
		}
	}
}
