package runtime

import (
	goruntime "runtime"
	"testing"
	"time"
)

// TestCPUPoolRecycles checks that a large buffer dropped by its tensor comes back from
// the pool after a collection, cleared when the new owner asks for zeros.
func TestCPUPoolRecycles(t *testing.T) {
	d := NewCPU(CPUOptions{Pool: true})
	const n = 1 << 16
	for i := 0; i < 50 && d.PoolStats().Puts == 0; i++ {
		x := Full(d, 3, n)
		_ = x
		x = nil
		goruntime.GC()
		time.Sleep(time.Millisecond) // cleanups run on their own goroutine
	}
	if d.PoolStats().Puts == 0 {
		t.Fatal("no buffer came back to the pool")
	}
	z := New(d, n)
	if d.PoolStats().Hits == 0 {
		t.Fatalf("the new tensor did not reuse a buffer: %+v", d.PoolStats())
	}
	for i, v := range z.Data() {
		if v != 0 {
			t.Fatalf("reused zeroed buffer has z[%d] = %g", i, v)
		}
	}
}

// TestHostDataNotRecycled checks that a buffer whose slice HostData let out is never
// handed to another tensor.
func TestHostDataNotRecycled(t *testing.T) {
	d := NewCPU(CPUOptions{Pool: true})
	const n = 1 << 16
	s := HostData(Full(d, 5, n))
	for range 5 {
		goruntime.GC()
		time.Sleep(time.Millisecond)
	}
	if p := d.PoolStats().Puts; p != 0 {
		t.Fatalf("%d buffers came back to the pool, want none", p)
	}
	if s[0] != 5 {
		t.Fatal("slice changed")
	}
}
