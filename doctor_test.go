package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ocm/assets"
	"ocm/cudart"
	"ocm/runtime/cpu"
)

// TestDoctor runs ocm --doctor's report on this machine: the CPU kernel in use, a
// passing CPU self-test with its errors under their bounds, the GPU loader's reason
// (OCM_CUDA_PATH at an empty folder) and the embedded models.
func TestDoctor(t *testing.T) {
	empty := t.TempDir()
	t.Setenv(cudaPathEnv, empty)
	var out bytes.Buffer
	if err := runDoctor(&options{threads: 1}, &out); err != nil {
		t.Fatalf("runDoctor: %v\n%s", err, out.String())
	}
	text := out.String()
	t.Logf("\n%s", text)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	find := func(prefix string) string {
		t.Helper()
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("no line starting %q in:\n%s", prefix, text)
		return ""
	}

	if l := lines[0]; !strings.HasPrefix(l, "ocm "+version+" (go") {
		t.Errorf("first line %q: want ocm %s (go…)", l, version)
	}
	if l := find("cpu: "); !strings.Contains(l, "ocm uses 1 thread") {
		t.Errorf("%q does not give the thread count", l)
	}
	best := cpu.BestKernel()
	feat := find("cpu features used: ")
	if !strings.Contains(feat, "SGEMM "+best.String()+" kernel ("+best.Info().Tile()+" tiles)") || best.Info().Tile() == "" {
		t.Errorf("%q does not name the kernel in use, %s", feat, best)
	}
	if f := best.Info().Features; f != "" && !strings.Contains(feat, f) {
		t.Errorf("%q does not name the instructions %s", feat, f)
	}

	st := find("cpu self-test: ")
	if !strings.HasSuffix(st, "; ok") {
		t.Errorf("CPU self-test not ok: %q", st)
	}
	errs := regexp.MustCompile(`max rel err (\S+) \(bound (\S+)\)`).FindAllStringSubmatch(st, -1)
	if len(errs) != 2 {
		t.Fatalf("%q: want the SGEMM and SiLU errors with their bounds", st)
	}
	for _, m := range errs {
		e, err1 := strconv.ParseFloat(m[1], 64)
		b, err2 := strconv.ParseFloat(m[2], 64)
		if err1 != nil || err2 != nil || !(e < b) {
			t.Errorf("%q: error %s not below its bound %s", m[0], m[1], m[2])
		}
	}
	if !strings.Contains(st, "GFLOP/s") || !strings.Contains(st, "Philox normal") {
		t.Errorf("%q: want the GEMM speed and the Philox check", st)
	}

	// The GPU line: what the loader says, or the device when one loads here.
	if _, err := cudart.Open(cudart.Options{Path: empty}); err != nil {
		want := "gpu: not available: " + strings.TrimPrefix(err.Error(), "cuda: ")
		if l := find("gpu: "); l != want {
			t.Errorf("GPU line\n%q\nwant\n%q", l, want)
		}
		if strings.Contains(text, "gpu self-test") {
			t.Errorf("a GPU self-test was reported without a GPU")
		}
	} else if l := find("gpu self-test: "); !strings.HasSuffix(l, "; ok") && !strings.Contains(l, "ok (") {
		t.Errorf("GPU loads here but its self-test did not pass: %q", l)
	}

	models, err := assets.List()
	if err != nil || len(models) == 0 {
		t.Fatalf("assets.List: %v, %d models", err, len(models))
	}
	ml := find("embedded models: ")
	for _, m := range models {
		if !strings.Contains(ml, m.Name+" (sha256 "+m.SHA256[:16]) {
			t.Errorf("%q does not list %s with its SHA-256 prefix %s", ml, m.Name, m.SHA256[:16])
		}
	}
}
