package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var demo = flag.String("demo", "", "write sample figures to this path prefix (e.g. /tmp/plot_demo)")

// element is one parsed SVG start element.
type element struct {
	name  string
	attr  map[string]string
	class string
}

// parse decodes an SVG document with encoding/xml and returns its start
// elements in order, plus all character data.
func parse(t *testing.T, doc []byte) ([]element, string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var els []element
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v\n%s", err, doc)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				e.attr[a.Name.Local] = a.Value
			}
			e.class = e.attr["class"]
			els = append(els, e)
		case xml.CharData:
			text.Write(tok)
		}
	}
	if len(els) == 0 || els[0].name != "svg" {
		t.Fatalf("root element is not <svg>")
	}
	return els, text.String()
}

// count returns the number of elements whose class list contains class.
func count(els []element, class string) int {
	n := 0
	for _, e := range els {
		if hasClass(e, class) {
			n++
		}
	}
	return n
}

func hasClass(e element, class string) bool {
	for _, c := range strings.Fields(e.class) {
		if c == class {
			return true
		}
	}
	return false
}

// figure is anything with WriteSVG: a Chart or a *Grid.
type figure interface{ WriteSVG(w io.Writer) error }

func render(t *testing.T, c figure) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatalf("WriteSVG: %v", err)
	}
	return buf.Bytes()
}

// TestLineChartCounts checks one polyline per series, one marker per point,
// one legend entry per named series, and XML escaping of all text.
func TestLineChartCounts(t *testing.T) {
	c := &LineChart{
		Title:  `error <vs> t & "friends"`,
		XLabel: "t", YLabel: "W₂ error",
		LogY: true,
		Series: []Series{
			{Name: "DDPM <exact>", X: []float64{1, 2, 3, 4, 5}, Y: []float64{1, 0.5, 0.2, 0.1, 0.05}},
			{Name: "DDIM & OCM", X: []float64{1, 2, 3, 4, 5, 6, 7}, Y: []float64{2, 1, 0.8, 0.3, 0.2, 0.1, 0.01}, Dashed: true},
			{Name: "", X: []float64{1, 3, 5}, Y: []float64{3, 3, 3}},
		},
	}
	els, text := parse(t, render(t, c))
	if got := count(els, "series"); got != 3 {
		t.Errorf("%d series polylines, want 3", got)
	}
	if got := count(els, "marker"); got != 15 {
		t.Errorf("%d markers, want 15", got)
	}
	if got := count(els, "legend-marker"); got != 2 {
		t.Errorf("%d legend entries, want 2 (the unnamed series has none)", got)
	}
	for _, want := range []string{`error <vs> t & "friends"`, "DDPM <exact>", "DDIM & OCM", "W₂ error"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q missing after XML round trip", want)
		}
	}
	if count(els, "note") != 0 {
		t.Error("note present though no point was skipped")
	}
	dashed := 0
	for _, e := range els {
		if hasClass(e, "series") && e.attr["stroke-dasharray"] != "" {
			dashed++
		}
	}
	if dashed != 1 {
		t.Errorf("%d dashed polylines, want 1", dashed)
	}
}

// TestSkippedPoints checks that NaN, ±Inf and non-positive (log axis)
// points are left out and counted in the note.
func TestSkippedPoints(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	c := &LineChart{
		LogX: true,
		Series: []Series{
			{Name: "a", X: []float64{1, 10, 100, nan, 1000}, Y: []float64{1, nan, 3, 4, -inf}},
			{Name: "b", X: []float64{0, -1, 5, 50}, Y: []float64{1, 2, 3, 4}},
		},
	}
	els, text := parse(t, render(t, c))
	if got := count(els, "marker"); got != 4 { // a: x=1, 100; b: x=5, 50
		t.Errorf("%d markers, want 4", got)
	}
	if got := count(els, "series"); got != 2 {
		t.Errorf("%d polylines, want 2", got)
	}
	if want := "skipped 3 non-finite and 2 non-positive (log axis) points"; !strings.Contains(text, want) {
		t.Errorf("note missing: want %q in text", want)
	}
	for _, e := range els {
		for _, v := range []string{e.attr["points"], e.attr["cx"], e.attr["cy"], e.attr["d"]} {
			if strings.Contains(v, "NaN") || strings.Contains(v, "Inf") {
				t.Fatalf("non-finite coordinate in <%s %v>", e.name, e.attr)
			}
		}
	}
}

