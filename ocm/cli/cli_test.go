package cli

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"ocm/sampler"
)

func TestTranslate(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"--num-inference-steps", "20"}, []string{"--steps=20"}},
		{[]string{"-num-inference-steps=20", "--out", "x"}, []string{"--steps=20", "--out", "x"}},
		{[]string{"--beta-schedule", "squaredcos_cap_v2"}, []string{"--beta-schedule=cosine"}},
		{[]string{"--timestep-spacing=linspace"}, []string{"--timestep-spacing=even"}},
		{[]string{"--variance-type", "fixed_small"}, []string{"--variance-type=small"}},
		{[]string{"--variance-type", "ocm"}, []string{"--variance-type=ocm"}},
		{[]string{"--clip-sample"}, []string{"--clip-x0"}},
		{[]string{"--clip-sigma-idx", "-1", "--steps", "3"}, []string{"--clip-sigma-idx", "-1", "--steps", "3"}},
	} {
		got, err := Translate(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Translate(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range [][]string{{"--timestep-spacing", "leading"}, {"--timestep-spacing=trailing"},
		{"--beta-schedule", "scaled_linear"}, {"--variance-type", "learned_range"}} {
		if _, err := Translate(bad); err == nil || !strings.Contains(err.Error(), "diffusers") {
			t.Errorf("Translate(%q): %v, want a refusal saying why", bad, err)
		}
	}
}

// TestLinspaceIsEven compares ocm's even steps with diffusers' linspace
// (round-half-even of linspace(0, N−1, K), plus one for ocm's numbering): they agree
// except at steps that fall exactly halfway between integers, as --help says.
func TestLinspaceIsEven(t *testing.T) {
	n, halves, differ := 1000, 0, 0
	for k := 2; k <= 100; k++ {
		even, err := sampler.Timesteps(sampler.Even, n, k)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range even {
			x := float64(i) * float64(n-1) / float64(k-1)
			want := int(math.RoundToEven(x)) + 1
			half := math.Abs(x-math.Floor(x)-0.5) < 1e-9
			if half {
				halves++
			}
			if got != want {
				differ++
				if !half || abs(got-want) != 1 {
					t.Errorf("K=%d step %d: ocm %d, diffusers' linspace %d (not a halfway case)", k, i, got, want-1)
				}
			}
		}
	}
	t.Logf("N=%d, K=2…100: %d halfway steps, %d differ by one", n, halves, differ)
}

func abs(x int) int { return max(x, -x) }

func TestSuggest(t *testing.T) {
	known := []string{"sample", "steps", "sampler", "num-samples", "variance-type", "eval-steps"}
	for in, want := range map[string]string{"smaple": "sample", "step": "steps", "varience-type": "variance-type",
		"evalsteps": "eval-steps", "zzzz": ""} {
		if got := Suggest(in, known); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	value := func(given map[string]string) func(string) string {
		return func(n string) string { return given[n] }
	}
	for _, c := range []struct {
		given map[string]string
		kind  Kind
		err   string // "" for none
		warn  string
	}{
		{map[string]string{"sample": "true", "eta": "0.5", "sampler": "ddpm"}, Toy, "--eta", ""},
		{map[string]string{"sample": "true", "eta": "0.5", "sampler": "ddim"}, Toy, "", ""},
		{map[string]string{"sample": "true", "npz": "true"}, Image, "", ""},
		{map[string]string{"sample": "true", "npz": "true"}, Toy, "--npz", ""},
		{map[string]string{"sample": "true", "data": "fashion-mnist"}, Image, "", "--data"},
		{map[string]string{"list": "true", "out": "x"}, AnyKind, "", "--out"},
		{map[string]string{"list": "true", "doctor": "true"}, AnyKind, "runs alone", ""},
		{map[string]string{"sample": "true", "model": "mog9", "weights": "w"}, Toy, "both choose", ""},
	} {
		warnings, err := Check(c.given, value(c.given), c.kind)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%v on %v: error %v, want %q", c.given, c.kind, err, c.err)
		}
		if w := strings.Join(warnings, "\n"); (w == "") != (c.warn == "") || !strings.Contains(w, c.warn) {
			t.Errorf("%v on %v: warnings %q, want %q", c.given, c.kind, w, c.warn)
		}
	}
}

// TestProgressLine: no rate before the second update, s/step below one step per
// second, the loss per value, and the line fits the width.
func TestProgressLine(t *testing.T) {
	p := &Progress{w: &bytes.Buffer{}, perValue: 784, unit: "px", losses: map[string][]float64{}}
	p.width = func() int { return 80 }
	t0 := time.Now()
	p.task, p.first, p.firstDone, p.updates = "train", t0, 1, 1
	if l := p.line("train", 1, 100, 78.4, t0); strings.Contains(l, "/s") || strings.Contains(l, "s/step") {
		t.Errorf("first update shows a rate: %q", l)
	}
	p.updates = 2
	l := p.line("train", 2, 100, 78.4, t0.Add(1700*time.Millisecond))
	if !strings.Contains(l, "1.70 s/step") || !strings.Contains(l, "mse/px 0.1") {
		t.Errorf("slow step: %q, want 1.70 s/step and mse/px 0.1", l)
	}
	if l := p.line("train", 50, 100, 78.4, t0.Add(time.Second)); !strings.Contains(l, "49.0 steps/s") {
		t.Errorf("fast steps: %q", l)
	}
	for _, w := range []int{20, 40, 80, 200} {
		p.width = func() int { return w }
		if l := p.line("fit ocm head", 2, 100, 3, t0.Add(time.Second)); len([]rune(l)) > w-1 {
			t.Errorf("width %d: %d runes: %q", w, len([]rune(l)), l)
		}
	}
	if l := p.line("sample", 64, 1920, math.NaN(), t0.Add(time.Second)); strings.Contains(l, "loss") || !strings.Contains(l, "image-steps") {
		t.Errorf("sampling line %q: want no loss and its unit", l)
	}
}

func TestFinalLosses(t *testing.T) {
	p := NewProgress(&bytes.Buffer{}, true)
	p.SetLossScale(2, "coord")
	for i := range 150 {
		p.Update("train", i+1, 150, float64(i))
	}
	p.Update("nll", 1, 2, 5)
	got := p.FinalLosses()
	// the last 100 losses are 50…149, mean 99.5, per value 49.75
	if len(got) != 1 || got["train"] != 49.75 {
		t.Errorf("FinalLosses = %v, want train 49.75 only", got)
	}
}

// TestNarrowLineDropsWholeParts: a narrow line drops the time left, then the rate,
// keeping a short bar, and never cuts a word.
func TestNarrowLineDropsWholeParts(t *testing.T) {
	p := &Progress{w: &bytes.Buffer{}, perValue: 1, losses: map[string][]float64{}}
	t0 := time.Now()
	p.task, p.first, p.firstDone, p.updates = "sample", t0, 64, 2
	for w, want := range map[int]string{
		80: "sample [................] 192/6400 image-steps  10.0 image-steps/s  10m21s left",
		60: "sample [.........] 192/6400 image-steps  10.0 image-steps/s",
		40: "sample [.........] 192/6400 image-steps", 30: "sample 192/6400 image-steps"} {
		p.width = func() int { return w }
		if got := p.line("sample", 192, 6400, math.NaN(), t0.Add(12800*time.Millisecond)); got != want {
			t.Errorf("width %d: %q, want %q", w, got, want)
		}
	}
}
