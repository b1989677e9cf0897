package hostiletest

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestMeasure: a child that touches 300 MB is measured above MaxRSS and one that
// does nothing far below it, so the limit the hostile tests check can fail.
func TestMeasure(t *testing.T) {
	cases := []Case{
		{Name: "big", Run: func(string) error {
			b := make([]byte, 300<<20)
			for i := range b {
				b[i] = 1
			}
			return errors.New(string(b[:1]))
		}},
		{Name: "small", Run: func(string) error { return errors.New("refused") }},
	}
	if os.Getenv(envCase) != "" {
		Run(t, nil, cases)
		return
	}
	dir := t.TempDir()
	_, big, _, err := measure(t, dir, "big")
	if err != nil {
		t.Fatal(err)
	}
	_, small, res, err := measure(t, dir, "small")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("big %d MB, small %d MB", big>>20, small>>20)
	if big <= MaxRSS || small >= MaxRSS/4 || !strings.Contains(res, "refused") {
		t.Errorf("peak RSS of 300 MB touched: %d MB, of nothing: %d MB (result %q)", big>>20, small>>20, res)
	}
}
