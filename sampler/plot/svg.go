package plot

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// palette is the Okabe–Ito colour-blind-safe palette, reordered so the
// first colours are the most distinct on white; yellow is last.
var palette = [...]string{
	"#0072B2", // blue
	"#D55E00", // vermillion
	"#009E73", // bluish green
	"#CC79A7", // reddish purple
	"#E69F00", // orange
	"#56B4E9", // sky blue
	"#000000", // black
	"#F0E442", // yellow
}

// Layout constants, in SVG user units (pixels at 100% zoom).
const (
	fontSize    = 12   // tick labels, axis labels, legend
	titleSize   = 14   // chart title
	noteSize    = 10   // skipped-points note
	charWidth   = 7.2  // advance of a 12px DejaVu/Helvetica character, generous
	markerSize  = 3.5  // marker half-width
	denseSeries = 40   // series longer than this get markers on a subset
	denseMarks  = 20   // about this many markers on a dense series
	axisPad     = 0.04 // linear auto axes extend this fraction past the data
)

// Series is one line of a LineChart: points (X[i], Y[i]). Markers are
// drawn at every point, or at every k-th point when a series has more than
// 40 points (about 20 markers). YErr, when not nil, holds one half-width per
// point: an error bar from Y[i]−YErr[i] to Y[i]+YErr[i] (none where it is
// not finite or not positive; on a log axis the bar stops at the axis).
type Series struct {
	Name   string
	X, Y   []float64
	YErr   []float64
	Dashed bool
}

// LineChart is a chart of one or more series over shared axes. Width and
// Height default to 720×440.
type LineChart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Series                []Series
	Width, Height         int
}

// Scatter is a 2-D scatter plot of Points (rows [x, y]) drawn over an
// optional light grey Reference cloud, with equal aspect ratio (a data unit
// is as long on both axes). A zero XRange or YRange means automatic; points
// outside a fixed range are skipped and counted. Width and Height default
// to 480×480.
type Scatter struct {
	Title         string
	Points        [][]float64
	Reference     [][]float64
	Width, Height int
	XRange        [2]float64
	YRange        [2]float64
}

// Chart is a figure that can be written alone or placed in a Grid; it is
// implemented by *LineChart and *Scatter.
type Chart interface {
	WriteSVG(w io.Writer) error
	size() (w, h int)
	check() error
	draw(sw *svgWriter, w, h float64, id string)
}

// Grid is a page of small multiples: Cells laid out row by row, Cols per row
// (0 means min(len(Cells), 3)), each CellWidth×CellHeight (default 400×300;
// the cells' own Width and Height are ignored), under an optional Title.
type Grid struct {
	Title                 string
	Cols                  int
	Cells                 []Chart
	CellWidth, CellHeight int
}

// svgWriter writes formatted SVG with a sticky error.
type svgWriter struct {
	w   *bufio.Writer
	err error
}

