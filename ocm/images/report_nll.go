package images

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"ocm/nn/safetensors"
	"ocm/sampler/plot"
)

// The report's charts.
const (
	termsChart = "nll-terms.svg"              // KL term against t, a panel per K
	diagChart  = "covariance-diagnostics.svg" // correlation and ratio against t at DiagK
)

// chart is one SVG figure of the report.
type chart struct {
	name string
	fig  *plot.Grid
}

// charts returns the report's SVG figures: those it has the numbers for.
func (rep *Report) charts() []chart {
	var out []chart
	if g := rep.termsFigure(); len(g.Cells) > 0 {
		out = append(out, chart{termsChart, g})
	}
	if len(rep.Diagnostics) > 0 {
		out = append(out, chart{diagChart, rep.diagFigure()})
	}
	return out
}

// writeCharts writes the report's SVG figures to dir and returns their names.
func writeCharts(dir string, rep *Report) ([]string, error) {
	var names []string
	for _, c := range rep.charts() {
		if err := safetensors.WriteFileAtomic(filepath.Join(dir, c.name), c.fig.WriteSVG); err != nil {
			return nil, fmt.Errorf("writing %s: %w", c.name, err)
		}
		names = append(names, c.name)
	}
	return names, nil
}

// klTerms returns the KL terms s ← t (s ≥ 1) of terms: the prior and the decoder
// left out.
func klTerms(terms []Term) []Term {
	var out []Term
	for _, t := range terms {
		if t.S >= 1 && t.S != t.T {
			out = append(out, t)
		}
	}
	return out
}

// termsFigure plots every KL term against its t, one panel per K, a line per
// covariance (log axes: the terms span many decades).
func (rep *Report) termsFigure() *plot.Grid {
	g := &plot.Grid{Title: rep.Model["dataset"] + ": KL term s ← t of the NLL against t (bits/dim, mean over the test images)",
		CellWidth: 480, CellHeight: 340}
	for _, ts := range rep.Terms {
		kl := klTerms(ts.Terms)
		if len(kl) == 0 {
			continue
		}
		c := &plot.LineChart{Title: fmt.Sprintf("K = %d", ts.K), XLabel: "t", YLabel: "KL term (bits/dim)", LogX: true, LogY: true}
		for _, cov := range rep.covariances() {
			s := plot.Series{Name: cov.String()}
			for i := len(kl) - 1; i >= 0; i-- {
				if v, ok := kl[i].BPD[cov.String()]; ok {
					s.X, s.Y = append(s.X, float64(kl[i].T)), append(s.Y, v)
				}
			}
			c.Series = append(c.Series, s)
		}
		g.Cells = append(g.Cells, c)
	}
	g.Cols = max(1, min(len(g.Cells), 2))
	return g
}

// diagFigure plots the correlation and the ratio of the diagnostics against t, a
// line per covariance in the colour it has in the terms figure; a covariance without
// a correlation (analytic) has no line in that panel.
func (rep *Report) diagFigure() *plot.Grid {
	corr := &plot.LineChart{Title: "correlation of c_t with (x̂0 − x0)²", XLabel: "t", YLabel: "Pearson r over pixels and images", LogX: true}
	ratio := &plot.LineChart{Title: "mean c_t / mean (x̂0 − x0)²", XLabel: "t", YLabel: "ratio (1: c_t matches the error)", LogX: true, LogY: true}
	for _, cov := range rep.covariances() {
		sc, sr := plot.Series{}, plot.Series{} // unnamed: no legend entry, the colour kept
		for i := len(rep.Diagnostics) - 1; i >= 0; i-- {
			d := rep.Diagnostics[i]
			if d.Cov != cov.String() {
				continue
			}
			if !math.IsNaN(d.Corr) {
				sc.X, sc.Y = append(sc.X, float64(d.T)), append(sc.Y, d.Corr)
			}
			sr.X, sr.Y = append(sr.X, float64(d.T)), append(sr.Y, d.Ratio)
		}
		if len(sc.X) > 0 {
			sc.Name = cov.String()
		}
		if len(sr.X) > 0 {
			sr.Name = cov.String()
		}
		corr.Series, ratio.Series = append(corr.Series, sc), append(ratio.Series, sr)
	}
	title := fmt.Sprintf("%s: predicted c_t against the actual squared error of x̂0, K = %d, %d test images",
		rep.Model["dataset"], rep.DiagK, rep.diagImages())
	return &plot.Grid{Title: title, Cols: 2, Cells: []plot.Chart{corr, ratio}, CellWidth: 480, CellHeight: 340}
}

// diagCovariances lists the covariances of the diagnostics in table order.
func (rep *Report) diagCovariances() []string {
	var out []string
	for _, cov := range rep.covariances() {
		for _, d := range rep.Diagnostics {
			if d.Cov == cov.String() {
				out = append(out, cov.String())
				break
			}
		}
	}
	return out
}

// diagImages is the number of test images of the diagnostics.
func (rep *Report) diagImages() int {
	if len(rep.Diagnostics) == 0 {
		return 0
	}
	c, r := rep.imageShape()
	return rep.Diagnostics[0].Values / (c * r * r)
}

