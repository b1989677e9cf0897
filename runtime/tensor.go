package runtime

import (
	"fmt"
	"slices"
)

// Tensor is a contiguous row-major array of float32 values on one device. Tensors are
// values: ops return new tensors and never change their inputs, except the few
// functions whose names say so (AdamStep, CopyInto).
type Tensor struct {
	shape []int
	dev   Device
	buf   Buffer
}

// New returns a zero-filled tensor of the given shape on dev.
func New(dev Device, shape ...int) *Tensor {
	n := numel(shape)
	return &Tensor{shape: slices.Clone(shape), dev: dev, buf: dev.Alloc(n, true)}
}

// empty returns a tensor whose values are undefined, for ops that write every value.
func empty(dev Device, shape ...int) *Tensor {
	n := numel(shape)
	return &Tensor{shape: slices.Clone(shape), dev: dev, buf: dev.Alloc(n, false)}
}

// FromSlice returns a tensor on dev holding a copy of data, which must have as many
// values as the shape.
func FromSlice(dev Device, data []float32, shape ...int) *Tensor {
	if numel(shape) != len(data) {
		panic(fmt.Sprintf("runtime: fromslice: %d values for shape %v", len(data), shape))
	}
	t := empty(dev, shape...)
	dev.Upload(t.buf, data)
	return t
}

// Full returns a tensor of the given shape with every value v.
func Full(dev Device, v float32, shape ...int) *Tensor {
	if v == 0 {
		return New(dev, shape...)
	}
	t := empty(dev, shape...)
	dev.Fill(t.buf, v)
	return t
}

// Scalar returns a 0-dimensional tensor holding v.
func Scalar(dev Device, v float32) *Tensor { return Full(dev, v) }

// Shape returns the tensor's shape; the caller must not modify it.
func (t *Tensor) Shape() []int { return t.shape }

// Dim returns the size of axis i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank returns the number of axes.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of values.
func (t *Tensor) Len() int { return t.buf.Len() }

// Device returns the device holding the tensor.
func (t *Tensor) Device() Device { return t.dev }

// Buffer returns the tensor's device buffer (for devices and packages that implement ops).
func (t *Tensor) Buffer() Buffer { return t.buf }

// Data copies the values to a new host slice.
func (t *Tensor) Data() []float32 {
	out := make([]float32, t.Len())
	t.dev.Download(out, t.buf)
	return out
}

// Float64s copies the values to a new host slice of float64, for host-side math in
// double precision.
func (t *Tensor) Float64s() []float64 {
	return Widen(t.Data())
}

// Widen converts float32 values to float64.
func Widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// Item returns the single value of a one-value tensor.
func (t *Tensor) Item() float32 {
	if t.Len() != 1 {
		panic(fmt.Sprintf("runtime: item: tensor of shape %v has %d values", t.shape, t.Len()))
	}
	return t.Data()[0]
}

// Reshape returns a tensor sharing t's values with another shape of the same size. One
// axis may be -1 and is then inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = slices.Clone(shape)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic("runtime: reshape: more than one -1 in " + fmt.Sprint(shape))
			}
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 && known > 0 {
		shape[infer] = t.Len() / known
	}
	if numel(shape) != t.Len() {
		panic(fmt.Sprintf("runtime: reshape: %v to %v changes the size", t.shape, shape))
	}
	return &Tensor{shape: shape, dev: t.dev, buf: t.buf}
}

// Clone returns a copy of t with its own buffer.
func (t *Tensor) Clone() *Tensor {
	c := &Tensor{shape: slices.Clone(t.shape), dev: t.dev, buf: t.dev.Alloc(t.Len(), false)}
	if t.Len() > 0 {
		t.dev.CopyBlocks(c.buf, 0, 0, t.buf, 0, 0, t.Len(), 1)
	}
	return c
}

// CopyInto copies src's values into dst, which must have the same size.
func CopyInto(dst, src *Tensor) {
	if dst.Len() != src.Len() {
		panic(fmt.Sprintf("runtime: copyinto: %v into %v", src.shape, dst.shape))
	}
	if src.Len() > 0 {
		dst.dev.CopyBlocks(dst.buf, 0, 0, src.buf, 0, 0, src.Len(), 1)
	}
}

// To returns t on device dev (t itself when already there).
func (t *Tensor) To(dev Device) *Tensor {
	if t.dev == dev {
		return t
	}
	return FromSlice(dev, t.Data(), t.shape...)
}

// String summarises the tensor for debugging: shape and the first values.
func (t *Tensor) String() string {
	d := t.Data()
	if len(d) > 8 {
		return fmt.Sprintf("Tensor%v%v…", t.shape, d[:8])
	}
	return fmt.Sprintf("Tensor%v%v", t.shape, d)
}

// SameShape reports whether a and b have equal shapes.
func SameShape(a, b []int) bool { return slices.Equal(a, b) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("runtime: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Numel returns the number of values of a tensor of the given shape.
func Numel(shape []int) int { return numel(shape) }

func sameDevice(op string, ts ...*Tensor) {
	for _, t := range ts[1:] {
		if t.dev != ts[0].dev {
			panic(fmt.Sprintf("runtime: %s: tensors on %s and %s", op, ts[0].dev.Name(), t.dev.Name()))
		}
	}
}