// printf writes unless an earlier write failed.
func (s *svgWriter) printf(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

// writeSVG runs check, then writes a complete SVG document of size w×h
// whose body is drawn by body, and wraps any error with what.
func writeSVG(out io.Writer, what string, w, h int, check func() error, body func(sw *svgWriter)) error {
	if w < 120 || h < 100 {
		return fmt.Errorf("plot: %s: size %d×%d is below the 120×100 minimum", what, w, h)
	}
	if err := check(); err != nil {
		return fmt.Errorf("plot: %s: %w", what, err)
	}
	sw := &svgWriter{w: bufio.NewWriter(out)}
	sw.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="%d">`+"\n", w, h, w, h, fontSize)
	sw.printf(`<rect class="background" width="%d" height="%d" fill="white"/>`+"\n", w, h)
	body(sw)
	sw.printf("</svg>\n")
	if sw.err == nil {
		sw.err = sw.w.Flush()
	}
	if sw.err != nil {
		return fmt.Errorf("plot: write %s: %w", what, sw.err)
	}
	return nil
}

// esc returns s escaped for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&#34;")
		case '\'':
			b.WriteString("&#39;")
		default:
			if r == utf8.RuneError || (r < 0x20 && r != '\t') {
				r = '\uFFFD' // invalid in XML 1.0
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// textWidth estimates the rendered width of s at fontSize.
func textWidth(s string) float64 {
	return charWidth * float64(utf8.RuneCountInString(s))
}

// ---- axes ----

// axis maps data values to [0, 1] and holds its ticks.
type axis struct {
	lo, hi       float64 // data-space limits
	log          bool
	major, minor []float64
	step         float64 // linear major spacing, for label precision
}

// frac returns the position of v along the axis in [0, 1].
func (a *axis) frac(v float64) float64 {
	if a.log {
		return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	return (v - a.lo) / (a.hi - a.lo)
}

// niceStep returns a 1, 2 or 5 × 10^k step giving about target intervals.
func niceStep(span float64, target int) float64 {
	raw := span / float64(target)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f < 1.5:
		return p
	case f < 3.5:
		return 2 * p
	case f < 7.5:
		return 5 * p
	}
	return 10 * p
}

// linearAxis returns an axis covering [lo, hi] extended to nice ticks; with
// fixed set, the limits are kept exactly and ticks placed inside them.
func linearAxis(lo, hi float64, fixed bool) axis {
	if !(lo < hi) { // degenerate or empty range
		c := lo
		if math.IsInf(c, 0) || math.IsNaN(c) {
			c = 0
		}
		half := math.Max(math.Abs(c)*0.1, 0.5)
		lo, hi = c-half, c+half
	}
	step := niceStep(hi-lo, 5)
	if !fixed {
		lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	}
	a := axis{lo: lo, hi: hi, step: step}
	for k := math.Ceil(lo / step); k*step <= hi+step*1e-9; k++ {
		a.major = append(a.major, k*step)
	}
	return a
}

// logAxis returns an axis from the power of ten at or below lo to the one at
// or above hi, with major ticks at powers of ten (every k-th one when there
// are more than 8 decades) and minor ticks at 2..9 × 10^k.
func logAxis(lo, hi float64) axis {
	if !(lo > 0 && hi >= lo) || math.IsInf(hi, 0) {
		lo, hi = 1, 10
	}
	d0, d1 := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if d1 <= d0 {
		d1 = d0 + 1
	}
	a := axis{lo: math.Pow(10, d0), hi: math.Pow(10, d1), log: true}
	stride := math.Ceil((d1 - d0) / 8)
	for d := d0; d <= d1; d++ {
		p := math.Pow(10, d)
		if math.Mod(d-d0, stride) == 0 {
			a.major = append(a.major, p)
		} else {
			a.minor = append(a.minor, p)
		}
		if stride == 1 && d < d1 {
			for m := 2.0; m <= 9; m++ {
				a.minor = append(a.minor, m*p)
			}
		}
	}
	return a
}

// label returns the tick label for v as SVG text content (escaped).
func (a *axis) label(v float64) string {
	if a.log {
		k := int(math.Round(math.Log10(v)))
		if k >= -2 && k <= 3 {
			return strconv.FormatFloat(math.Pow(10, float64(k)), 'f', -1, 64)
		}
		return fmt.Sprintf(`10<tspan dy="-5" font-size="%d">%d</tspan>`, fontSize-3, k)
	}
	if math.Abs(v) < a.step*1e-6 {
		return "0"
	}
	mag := math.Max(math.Abs(a.lo), math.Abs(a.hi))
	if mag >= 1e5 || mag < 1e-3 {
		return esc(strconv.FormatFloat(v, 'g', 3, 64))
	}
	dec := max(0, int(math.Ceil(-math.Log10(a.step)-1e-9)))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// ---- plot frame ----

// frame is the plot rectangle of a chart in SVG coordinates.
type frame struct {
	x0, y0, w, h float64
	xa, ya       axis
}

// px returns the SVG coordinates of data point (x, y).
func (f *frame) px(x, y float64) (float64, float64) {
	return f.x0 + f.w*f.xa.frac(x), f.y0 + f.h*(1-f.ya.frac(y))
}

// drawGrid draws light grid lines at the ticks, behind the data.
func (f *frame) drawGrid(sw *svgWriter) {
	sw.printf(`<g class="grid" stroke-width="1">` + "\n")
	for _, v := range f.xa.minor {
		x := f.x0 + f.w*f.xa.frac(v)
		sw.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#f0f0f0"/>`+"\n", x, f.y0, x, f.y0+f.h)
	}
	for _, v := range f.ya.minor {
		y := f.y0 + f.h*(1-f.ya.frac(v))
		sw.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#f0f0f0"/>`+"\n", f.x0, y, f.x0+f.w, y)
	}
	for _, v := range f.xa.major {
		x := f.x0 + f.w*f.xa.frac(v)
		sw.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", x, f.y0, x, f.y0+f.h)
	}
	for _, v := range f.ya.major {
		y := f.y0 + f.h*(1-f.ya.frac(v))
		sw.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", f.x0, y, f.x0+f.w, y)
	}
	sw.printf("</g>\n")
}

