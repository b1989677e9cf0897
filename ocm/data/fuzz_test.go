package data

import (
	"os"
	"testing"
)

// seed reads a committed testdata file.
func seed(f *testing.F, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzReadIDX feeds arbitrary image and label files to the IDX parser: it
// must not panic, and what it accepts must be consistent.
func FuzzReadIDX(f *testing.F) {
	f.Add(seed(f, "idx-images"), seed(f, "idx-labels"))
	f.Add(seed(f, "idx-images.gz"), seed(f, "idx-labels.gz"))
	for _, tc := range idxCases() {
		f.Add(tc.img, tc.lbl)
	}
	f.Fuzz(func(t *testing.T, img, lbl []byte) {
		if len(lbl) == 0 {
			lbl = nil // also exercise the no-labels path
		}
		ds, err := parseIDX("img", img, "lbl", lbl)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error %v is %T, want *FormatError", err, err)
			}
			return
		}
		checkInvariants(t, ds)
		if ds.C != 1 || (lbl != nil) != (ds.Labels != nil) {
			t.Fatalf("C=%d, labels %v for label file %v", ds.C, ds.Labels != nil, lbl != nil)
		}
	})
}

// FuzzReadCIFAR10 feeds arbitrary batches to the CIFAR-10 parser.
func FuzzReadCIFAR10(f *testing.F) {
	f.Add(seed(f, "cifar-1.bin"))
	for _, tc := range cifarCases() {
		f.Add(tc.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := parseCIFAR10("batch", data)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error %v is %T, want *FormatError", err, err)
			}
			return
		}
		checkInvariants(t, ds)
		if ds.C != 3 || ds.H != 32 || ds.W != 32 || ds.NumClasses != 10 || len(data) != ds.N*cifarRecord {
			t.Fatalf("shape %d×%d×%d×%d classes %d from %d bytes", ds.N, ds.C, ds.H, ds.W, ds.NumClasses, len(data))
		}
	})
}