// TestLogTicks checks that log-axis major ticks are powers of ten, equally
// spaced in the SVG, and span the data; and that minor ticks are 2..9 × 10^k.
func TestLogTicks(t *testing.T) {
	a := logAxis(0.003, 450)
	if a.lo != 1e-3 || a.hi != 1e3 {
		t.Errorf("log axis [%g, %g], want [1e-3, 1e3]", a.lo, a.hi)
	}
	if len(a.major) != 7 || len(a.minor) != 6*8 {
		t.Errorf("%d major, %d minor ticks; want 7 and 48", len(a.major), len(a.minor))
	}
	for _, v := range a.minor {
		m := v / math.Pow(10, math.Floor(math.Log10(v)+1e-12))
		if r := math.Round(m); math.Abs(m-r) > 1e-9 || r < 2 || r > 9 {
			t.Errorf("minor tick %g is not 2..9 × 10^k", v)
		}
	}
	wide := logAxis(1e-30, 1e30) // 60 decades: labelled every 8th
	if len(wide.major) > 9 || len(wide.minor) == 0 {
		t.Errorf("60-decade axis has %d major ticks, want ≤ 9", len(wide.major))
	}
	c := &LineChart{LogX: true, LogY: true, Series: []Series{
		{Name: "s", X: []float64{0.5, 3, 70}, Y: []float64{2e-5, 1e-3, 0.4}},
	}}
	els, _ := parse(t, render(t, c))
	var ys []float64
	for _, e := range els {
		if !hasClass(e, "major") {
			continue
		}
		v, err := strconv.ParseFloat(e.attr["data-v"], 64)
		if err != nil {
			t.Fatalf("tick data-v %q: %v", e.attr["data-v"], err)
		}
		if l := math.Log10(v); math.Abs(l-math.Round(l)) > 1e-12 {
			t.Errorf("major tick at %g is not a power of ten", v)
		}
		if hasClass(e, "y") {
			y, _ := strconv.ParseFloat(e.attr["y1"], 64)
			ys = append(ys, y)
		}
	}
	if len(ys) != 6 { // 1e-5 .. 1e0
		t.Fatalf("%d y major ticks, want 6", len(ys))
	}
	for i := 2; i < len(ys); i++ {
		if d0, d1 := ys[1]-ys[0], ys[i]-ys[i-1]; math.Abs(d1-d0) > 0.2 { // coordinates printed to 0.1
			t.Errorf("decades not equally spaced: %v", ys)
		}
	}
}

// TestLinearTicks checks 1-2-5 steps, 4 to 9 ticks, and limits extended
// to ticks that cover the data.
func TestLinearTicks(t *testing.T) {
	a := linearAxis(0.13, 9.7, false)
	if want := []float64{0, 2, 4, 6, 8, 10}; !slices.Equal(a.major, want) {
		t.Errorf("linearAxis(0.13, 9.7) ticks %v, want %v", a.major, want)
	}
	for _, c := range [][2]float64{{-3, 3}, {0.001, 0.0042}, {5, 5}, {-1e6, 3e7}, {0, 0}, {1e-9, 1.1e-9}} {
		a := linearAxis(c[0], c[1], false)
		m := a.step / math.Pow(10, math.Floor(math.Log10(a.step)+1e-9))
		if r := math.Round(m); math.Abs(m-r) > 1e-9 || (r != 1 && r != 2 && r != 5) {
			t.Errorf("linearAxis(%g, %g) step %g is not 1, 2 or 5 × 10^k", c[0], c[1], a.step)
		}
		if n := len(a.major); n < 4 || n > 9 {
			t.Errorf("linearAxis(%g, %g) has %d ticks %v", c[0], c[1], n, a.major)
		}
		if a.lo > c[0] || a.hi < c[1] || a.major[0] != a.lo || math.Abs(a.major[len(a.major)-1]-a.hi) > a.step*1e-9 {
			t.Errorf("linearAxis(%g, %g) limits [%g, %g], ticks %v", c[0], c[1], a.lo, a.hi, a.major)
		}
	}
	a = linearAxis(0, 1, false)
	if got := a.label(0.6000000000000001); got != "0.6" {
		t.Errorf("label(0.6000000000000001) = %q, want 0.6", got)
	}
}

