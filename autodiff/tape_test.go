package autodiff

import (
	goruntime "runtime"
	"strings"
	"testing"
	"time"
	"weak"

	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// smallConvNet is a residual block's shape of net on dev: conv3×3 + bias,
// GroupNorm + SiLU, conv3×3 + bias with a 1×1-conv skip added where it is stored,
// mean of squares. It returns the loss, the trainable leaves, and weak pointers to
// the intermediate values the tape saved (those the leaves and the input are not),
// with their total size in values.
func smallConvNet(d rt.Device, n, hw int) (loss *Var, leaves []*Var, saved []weak.Pointer[rt.Tensor], savedLen int) {
	rnd := func(seed uint64, shape ...int) *rt.Tensor {
		return rt.Scale(rt.Random(d, rt.Normal, philox.Key{Seed: seed}, 0, shape...), 0.3)
	}
	x := Const(rnd(1, n, 4, hw, hw))
	w1, b1 := Leaf(rnd(2, 8, 4, 3, 3)), Leaf(rnd(3, 8))
	gamma, beta := Leaf(rt.Full(d, 1, 8)), Leaf(rnd(4, 8))
	w2, b2 := Leaf(rnd(5, 8, 8, 3, 3)), Leaf(rnd(6, 8))
	ws, bs := Leaf(rnd(7, 8, 4, 1, 1)), Leaf(rnd(8, 8))
	leaves = []*Var{w1, b1, gamma, beta, w2, b2, ws, bs}
	h := GroupNormSiLU(Conv2dBias(x, w1, b1, 1, 1), gamma, beta, 4, 1e-5)
	y := Conv2dBiasAdd(h, w2, b2, Conv2dBias(x, ws, bs, 1, 0), 1, 1)
	loss = Mean(Square(y), false)
	own := map[*rt.Tensor]bool{x.Value: true}
	for _, l := range leaves {
		own[l.Value] = true
	}
	for _, r := range topoOrder(loss.rec) {
		c := r.node.c
		for _, t := range append([]*rt.Tensor{c.out}, c.in...) {
			if t != nil && !own[t] {
				own[t] = true
				saved = append(saved, weak.Make(t))
				savedLen += t.Len()
			}
		}
	}
	return loss, leaves, saved, savedLen
}

// collect runs the garbage collector until the pool of d stops getting buffers back
// (their cleanups run on a goroutine of their own).
func collect(d *rt.CPU) {
	last := int64(-1)
	for i := 0; i < 50; i++ {
		goruntime.GC()
		time.Sleep(2 * time.Millisecond)
		if p := d.PoolStats().Puts; p == last && i >= 3 {
			return
		} else {
			last = p
		}
	}
}

// TestGradReleasesSavedValues checks that after Grad, with the loss (and through it
// the whole tape) still reachable, every intermediate value the tape saved has been
// let go, and that with the tape retained (the behaviour before) none is: the test
// can tell the two apart.
func TestGradReleasesSavedValues(t *testing.T) {
	defer func() { retainTape = false }()
	for _, retain := range []bool{false, true} {
		retainTape = retain
		loss, leaves, saved, _ := smallConvNet(dev, 2, 9)
		if len(saved) < 3 {
			t.Fatalf("the tape saved %d intermediate values, want at least 3 (conv1's and the norm's outputs, the square's input)", len(saved))
		}
		Grad(loss, nil, leaves...)
		goruntime.GC()
		alive := 0
		for _, p := range saved {
			if p.Value() != nil {
				alive++
			}
		}
		if want := map[bool]int{false: 0, true: len(saved)}[retain]; alive != want {
			t.Errorf("retain %v: %d of %d saved values still reachable after Grad, want %d", retain, alive, len(saved), want)
		}
		goruntime.KeepAlive(loss)
	}
}

// TestGradReturnsSavedBuffersToPool checks, on a CPU device with the buffer pool,
// that a training step's saved activations are back in the pool once Grad returns
// (the loss and the gradients still held, as while an optimiser step runs): the
// bytes handed out and not returned are lower than with the tape retained by at
// least the size of those activations, and the gradients are the same.
func TestGradReturnsSavedBuffersToPool(t *testing.T) {
	defer func() { retainTape = false }()
	out := map[bool]int64{}
	grads := map[bool][][]float32{}
	var savedBytes int64
	for _, retain := range []bool{false, true} {
		retainTape = retain
		d := rt.NewCPU(rt.CPUOptions{Pool: true})
		loss, leaves, _, n := smallConvNet(d, 2, 32)
		savedBytes = 4 * int64(n)
		gs := Grad(loss, nil, leaves...)
		collect(d)
		out[retain] = d.PoolStats().OutBytes
		for _, g := range gs {
			grads[retain] = append(grads[retain], g.Data())
		}
		goruntime.KeepAlive(loss)
	}
	t.Logf("bytes out of the pool after Grad: %d consumed, %d retained; saved activations %d bytes", out[false], out[true], savedBytes)
	if out[true]-out[false] < savedBytes {
		t.Errorf("consuming the tape returned %d bytes to the pool, want at least the %d of the saved activations", out[true]-out[false], savedBytes)
	}
	for i, g := range grads[false] {
		for k, v := range g {
			if v != grads[true][i][k] {
				t.Fatalf("gradient %d value %d: %g consumed, %g retained", i, k, v, grads[true][i][k])
			}
		}
	}
}

// TestSecondGradPanics checks that Grad through a consumed tape panics with a
// message that says so, for the same loss and for a second loss sharing ops with
// the first; and that a fresh forward pass can be differentiated again.
func TestSecondGradPanics(t *testing.T) {
	loss, leaves, _, _ := smallConvNet(dev, 1, 5)
	other := Sum(loss, false)
	first := Grad(loss, nil, leaves...)
	for name, y := range map[string]*Var{"same loss": loss, "shared ops": other} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, "tape was consumed") {
					t.Errorf("%s: second Grad: panic %q, want one saying the tape was consumed", name, msg)
				}
			}()
			Grad(y, nil, leaves...)
		}()
	}
	loss, leaves, _, _ = smallConvNet(dev, 1, 5)
	again := Grad(loss, nil, leaves...)
	for i := range first {
		if a, b := first[i].Data(), again[i].Data(); a[0] != b[0] {
			t.Errorf("gradient %d: %g, then %g from a fresh forward pass", i, a[0], b[0])
		}
	}
}

