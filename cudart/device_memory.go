package cudart

// Buffers: the caching allocator's Alloc and Free, copies between host and device, Fill.

import (
	"fmt"
	"math"
	goruntime "runtime"
	"unsafe"

	"ocm/runtime"
)

// buf returns the CUDA buffer behind b (nil for nil), panicking on a foreign or freed one.
func buf(b runtime.Buffer) *Buffer {
	if b == nil {
		return nil
	}
	g, ok := b.(*Buffer)
	if !ok {
		panic(fmt.Sprintf("cudart: buffer of type %T is not on the CUDA device", b))
	}
	if g == nil {
		return nil
	}
	if g.freed {
		panic("cudart: use of a freed buffer")
	}
	return g
}

// Alloc returns a buffer of n values from the caching allocator, zeroed on the stream
// when zero is set.
func (d *Device) Alloc(n int, zero bool) runtime.Buffer {
	b := &Buffer{n: n, dev: d}
	if n == 0 {
		return b
	}
	b.size = sizeClass(n * 4)
	d.enter()
	defer d.leave()
	p, rc := d.alloc.get(b.size, func(size int) (uintptr, int32) {
		var p uintptr
		rc := d.lib.cudaMalloc(&p, uintptr(size))
		if rc != 0 {
			d.lib.cudaGetLastError() // clear the error so later calls do not report it
		}
		return p, rc
	}, func(p uintptr) { d.lib.cudaFree(p) })
	if rc == cudaErrorMemoryAlloc {
		var free, total uintptr
		d.lib.cudaMemGetInfo(&free, &total)
		panic(&OutOfMemoryError{Requested: int64(b.size), Free: int64(free), Total: int64(total)})
	}
	if rc != 0 {
		panic(rtErr("cudaMalloc", rc))
	}
	b.ptr = p
	a := &d.alloc
	b.cleanup = goruntime.AddCleanup(b, func(bl block) { a.put(bl.p, bl.size) }, block{p, b.size})
	if zero {
		must(rtErr("cudaMemsetAsync", d.lib.cudaMemsetAsync(p, 0, uintptr(n*4), d.stream)))
	}
	return b
}

// Free returns b's memory to the cache now instead of when the collector finds it
// unreachable. b must not be used afterwards; work already queued on it is unaffected
// (later users of the memory queue behind it on the same stream).
func (d *Device) Free(b runtime.Buffer) {
	g := buf(b)
	if g == nil || g.ptr == 0 {
		return
	}
	g.cleanup.Stop()
	g.freed = true
	d.alloc.put(g.ptr, g.size)
	g.ptr = 0
}

// Upload copies src into dst (cudaMemcpyAsync from pageable memory: it returns once
// src has been staged, so src may be reused at once).
func (d *Device) Upload(dst runtime.Buffer, src []float32) {
	b := buf(dst)
	if len(src) == 0 {
		return
	}
	d.enter()
	defer d.leave()
	must(rtErr("cudaMemcpyAsync(HostToDevice)", d.lib.cudaMemcpyH2D(b.ptr, unsafe.Pointer(&src[0]), uintptr(len(src)*4), cudaMemcpyHostToDevice, d.stream)))
	goruntime.KeepAlive(src)
}

// Download waits for the queued work and copies src into dst.
func (d *Device) Download(dst []float32, src runtime.Buffer) {
	b := buf(src)
	if len(dst) == 0 {
		return
	}
	d.enter()
	defer d.leave()
	must(rtErr("cudaMemcpyAsync(DeviceToHost)", d.lib.cudaMemcpyD2H(unsafe.Pointer(&dst[0]), b.ptr, uintptr(len(dst)*4), cudaMemcpyDeviceToHost, d.stream)))
	must(rtErr("cudaStreamSynchronize", d.lib.cudaStreamSynchronize(d.stream)))
	goruntime.KeepAlive(dst)
}

// Fill sets every value of dst to v.
func (d *Device) Fill(dst runtime.Buffer, v float32) {
	b := buf(dst)
	if b.n == 0 {
		return
	}
	d.enter()
	defer d.leave()
	if v == 0 && !math.Signbit(float64(v)) {
		must(rtErr("cudaMemsetAsync", d.lib.cudaMemsetAsync(b.ptr, 0, uintptr(b.n*4), d.stream)))
		return
	}
	must(drvErr("cuMemsetD32Async", d.lib.cuMemsetD32Async(b.ptr, math.Float32bits(v), uintptr(b.n), d.stream)))
}

// CopyBlocks copies nBlocks strided blocks on the device (cudaMemcpy2DAsync).
func (d *Device) CopyBlocks(dst runtime.Buffer, dstOff, dstStride int, src runtime.Buffer, srcOff, srcStride, blockLen, nBlocks int) {
	o, s := buf(dst), buf(src)
	if nBlocks <= 0 || blockLen <= 0 {
		return
	}
	d.enter()
	defer d.leave()
	dp, sp := o.ptr+uintptr(dstOff*4), s.ptr+uintptr(srcOff*4)
	w := uintptr(blockLen * 4)
	switch {
	case nBlocks == 1:
		must(rtErr("cudaMemcpyAsync(DeviceToDevice)", d.lib.cudaMemcpyD2D(dp, sp, w, cudaMemcpyDeviceToDevice, d.stream)))
	case dstStride >= blockLen && srcStride >= blockLen:
		must(rtErr("cudaMemcpy2DAsync", d.lib.cudaMemcpy2DAsync(dp, uintptr(dstStride*4), sp, uintptr(srcStride*4), w, uintptr(nBlocks), cudaMemcpyDeviceToDevice, d.stream)))
	default:
		for i := range nBlocks {
			must(rtErr("cudaMemcpyAsync(DeviceToDevice)", d.lib.cudaMemcpyD2D(dp+uintptr(i*dstStride*4), sp+uintptr(i*srcStride*4), w, cudaMemcpyDeviceToDevice, d.stream)))
		}
	}
}