// TestDenseSeries checks that a long series gets about 20 markers.
func TestDenseSeries(t *testing.T) {
	x := make([]float64, 1000)
	y := make([]float64, 1000)
	for i := range x {
		x[i], y[i] = float64(i), math.Sin(float64(i)/50)
	}
	els, _ := parse(t, render(t, &LineChart{Series: []Series{{X: x, Y: y}}}))
	if got := count(els, "marker"); got != 20 {
		t.Errorf("%d markers on a 1000-point series, want 20", got)
	}
}

// TestScatter checks point counts, reference drawing and range skipping.
func TestScatter(t *testing.T) {
	pts := [][]float64{{0, 0}, {1, 1}, {-1, 2}, {math.NaN(), 0}, {5, 5}}
	ref := [][]float64{{0, 0.5}, {0.5, 0}}
	els, text := parse(t, render(t, &Scatter{Title: "x<y", Points: pts, Reference: ref}))
	if got := count(els, "point"); got != 4 {
		t.Errorf("%d points, want 4 (NaN skipped)", got)
	}
	if got := count(els, "ref"); got != 2 {
		t.Errorf("%d reference points, want 2", got)
	}
	if !strings.Contains(text, "skipped 1") || !strings.Contains(text, "x<y") {
		t.Errorf("text %q lacks the skip note or title", text)
	}
	fixed := &Scatter{Points: pts, XRange: [2]float64{-2, 2}, YRange: [2]float64{-2, 2}}
	els, _ = parse(t, render(t, fixed))
	if got := count(els, "point"); got != 3 { // NaN and (5,5) skipped
		t.Errorf("%d points in fixed range, want 3", got)
	}
}

