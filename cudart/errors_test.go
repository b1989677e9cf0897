package cudart

import "testing"

// TestOutOfMemoryMessage: the message names the request and the memory left, in one line.
func TestOutOfMemoryMessage(t *testing.T) {
	e := &OutOfMemoryError{Requested: 3 << 30, Free: 512 << 20, Total: 80 << 30}
	want := "cudart: out of GPU memory: requested 3.0 GiB, 512.0 MiB free of 80.0 GiB (lower --batch or --num-samples, or use --device cpu)"
	if e.Error() != want {
		t.Fatalf("%q, want %q", e.Error(), want)
	}
	if got := byteSize(1000); got != "1000 B" {
		t.Errorf("byteSize(1000) = %q", got)
	}
}
