package runtime

import (
	"fmt"
	"strings"
	"testing"

	"ocm/runtime/philox"
)

// testDev is the device the package's own tests run on: one thread, so that the tests
// stay cheap on a shared machine.
var testDev = NewCPU(CPUOptions{Threads: 1})

// ramp returns a tensor of shape whose value i is 1 + i/8: every value distinct, so a
// value that lands in the wrong place is seen.
func ramp(shape ...int) *Tensor {
	v := make([]float32, numel(shape))
	for i := range v {
		v[i] = 1 + float32(i)/8
	}
	return FromSlice(testDev, v, shape...)
}

// randomT returns a tensor of shape with values uniform in [−1, 1) drawn from seed.
func randomT(seed uint64, shape ...int) *Tensor {
	v := make([]float32, numel(shape))
	philox.Key{Seed: seed}.Uniform(v, 0)
	for i := range v {
		v[i] = 2*v[i] - 1
	}
	return FromSlice(testDev, v, shape...)
}

// unravel returns the multi-index of flat index i in a row-major array of shape.
func unravel(i int, shape []int) []int {
	ix := make([]int, len(shape))
	for a := len(shape) - 1; a >= 0; a-- {
		ix[a] = i % shape[a]
		i /= shape[a]
	}
	return ix
}

// ravel returns the flat row-major index of multi-index ix in shape.
func ravel(ix, shape []int) int {
	f := 0
	for a, d := range shape {
		f = f*d + ix[a]
	}
	return f
}

// mustPanic checks that f panics with a message containing want.
func mustPanic(t *testing.T, what, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", what)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, want) {
			t.Errorf("%s: panic %q does not mention %q", what, msg, want)
		}
	}()
	f()
}