// writeTerms renders the NLL at the smallest K term by term (where each covariance
// gains or loses its bits), with the NLL and its standard error under each column,
// then the largest KL term of each covariance at every K.
func writeTerms(b *bytes.Buffer, rep *Report) {
	if len(rep.Terms) == 0 {
		return
	}
	k := rep.Terms[0].K
	for _, ts := range rep.Terms {
		k = min(k, ts.K)
	}
	terms := rep.TermsAt(k)
	fmt.Fprintf(b, "## NLL term by term at K = %d\n\nBits/dim of each term of the DDPM NELBO (docs/method.md §6), averaged over the "+
		"test images; a column adds up to the table's NLL (last line, ± its standard error over the test images). "+
		"The largest term of each column is bold.\n\n| term |", k)
	covs := rep.covariances()
	for _, cov := range covs {
		fmt.Fprintf(b, " %s |", cov)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(covs)) + "\n")
	largest := map[string]float64{}
	for _, t := range terms {
		for cov, v := range t.BPD {
			largest[cov] = max(largest[cov], v)
		}
	}
	for _, t := range terms {
		fmt.Fprintf(b, "| %s |", t.Name())
		for _, cov := range covs {
			v, ok := t.BPD[cov.String()]
			switch {
			case !ok:
				b.WriteString(" — |")
			case v == largest[cov.String()]:
				fmt.Fprintf(b, " **%.3f** |", v)
			default:
				fmt.Fprintf(b, " %.3f |", v)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("| NLL |")
	for _, cov := range covs {
		fmt.Fprintf(b, " %s |", rep.nllCell(cov.String(), k))
	}
	b.WriteString("\n\n")
	writeLargestTerms(b, rep)
}

// nllCell is a covariance's DDPM NLL at K with its standard error, "—" without one.
func (rep *Report) nllCell(cov string, k int) string {
	r, ok := rep.row("ddpm", cov, k)
	switch {
	case !ok || math.IsNaN(r.BPD):
		return "—"
	case math.IsNaN(r.BPDErr):
		return fmt.Sprintf("%.3f", r.BPD)
	}
	return fmt.Sprintf("%.3f ± %.3f", r.BPD, r.BPDErr)
}

// writeLargestTerms renders, for every K, each covariance's largest KL term and its
// share of the NLL, and links the figure of every KL term.
func writeLargestTerms(b *bytes.Buffer, rep *Report) {
	fmt.Fprintf(b, "### The largest KL term at every K\n\nEach cell: the KL term s ← t with the most bits/dim, "+
		"its bits/dim and its share of the covariance's NLL; every term of every K is in report.json (nll_terms) and in the figure.\n\n| covariance |")
	for _, ts := range rep.Terms {
		fmt.Fprintf(b, " K = %d |", ts.K)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(rep.Terms)) + "\n")
	for _, cov := range rep.covariances() {
		fmt.Fprintf(b, "| %s |", cov)
		for _, ts := range rep.Terms {
			var top Term
			best := math.Inf(-1)
			for _, t := range klTerms(ts.Terms) {
				if v, ok := t.BPD[cov.String()]; ok && v > best {
					top, best = t, v
				}
			}
			r, ok := rep.row("ddpm", cov.String(), ts.K)
			switch {
			case math.IsInf(best, -1):
				b.WriteString(" — |")
			case ok && r.BPD > 0:
				fmt.Fprintf(b, " %s: %.3f (%.0f%%) |", top.Name(), best, 100*best/r.BPD)
			default:
				fmt.Fprintf(b, " %s: %.3f |", top.Name(), best)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, c := range rep.charts() {
		if c.name == termsChart {
			fmt.Fprintf(b, "![KL term against t at every K](%s)\n\n", termsChart)
		}
	}
}

// writeDiagnostics renders the covariance diagnostics at DiagK: a line per step, the
// squared error of x̂0 and each covariance's correlation and ratio, and the figure.
func writeDiagnostics(b *bytes.Buffer, rep *Report) {
	covs := rep.diagCovariances()
	if len(covs) == 0 {
		return
	}
	fmt.Fprintf(b, "## Covariance diagnostics at K = %d\n\n"+
		"What the KL terms pay for: at each step t of the K = %d trajectory, over every pixel of the %d test images of the NLL "+
		"(the same x_t, x̂0 and c_t as its terms, x̂0 and c_t clamped), r is the Pearson correlation between the predicted "+
		"c_t and the actual squared error (x̂0 − x0)², and the ratio is mean c_t / mean (x̂0 − x0)². "+
		"A c_t below the error makes the KL term's (x̂0 − x0)²/σ² large; a good estimator has ratio near 1 and r well above 0. "+
		"x̂0 is the same for every covariance, so the error column is too. A c_t that is the same for every pixel has no "+
		"correlation (—): analytic's always, a head's where the clamp to [0, 1] takes every pixel. "+
		"The decoder term (t = 1) has a fixed variance and is not listed. "+
		"Each cell: r / ratio.\n\n| t | mean (x̂0 − x0)² |", rep.DiagK, rep.DiagK, rep.diagImages())
	for _, cov := range covs {
		fmt.Fprintf(b, " %s |", cov)
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(covs)) + "\n")
	for i := 0; i < len(rep.Diagnostics); {
		t := rep.Diagnostics[i].T
		fmt.Fprintf(b, "| %d | %.3g |", t, rep.Diagnostics[i].MeanErr)
		cells := map[string]string{}
		for ; i < len(rep.Diagnostics) && rep.Diagnostics[i].T == t; i++ {
			d := rep.Diagnostics[i]
			r := "—"
			if !math.IsNaN(d.Corr) {
				r = fmt.Sprintf("%.2f", d.Corr)
			}
			cells[d.Cov] = fmt.Sprintf("%s / %.3g", r, d.Ratio)
		}
		for _, cov := range covs {
			fmt.Fprintf(b, " %s |", cmp.Or(cells[cov], "—"))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(b, "\n![correlation and ratio of c_t to the squared error against t](%s)\n\n", diagChart)
}
