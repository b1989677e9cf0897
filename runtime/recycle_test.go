package runtime

import (
	"testing"
)

// TestRecyclerReuses checks that a dropped tensor's memory serves the next
// allocation of its size, that the dropped tensor can no longer be read, and that
// a second reference keeps the memory alive.
func TestRecyclerReuses(t *testing.T) {
	d := NewCPU(CPUOptions{})
	const n = 1 << 14
	r := NewRecycler(d)
	x := Full(d, 2, n)
	view := x.Reshape(128, 128)
	r.Hold(x)
	r.Hold(view)
	r.Drop(x)
	if st := d.RecycleStats(); st.Recycled != 0 {
		t.Fatalf("recycled with a reference left: %+v", st)
	}
	if view.Data()[n-1] != 2 {
		t.Fatal("the held view changed")
	}
	r.Drop(view)
	y := New(d, n)
	if st := d.RecycleStats(); st.Recycled != 1 || st.Reused != 1 {
		t.Fatalf("stats %+v, want one buffer recycled and reused", st)
	}
	for i, v := range y.Data() {
		if v != 0 {
			t.Fatalf("reused buffer asked zeroed has y[%d] = %g", i, v)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("reading a recycled tensor did not panic")
		}
	}()
	_ = x.Data()[0]
}

// TestRecyclerSpares checks what is never recycled: tensors made before the
// Recycler, tensors whose slice HostData let out, and small tensors.
func TestRecyclerSpares(t *testing.T) {
	d := NewCPU(CPUOptions{})
	const n = 1 << 14
	before := Full(d, 1, n)
	r := NewRecycler(d)
	out := Full(d, 3, n)
	s := HostData(out)
	small := Full(d, 4, 16)
	for _, x := range []*Tensor{before, out, small} {
		r.Hold(x)
		r.Drop(x)
	}
	if st := d.RecycleStats(); st.Recycled != 0 {
		t.Fatalf("recycled %d buffers, want none", st.Recycled)
	}
	if before.Data()[0] != 1 || s[0] != 3 || small.Data()[0] != 4 {
		t.Fatal("a spared tensor changed")
	}
}

// TestDropRecycled checks that DropRecycled empties the device's recycled buffers:
// nothing is held and the next allocation is fresh.
func TestDropRecycled(t *testing.T) {
	d := NewCPU(CPUOptions{})
	r := NewRecycler(d)
	x := Full(d, 2, 1<<14)
	r.Hold(x)
	r.Drop(x)
	if st := d.RecycleStats(); st.HeldBytes != 4<<14 {
		t.Fatalf("held %d bytes after recycling 64 KiB", st.HeldBytes)
	}
	d.DropRecycled()
	_ = New(d, 1<<14)
	if st := d.RecycleStats(); st.HeldBytes != 0 || st.Reused != 0 {
		t.Fatalf("stats %+v after DropRecycled and an allocation, want nothing held or reused", st)
	}
}
