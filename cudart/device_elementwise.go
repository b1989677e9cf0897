package cudart

// Elementwise ops and data movement: unary, binary and broadcast kernels, gathers, Adam, random numbers.

import (
	"ocm/runtime"
	"ocm/runtime/philox"
)

// Unary computes dst = op(src) with the PTX kernel unary_<op>.
func (d *Device) Unary(op runtime.UnaryOp, dst, src runtime.Buffer, p0, p1 float32) {
	o, x := buf(dst), buf(src)
	fn, ok := d.unaryFns[op]
	if !ok || o.n > maxKernelN {
		d.fallback("unary_"+op.String(), []runtime.Buffer{dst, src}, 1, func(h []runtime.Buffer) {
			d.host.Unary(op, h[0], h[1], p0, p1)
		})
		return
	}
	if o.n == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(fn, o.n, unaryArgs(o.ptr, x.ptr, o.n, p0, p1)...)
}

// Binary computes dst = op(x, y) with broadcasting, with the PTX kernel binary_<op>.
func (d *Device) Binary(op runtime.BinaryOp, dst, x, y runtime.Buffer, l *runtime.Broadcast) {
	o, a, b := buf(dst), buf(x), buf(y)
	fn, ok := d.binaryFns[op]
	meta, fits := broadcastArgs(l, l.YStrides)
	if !ok || !fits || o.n > maxKernelN {
		d.fallback("binary_"+op.String(), []runtime.Buffer{dst, x, y}, 1, func(h []runtime.Buffer) {
			d.host.Binary(op, h[0], h[1], h[2], l)
		})
		return
	}
	if o.n == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(fn, o.n, binaryArgs(o.ptr, a.ptr, b.ptr, o.n, meta)...)
}

// Expand broadcasts src into dst (the binary_copy kernel).
func (d *Device) Expand(dst, src runtime.Buffer, l *runtime.Broadcast) {
	o, x := buf(dst), buf(src)
	meta, fits := broadcastArgs(l, make([]int, len(l.Shape)))
	if d.expandFn == 0 || !fits || o.n > maxKernelN {
		d.fallback("expand", []runtime.Buffer{dst, src}, 1, func(h []runtime.Buffer) {
			d.host.Expand(h[0], h[1], l)
		})
		return
	}
	if o.n == 0 {
		return
	}
	d.enter()
	defer d.leave()
	d.launch(d.expandFn, o.n, binaryArgs(o.ptr, x.ptr, x.ptr, o.n, meta)...)
}

// Permute transposes src into dst (a gather with the binary_copy kernel).
func (d *Device) Permute(dst, src runtime.Buffer, shape, perm []int) {
	l := runtime.PermuteLayout(shape, perm)
	if o, x := buf(dst), buf(src); d.expandFn != 0 && o.n <= maxKernelN {
		if meta, ok := broadcastArgs(l, make([]int, len(shape))); ok {
			if o.n == 0 {
				return
			}
			d.enter()
			defer d.leave()
			d.launch(d.expandFn, o.n, binaryArgs(o.ptr, x.ptr, x.ptr, o.n, meta)...)
			return
		}
	}
	d.fallback("permute", []runtime.Buffer{dst, src}, 1, func(h []runtime.Buffer) {
		d.host.Permute(h[0], h[1], shape, perm)
	})
}

// Upsample2x repeats values into 2×2 blocks (a gather with the binary_copy kernel).
func (d *Device) Upsample2x(dst, src runtime.Buffer, nc, hh, w int) {
	l := upsampleLayout(nc, hh, w)
	if o, x := buf(dst), buf(src); d.expandFn != 0 && o.n <= maxKernelN {
		if meta, ok := broadcastArgs(l, make([]int, 5)); ok {
			if o.n == 0 {
				return
			}
			d.enter()
			defer d.leave()
			d.launch(d.expandFn, o.n, binaryArgs(o.ptr, x.ptr, x.ptr, o.n, meta)...)
			return
		}
	}
	d.fallback("upsample2x", []runtime.Buffer{dst, src}, 1, func(h []runtime.Buffer) {
		d.host.Upsample2x(h[0], h[1], nc, hh, w)
	})
}

// Upsample2xBackward sums 2×2 blocks as (a+b)+(c+d), the CPU's order, with three
// binary_add launches over strided views of ddst.
func (d *Device) Upsample2xBackward(dsrc, ddst runtime.Buffer, nc, hh, w int) {
	l := upsampleBackLayout(nc, hh, w)
	add := d.binaryFns[runtime.OpAdd]
	if o, x := buf(dsrc), buf(ddst); add != 0 && x.n <= maxKernelN {
		if meta, ok := broadcastArgs(l, l.YStrides); ok {
			if o.n == 0 {
				return
			}
			tmp := buf(d.Alloc(o.n, false))
			defer d.Free(tmp)
			cont, _ := broadcastArgs(&runtime.Broadcast{Shape: []int{o.n}, XStrides: []int{1}, YStrides: []int{1}}, []int{1})
			at := func(off int) uintptr { return x.ptr + uintptr(off*4) }
			d.enter()
			defer d.leave()
			d.launch(add, o.n, binaryArgs(o.ptr, at(0), at(1), o.n, meta)...)
			d.launch(add, o.n, binaryArgs(tmp.ptr, at(2*w), at(2*w+1), o.n, meta)...)
			d.launch(add, o.n, binaryArgs(o.ptr, o.ptr, tmp.ptr, o.n, cont)...)
			return
		}
	}
	d.fallback("upsample2x_backward", []runtime.Buffer{dsrc, ddst}, 1, func(h []runtime.Buffer) {
		d.host.Upsample2xBackward(h[0], h[1], nc, hh, w)
	})
}

// Adam applies one Adam step to p, m, v (the adam kernel; same operation order as the CPU).
func (d *Device) Adam(p, g, m, v runtime.Buffer, a *runtime.AdamArgs) {
	if P, G, M, V := buf(p), buf(g), buf(m), buf(v); d.adamFn != 0 && P.n <= maxKernelN {
		if P.n == 0 {
			return
		}
		d.enter()
		defer d.leave()
		d.launch(d.adamFn, P.n, adamArgs(P.ptr, G.ptr, M.ptr, V.ptr, P.n, a)...)
		return
	}
	d.fallback("adam", []runtime.Buffer{p, g, m, v}, 0b1101, func(h []runtime.Buffer) {
		d.host.Adam(h[0], h[1], h[2], h[3], a)
	})
}

// Random fills dst from the Philox stream of key: natively for Uniform and Rademacher
// (bit-identical to the CPU), on the host for Normal.
func (d *Device) Random(dst runtime.Buffer, dist runtime.Distribution, key philox.Key, offset uint64) {
	o := buf(dst)
	if fn, ok := d.randomFns[dist]; ok && o.n <= maxKernelN {
		if o.n == 0 {
			return
		}
		d.enter()
		defer d.leave()
		d.launch(fn, o.n, randomArgs(o.ptr, o.n, key, offset)...)
		return
	}
	d.fallback("random_"+dist.String(), []runtime.Buffer{dst}, 1, func(h []runtime.Buffer) {
		d.host.Random(h[0], dist, key, offset)
	})
}