// TestGrid checks that cells render once each with unique clip ids.
func TestGrid(t *testing.T) {
	line := &LineChart{Title: "a", Series: []Series{{Name: "s", X: []float64{1, 2}, Y: []float64{1, 2}}}}
	g := &Grid{Title: "page", Cols: 2, Cells: []Chart{line, line, &Scatter{Points: [][]float64{{0, 0}}}}}
	els, _ := parse(t, render(t, g))
	if got := count(els, "cell"); got != 3 {
		t.Errorf("%d cells, want 3", got)
	}
	ids := map[string]bool{}
	for _, e := range els {
		if e.name == "clipPath" {
			if ids[e.attr["id"]] {
				t.Errorf("duplicate clipPath id %q", e.attr["id"])
			}
			ids[e.attr["id"]] = true
		}
	}
	if len(ids) != 3 {
		t.Errorf("%d clip paths, want 3", len(ids))
	}
	if els[0].attr["width"] != "800" || els[0].attr["height"] != "630" {
		t.Errorf("grid size %s×%s, want 800×630", els[0].attr["width"], els[0].attr["height"])
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestErrors checks that bad input is reported before anything is written
// and that write errors are returned with context.
func TestErrors(t *testing.T) {
	var buf bytes.Buffer
	bad := &LineChart{Series: []Series{{X: []float64{1, 2}, Y: []float64{1}}}}
	if err := bad.WriteSVG(&buf); err == nil || !strings.HasPrefix(err.Error(), "plot: line chart: ") || buf.Len() != 0 {
		t.Errorf("mismatched series: err %v, %d bytes written", err, buf.Len())
	}
	if err := (&Grid{Cells: []Chart{bad}}).WriteSVG(&buf); err == nil || !strings.Contains(err.Error(), "cell 0") {
		t.Errorf("grid with bad cell: err %v", err)
	}
	if err := (&Scatter{Points: [][]float64{{1, 2, 3}}}).WriteSVG(&buf); err == nil {
		t.Error("3-D scatter point: no error")
	}
	if err := (&Scatter{XRange: [2]float64{1, -1}}).WriteSVG(&buf); err == nil {
		t.Error("inverted range: no error")
	}
	if err := (&LineChart{Width: 50}).WriteSVG(&buf); err == nil {
		t.Error("tiny chart: no error")
	}
	err := (&LineChart{}).WriteSVG(failWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failing writer: err %v", err)
	}
}

// TestDemo writes sample figures for a visual check when -demo is set:
// go test ./sampler/plot -run Demo -demo=/tmp/plot_demo
func TestDemo(t *testing.T) {
	if *demo == "" {
		t.Skip("set -demo=PATH_PREFIX to write sample figures")
	}
	figs := map[string]figure{".svg": demoChart(), "_scatter.svg": demoScatter(), "_grid.svg": demoGrid()}
	for suffix, c := range figs {
		if err := os.WriteFile(*demo+suffix, render(t, c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// demoChart is an error-vs-steps chart like the sampler reports draw.
func demoChart() *LineChart {
	steps := []float64{10, 20, 50, 100, 200, 500, 1000}
	mk := func(c, p float64) []float64 {
		y := make([]float64, len(steps))
		for i, s := range steps {
			y[i] = c * math.Pow(s, -p)
		}
		return y
	}
	nanY := mk(0.8, 0.5)
	nanY[2] = math.NaN()
	return &LineChart{
		Title: "W₂ error vs sampling steps (2-D mixture)", XLabel: "sampling steps K", YLabel: "error",
		LogX: true, LogY: true,
		Series: []Series{
			{Name: "DDPM, exact score", X: steps, Y: mk(3, 1)},
			{Name: "DDIM, exact score", X: steps, Y: mk(2, 1.2)},
			{Name: "OCM-DDPM, exact score", X: steps, Y: mk(1, 1.5)},
			{Name: "DDPM, learned score", X: steps, Y: mk(3.2, 0.8), Dashed: true},
			{Name: "OCM-DDPM, learned", X: steps, Y: nanY, Dashed: true},
		},
	}
}

// demoScatter is a ring of points over a grey reference ring.
func demoScatter() *Scatter {
	var pts, ref [][]float64
	for i := range 600 {
		a := float64(i) * 2 * math.Pi / 600
		ref = append(ref, []float64{2 * math.Cos(a), 2 * math.Sin(a)})
		r := 2 + 0.3*math.Sin(float64(i)*7.1)
		pts = append(pts, []float64{r * math.Cos(a*3.7), r * math.Sin(a*3.7)})
	}
	return &Scatter{Title: "samples vs reference", Points: pts, Reference: ref}
}

// demoGrid puts the chart next to a linear chart and the scatter.
func demoGrid() *Grid {
	lin := &LineChart{Title: "loss", XLabel: "iteration", YLabel: "loss", Series: []Series{
		{Name: "train", X: []float64{0, 1000, 2000, 3000, 4000}, Y: []float64{1.2, 0.6, 0.45, 0.41, 0.4}},
		{Name: "val", X: []float64{0, 1000, 2000, 3000, 4000}, Y: []float64{1.25, 0.66, 0.5, 0.47, 0.47}, Dashed: true},
	}}
	return &Grid{Title: "small multiples", Cols: 2, Cells: []Chart{demoChart(), lin, demoScatter()}, CellWidth: 520, CellHeight: 340}
}

// TestErrorBars checks one bar per point with a finite, positive half-width, and
// that the y axis reaches the bars' ends.
func TestErrorBars(t *testing.T) {
	c := &LineChart{Series: []Series{
		{Name: "a", X: []float64{0, 1, 2, 3}, Y: []float64{5, 4, 3, 2}, YErr: []float64{1, math.NaN(), 0, 10}},
		{Name: "b", X: []float64{0, 1}, Y: []float64{1, 1}},
	}}
	els, _ := parse(t, render(t, c))
	if got := count(els, "errorbar"); got != 2 {
		t.Errorf("%d error bars, want 2 (NaN and 0 half-widths draw none)", got)
	}
	top := math.Inf(-1)
	for _, e := range els {
		if hasClass(e, "tick") && hasClass(e, "y") && hasClass(e, "major") {
			v, _ := strconv.ParseFloat(e.attr["data-v"], 64)
			top = math.Max(top, v)
		}
	}
	if top < 10 {
		t.Errorf("top y tick %v: the axis does not reach the bar's end at 12", top)
	}
	bad := &LineChart{Series: []Series{{X: []float64{1, 2}, Y: []float64{1, 2}, YErr: []float64{1}}}}
	if err := bad.WriteSVG(&bytes.Buffer{}); err == nil {
		t.Error("error bars of the wrong length: no error")
	}
}
