package torchfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that every failure is a one-line *Error,
// and that every tensor it accepts has as many values as its shape says. Seeds:
// the PyTorch-made files in testdata, the hand-written sample in both containers,
// and the refused pickles.
func FuzzRead(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.pt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ts, sts := sample()
	f.Add(zipFile(f, statePickle(ts, false), sts))
	f.Add(legacyFile(statePickle(ts, true), sts))
	f.Add(statePickle(ts, false)) // a bare pickle
	st := f32Storage("0", 1, 2, 3)
	far := []fakeTensor{{name: "w", st: st, offset: 1<<63 - 2, shape: []int{4}, strides: []int{1}}}
	f.Add(zipFile(f, statePickle(far, false), []*fakeStorage{st}))
	f.Add(legacyFile(withGlobal("os", "system", false), nil))
	f.Add(legacyFile(withGlobal("builtins", "eval", true), nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Read("fuzz", data)
		if err != nil {
			var te *Error
			if !errors.As(err, &te) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("bad error %q (%T)", err, err)
			}
			return
		}
		for _, ts := range got.Tensors {
			n := 1
			for _, d := range ts.Shape {
				n *= d
			}
			if n != len(ts.Data) {
				t.Fatalf("tensor %q: shape %v but %d values", ts.Name, ts.Shape, len(ts.Data))
			}
		}
	})
}