// TestResidualCotangentShared checks that Conv2dBiasAdd's VJP hands the output's
// cotangent to the residual as it is (no copy).
func TestResidualCotangentShared(t *testing.T) {
	x, w, b := Const(rt.Full(dev, 1, 1, 2, 4, 4)), Const(rt.Full(dev, 0.5, 3, 2, 3, 3)), Const(rt.Full(dev, 1, 3))
	r := Leaf(rt.Full(dev, 2, 1, 3, 4, 4))
	u := rt.Full(dev, 3, 1, 3, 4, 4)
	if g := Grad(Conv2dBiasAdd(x, w, b, r, 1, 1), u, r)[0]; g != u {
		t.Errorf("residual's cotangent is a new tensor %v, want the output's", g)
	}
}

// TestGradRecyclesCotangents checks that Grad hands dead cotangents back for reuse
// without changing any gradient, on a net whose backward pass shares cotangents
// (Add, the residual of Conv2dBiasAdd, Reshape views, an input used three times) at
// sizes the CPU device recycles; the reference is a pooled device, whose buffers
// Grad does not recycle.
func TestGradRecyclesCotangents(t *testing.T) {
	grads := map[bool][][]float32{}
	for _, pooled := range []bool{false, true} {
		d := rt.NewCPU(rt.CPUOptions{Pool: pooled})
		loss, leaves := aliasingNet(d)
		for _, g := range Grad(loss, nil, leaves...) {
			grads[pooled] = append(grads[pooled], g.Data())
		}
		if st := d.RecycleStats(); !pooled && (st.Recycled == 0 || st.Reused == 0) {
			t.Errorf("recycle stats %+v: Grad recycled nothing or reused nothing", st)
		}
	}
	for i, g := range grads[false] {
		for k, v := range g {
			if v != grads[true][i][k] {
				t.Fatalf("gradient %d value %d: %g recycling, %g not", i, k, v, grads[true][i][k])
			}
		}
	}
}

// aliasingNet builds the loss of TestGradRecyclesCotangents on d; its activations
// have 8192 values.
func aliasingNet(d rt.Device) (*Var, []*Var) {
	rnd := func(seed uint64, shape ...int) *rt.Tensor {
		return rt.Scale(rt.Random(d, rt.Normal, philox.Key{Seed: seed}, 0, shape...), 0.3)
	}
	x := Leaf(rnd(1, 2, 4, 32, 32))
	w, b := Leaf(rnd(2, 4, 4, 3, 3)), Leaf(rnd(3, 4))
	a := Add(Mul(x, x), x)
	h := Conv2dBiasAdd(SiLU(a), w, b, a, 1, 1)
	v := Reshape(Add(h, x), 2, 4, 1024)
	y := Concat(1, v, Reshape(Square(h), 2, 4, 1024))
	return Mean(Square(Slice(y, 1, 2, 8)), false), []*Var{x, w, b}
}

// TestReleaseSparesTapeAndShared checks that Release recycles an untracked value,
// but not a value a tape records nor one that a kept Var shares.
func TestReleaseSparesTapeAndShared(t *testing.T) {
	d := rt.NewCPU(rt.CPUOptions{})
	x := rt.Full(d, 1, 2, 4, 32, 32)
	tracked := Square(Leaf(x))
	Release(tracked)
	untracked := Square(Const(x))
	view := Reshape(untracked, 2, 4096)
	Release(untracked, view)
	if st := d.RecycleStats(); st.Recycled != 0 {
		t.Fatalf("recycled %d buffers of a tracked or shared value", st.Recycled)
	}
	if tracked.Value.Data()[0] != 1 || view.Value.Data()[0] != 1 {
		t.Fatal("a spared value changed")
	}
	Release(untracked)
	if st := d.RecycleStats(); st.Recycled != 1 {
		t.Fatalf("recycled %d buffers, want the untracked value's", st.Recycled)
	}
}