// drawAxes draws the frame, tick marks and tick labels. Each major tick is a
// <line class="tick major x|y" data-v="value">.
func (f *frame) drawAxes(sw *svgWriter) {
	sw.printf(`<rect class="frame" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333333"/>`+"\n", f.x0, f.y0, f.w, f.h)
	sw.printf(`<g class="ticks" stroke="#333333" fill="#333333">` + "\n")
	yb := f.y0 + f.h
	for _, v := range f.xa.minor {
		x := f.x0 + f.w*f.xa.frac(v)
		sw.printf(`<line class="tick minor x" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", x, yb, x, yb+3)
	}
	for _, v := range f.xa.major {
		x := f.x0 + f.w*f.xa.frac(v)
		sw.printf(`<line class="tick major x" data-v="%g" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", v, x, yb, x, yb+5)
		sw.printf(`<text class="ticklabel" x="%.1f" y="%.1f" text-anchor="middle" stroke="none">%s</text>`+"\n", x, yb+18, f.xa.label(v))
	}
	for _, v := range f.ya.minor {
		y := f.y0 + f.h*(1-f.ya.frac(v))
		sw.printf(`<line class="tick minor y" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", f.x0-3, y, f.x0, y)
	}
	for _, v := range f.ya.major {
		y := f.y0 + f.h*(1-f.ya.frac(v))
		sw.printf(`<line class="tick major y" data-v="%g" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", v, f.x0-5, y, f.x0, y)
		sw.printf(`<text class="ticklabel" x="%.1f" y="%.1f" text-anchor="end" stroke="none">%s</text>`+"\n", f.x0-8, y+4, f.ya.label(v))
	}
	sw.printf("</g>\n")
}

// drawLabels draws the title centred on width w and the axis labels.
func (f *frame) drawLabels(sw *svgWriter, w float64, title, xl, yl string) {
	if title != "" {
		sw.printf(`<text class="title" x="%.1f" y="%d" text-anchor="middle" font-size="%d" font-weight="bold">%s</text>`+"\n", w/2, titleSize+6, titleSize, esc(title))
	}
	if xl != "" {
		sw.printf(`<text class="xlabel" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", f.x0+f.w/2, f.y0+f.h+36, esc(xl))
	}
	if yl != "" {
		x, y := f.x0-48, f.y0+f.h/2
		sw.printf(`<text class="ylabel" x="%.1f" y="%.1f" text-anchor="middle" transform="rotate(-90 %.1f %.1f)">%s</text>`+"\n", x, y, x, y, esc(yl))
	}
}

// drawNote writes the skipped-points note, if any, at the bottom left.
func drawNote(sw *svgWriter, h float64, note string) {
	if note != "" {
		sw.printf(`<text class="note" x="6" y="%.1f" font-size="%d" fill="#666666">%s</text>`+"\n", h-5, noteSize, esc(note))
	}
}

// clipTo opens a group clipped to the plot rectangle; the caller closes it.
func (f *frame) clipTo(sw *svgWriter, id string) {
	sw.printf(`<clipPath id="%sclip"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f"/></clipPath>`+"\n", id, f.x0, f.y0, f.w, f.h)
	sw.printf(`<g clip-path="url(#%sclip)">`+"\n", id)
}

// marker writes marker shape i centred at (x, y) with the given class.
func marker(sw *svgWriter, class string, i int, x, y float64, color string) {
	s := markerSize
	attr := fmt.Sprintf(`class="%s" fill="%s" stroke="white" stroke-width="0.8"`, class, color)
	switch i % 5 {
	case 0:
		sw.printf(`<circle %s cx="%.1f" cy="%.1f" r="%.1f"/>`+"\n", attr, x, y, s)
	case 1:
		sw.printf(`<rect %s x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`+"\n", attr, x-s*0.9, y-s*0.9, 1.8*s, 1.8*s)
	case 2:
		sw.printf(`<path %s d="M%.1f %.1fL%.1f %.1fL%.1f %.1fZ"/>`+"\n", attr, x, y-1.2*s, x+1.1*s, y+0.8*s, x-1.1*s, y+0.8*s)
	case 3:
		sw.printf(`<path %s d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ"/>`+"\n", attr, x, y-1.3*s, x+1.1*s, y, x, y+1.3*s, x-1.1*s, y)
	default:
		sw.printf(`<path %s d="M%.1f %.1fL%.1f %.1fL%.1f %.1fZ"/>`+"\n", attr, x, y+1.2*s, x+1.1*s, y-0.8*s, x-1.1*s, y-0.8*s)
	}
}

// ---- line chart ----

// WriteSVG writes the chart as a standalone SVG document.
func (c *LineChart) WriteSVG(w io.Writer) error {
	cw, ch := c.size()
	return writeSVG(w, "line chart", cw, ch, c.check, func(sw *svgWriter) {
		c.draw(sw, float64(cw), float64(ch), "")
	})
}

func (c *LineChart) size() (int, int) {
	return defaultSize(c.Width, c.Height, 720, 440)
}

// defaultSize returns (w, h), or the defaults where they are zero.
func defaultSize(w, h, dw, dh int) (int, int) {
	if w == 0 {
		w = dw
	}
	if h == 0 {
		h = dh
	}
	return w, h
}

// drawable returns the points of s that can be drawn on the chart's axes,
// and how many were skipped as non-finite or as non-positive on a log axis.
func (c *LineChart) drawable(s Series) (pts [][2]float64, nonFinite, nonPos int) {
	for i := range s.X {
		x, y := s.X[i], s.Y[i]
		switch {
		case !finite(x) || !finite(y):
			nonFinite++
		case (c.LogX && x <= 0) || (c.LogY && y <= 0):
			nonPos++
		default:
			pts = append(pts, [2]float64{x, y})
		}
	}
	return pts, nonFinite, nonPos
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// check reports series whose X and Y lengths differ.
func (c *LineChart) check() error {
	for i, s := range c.Series {
		if len(s.X) != len(s.Y) {
			return fmt.Errorf("series %d (%q) has %d x values and %d y values", i, s.Name, len(s.X), len(s.Y))
		}
		if s.YErr != nil && len(s.YErr) != len(s.Y) {
			return fmt.Errorf("series %d (%q) has %d y values and %d error bars", i, s.Name, len(s.Y), len(s.YErr))
		}
	}
	return nil
}

// errorBars returns the drawable error bars of s: [x, lo, hi] for every drawable
// point with a finite, positive half-width (lo cut at the axis on a log axis).
func (c *LineChart) errorBars(s Series) [][3]float64 {
	var bars [][3]float64
	for i, e := range s.YErr {
		x, y := s.X[i], s.Y[i]
		if !finite(x) || !finite(y) || !finite(e) || e <= 0 || (c.LogX && x <= 0) || (c.LogY && y <= 0) {
			continue
		}
		lo := y - e
		if c.LogY && lo <= 0 {
			lo = y / 1e3
		}
		bars = append(bars, [3]float64{x, lo, y + e})
	}
	return bars
}

// drawErrorBars draws series i's error bars with short caps.
func drawErrorBars(sw *svgWriter, f *frame, i int, bars [][3]float64) {
	color := palette[i%len(palette)]
	for _, b := range bars {
		x, ylo := f.px(b[0], b[1])
		_, yhi := f.px(b[0], b[2])
		sw.printf(`<path class="errorbar" data-series="%d" fill="none" stroke="%s" stroke-width="1.2" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f"/>`+"\n",
			i, color, x, ylo, x, yhi, x-3, ylo, x+3, ylo, x-3, yhi, x+3, yhi)
	}
}

// draw renders the chart into a w×h box; id prefixes element ids.
func (c *LineChart) draw(sw *svgWriter, w, h float64, id string) {
	pts := make([][][2]float64, len(c.Series))
	bars := make([][][3]float64, len(c.Series))
	var nonFinite, nonPos int
	lo, hi := [2]float64{math.Inf(1), math.Inf(1)}, [2]float64{math.Inf(-1), math.Inf(-1)}
	for i, s := range c.Series {
		var nf, np int
		pts[i], nf, np = c.drawable(s)
		nonFinite, nonPos = nonFinite+nf, nonPos+np
		for _, p := range pts[i] {
			for k := range 2 {
				lo[k], hi[k] = math.Min(lo[k], p[k]), math.Max(hi[k], p[k])
			}
		}
		bars[i] = c.errorBars(s)
		for _, b := range bars[i] {
			lo[1], hi[1] = math.Min(lo[1], b[1]), math.Max(hi[1], b[2])
		}
	}
	f := c.layout(w, h, nonFinite+nonPos > 0)
	f.xa, f.ya = chartAxis(lo[0], hi[0], c.LogX), chartAxis(lo[1], hi[1], c.LogY)
	f.drawGrid(sw)
	f.clipTo(sw, id)
	for i, s := range c.Series {
		drawLine(sw, &f, i, s.Dashed, pts[i])
		drawErrorBars(sw, &f, i, bars[i])
	}
	sw.printf("</g>\n")
	f.drawAxes(sw)
	for i := range c.Series { // unclipped, so markers on the frame stay whole
		drawMarkers(sw, &f, i, pts[i])
	}
	f.drawLabels(sw, w, c.Title, c.XLabel, c.YLabel)
	c.drawLegend(sw, &f)
	drawNote(sw, h, skipNote(nonFinite, nonPos))
}

// chartAxis returns a log axis, or a linear axis padded by axisPad on both
// sides (so data never sits on the frame) with ticks inside it.
func chartAxis(lo, hi float64, log bool) axis {
	if log {
		return logAxis(lo, hi)
	}
	if !(lo < hi) {
		return linearAxis(lo, hi, false)
	}
	pad := axisPad * (hi - lo)
	return linearAxis(lo-pad, hi+pad, true)
}

// layout returns the plot rectangle, leaving room for the title, labels,
// legend (right of the plot) and note.
func (c *LineChart) layout(w, h float64, note bool) frame {
	top, bottom, right := 12.0, 46.0, 16.0
	if c.Title != "" {
		top = titleSize + 20
	}
	if note {
		bottom += noteSize + 4
	}
	longest := 0.0
	for _, s := range c.Series {
		longest = math.Max(longest, textWidth(s.Name))
	}
	if longest > 0 {
		right = math.Min(longest+52, 0.4*w)
	}
	left := 64.0
	return frame{x0: left, y0: top, w: w - left - right, h: h - top - bottom}
}

// skipNote describes skipped points, or returns "" if none were skipped.
func skipNote(nonFinite, nonPos int) string {
	var parts []string
	if nonFinite > 0 {
		parts = append(parts, fmt.Sprintf("%d non-finite", nonFinite))
	}
	if nonPos > 0 {
		parts = append(parts, fmt.Sprintf("%d non-positive (log axis)", nonPos))
	}
	if parts == nil {
		return ""
	}
	noun := " points"
	if nonFinite+nonPos == 1 {
		noun = " point"
	}
	return "skipped " + strings.Join(parts, " and ") + noun
}

// drawLine draws series i's polyline.
func drawLine(sw *svgWriter, f *frame, i int, dashed bool, pts [][2]float64) {
	color := palette[i%len(palette)]
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="7 4"`
	}
	sw.printf(`<polyline class="series" data-series="%d" fill="none" stroke="%s" stroke-width="1.8" stroke-linejoin="round"%s points="`, i, color, dash)
	for _, p := range pts {
		x, y := f.px(p[0], p[1])
		sw.printf("%.2f,%.2f ", x, y)
	}
	sw.printf("\"/>\n")
}

// drawMarkers draws series i's markers: at every point, or at about
// denseMarks of them on a dense series.
func drawMarkers(sw *svgWriter, f *frame, i int, pts [][2]float64) {
	color := palette[i%len(palette)]
	every := 1
	if len(pts) > denseSeries {
		every = (len(pts) + denseMarks - 1) / denseMarks
	}
	for j := 0; j < len(pts); j += every {
		x, y := f.px(pts[j][0], pts[j][1])
		marker(sw, "marker", i, x, y, color)
	}
}

// drawLegend lists the named series to the right of the plot.
func (c *LineChart) drawLegend(sw *svgWriter, f *frame) {
	x := f.x0 + f.w + 12
	y := f.y0 + 8
	for i, s := range c.Series {
		if s.Name == "" {
			continue
		}
		color := palette[i%len(palette)]
		dash := ""
		if s.Dashed {
			dash = ` stroke-dasharray="7 4"`
		}
		sw.printf(`<line class="legend" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.8"%s/>`+"\n", x, y, x+26, y, color, dash)
		marker(sw, "legend-marker", i, x+13, y, color)
		sw.printf(`<text class="legend" x="%.1f" y="%.1f">%s</text>`+"\n", x+32, y+4, esc(s.Name))
		y += 18
	}
}

// ---- scatter ----

// WriteSVG writes the scatter plot as a standalone SVG document.
func (s *Scatter) WriteSVG(w io.Writer) error {
	cw, ch := s.size()
	return writeSVG(w, "scatter", cw, ch, s.check, func(sw *svgWriter) {
		s.draw(sw, float64(cw), float64(ch), "")
	})
}

func (s *Scatter) size() (int, int) {
	return defaultSize(s.Width, s.Height, 480, 480)
}

// scatterAxis returns the axis for coordinate k: fixed r if set, else a
// padded axis around all finite points of both sets.
func scatterAxis(r [2]float64, k int, sets ...[][]float64) axis {
	if r != [2]float64{} {
		return linearAxis(r[0], r[1], true)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, set := range sets {
		for _, p := range set {
			if len(p) >= 2 && finite(p[0]) && finite(p[1]) {
				lo, hi = math.Min(lo, p[k]), math.Max(hi, p[k])
			}
		}
	}
	return chartAxis(lo, hi, false)
}

// equalAspect shrinks the plot rectangle so that one data unit has the same
// length on both axes, keeping it centred horizontally.
func (f *frame) equalAspect() {
	xs, ys := f.xa.hi-f.xa.lo, f.ya.hi-f.ya.lo
	unit := math.Min(f.w/xs, f.h/ys)
	f.x0 += (f.w - unit*xs) / 2
	f.w, f.h = unit*xs, unit*ys
}

// check reports points that are not 2-D and inverted fixed ranges.
func (s *Scatter) check() error {
	for i, p := range s.Points {
		if len(p) != 2 {
			return fmt.Errorf("point %d has %d coordinates, want 2", i, len(p))
		}
	}
	for i, p := range s.Reference {
		if len(p) != 2 {
			return fmt.Errorf("reference point %d has %d coordinates, want 2", i, len(p))
		}
	}
	for _, r := range [][2]float64{s.XRange, s.YRange} {
		if r != [2]float64{} && !(r[0] < r[1] && finite(r[0]) && finite(r[1])) {
			return fmt.Errorf("range %v: want finite lo < hi, or zero for automatic", r)
		}
	}
	return nil
}

// draw renders the scatter plot into a w×h box; id prefixes element ids.
func (s *Scatter) draw(sw *svgWriter, w, h float64, id string) {
	top := 12.0
	if s.Title != "" {
		top = titleSize + 20
	}
	f := frame{x0: 56, y0: top, w: w - 56 - 16, h: h - top - 46 - noteSize - 4}
	f.xa = scatterAxis(s.XRange, 0, s.Points, s.Reference)
	f.ya = scatterAxis(s.YRange, 1, s.Points, s.Reference)
	f.equalAspect()
	f.drawGrid(sw)
	f.clipTo(sw, id)
	skipRef := drawPoints(sw, &f, "ref", "#bbbbbb", s.Reference)
	skip := drawPoints(sw, &f, "point", palette[0], s.Points)
	sw.printf("</g>\n")
	f.drawAxes(sw)
	f.drawLabels(sw, w, s.Title, "", "")
	note := fmt.Sprintf("%d points", len(s.Points))
	if s.Reference != nil {
		note += fmt.Sprintf(" (blue) over %d reference points (grey)", len(s.Reference))
	}
	if skip+skipRef > 0 {
		note += fmt.Sprintf("; skipped %d non-finite or out-of-range", skip+skipRef)
	}
	drawNote(sw, h, note)
}

// drawPoints draws the drawable points of set as small dots of the given
// class and colour and returns how many it skipped.
func drawPoints(sw *svgWriter, f *frame, class, color string, set [][]float64) int {
	skipped := 0
	sw.printf(`<g fill="%s" fill-opacity="0.7">`+"\n", color)
	for _, p := range set {
		x, y := p[0], p[1]
		if !finite(x) || !finite(y) || x < f.xa.lo || x > f.xa.hi || y < f.ya.lo || y > f.ya.hi {
			skipped++
			continue
		}
		cx, cy := f.px(x, y)
		sw.printf(`<circle class="%s" cx="%.1f" cy="%.1f" r="1.6"/>`+"\n", class, cx, cy)
	}
	sw.printf("</g>\n")
	return skipped
}

// ---- grid ----

// check reports nil cells and the first cell that fails its own check.
func (g *Grid) check() error {
	for i, c := range g.Cells {
		if c == nil {
			return fmt.Errorf("cell %d is nil", i)
		}
		if err := c.check(); err != nil {
			return fmt.Errorf("cell %d: %w", i, err)
		}
	}
	return nil
}

// WriteSVG writes all cells on one SVG page.
func (g *Grid) WriteSVG(w io.Writer) error {
	if len(g.Cells) == 0 {
		return fmt.Errorf("plot: grid %q has no cells", g.Title)
	}
	cols := g.Cols
	if cols <= 0 {
		cols = min(len(g.Cells), 3)
	}
	rows := (len(g.Cells) + cols - 1) / cols
	cw, ch := defaultSize(g.CellWidth, g.CellHeight, 400, 300)
	top := 0
	if g.Title != "" {
		top = titleSize + 16
	}
	return writeSVG(w, "grid", cols*cw, top+rows*ch, g.check, func(sw *svgWriter) {
		if g.Title != "" {
			sw.printf(`<text class="title" x="%d" y="%d" text-anchor="middle" font-size="%d" font-weight="bold">%s</text>`+"\n", cols*cw/2, titleSize+4, titleSize+2, esc(g.Title))
		}
		for i, c := range g.Cells {
			sw.printf(`<g class="cell" transform="translate(%d %d)">`+"\n", (i%cols)*cw, top+(i/cols)*ch)
			c.draw(sw, float64(cw), float64(ch), fmt.Sprintf("c%d-", i))
			sw.printf("</g>\n")
		}
	})
}
