package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"time"

	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/data"
	rt "ocm/runtime"
	"ocm/sampler/plot"
)

// CurveK is the number of sampling steps K of a learning curve's NLL.
const CurveK = 10

// curveKey is the model metadata key of the learning curve (JSON): a bundle's and a
// checkpoint's train.fit_curve.
const curveKey = "fit_curve"

// Curve is the learning curve of a head fit: the DDPM NLL at K = CurveK (bits/dim,
// mean and standard error over the first Images test images, even spacing, the
// noise of Seed) of every head's EMA weights, in the form sampling uses, against the
// steps each head has taken. Points are measured at step 0, on the fit's cadence and
// at the end; Analytic is the Analytic-DPM NLL on the same images once its table is
// fitted at the end, a reference line.
type Curve struct {
	K        int          `json:"k"`
	Images   int          `json:"test_images"`
	Split    string       `json:"split,omitempty"`
	Seed     uint64       `json:"seed"`
	Points   []CurvePoint `json:"points"`
	Analytic *CurveValue  `json:"analytic,omitempty"`
}

// CurvePoint is the NLL of every head (by kind: ocm, sn, npr) after Step steps.
type CurvePoint struct {
	Step  int                   `json:"step"`
	Heads map[string]CurveValue `json:"heads"`
}

// CurveValue is an NLL in bits/dim and its standard error over the test images.
type CurveValue struct {
	BPD jsonFloat `json:"nll_bits_per_dim"`
	SE  jsonFloat `json:"nll_standard_error"`
}

// jsonFloat is a float64 that is written as null when it is not finite.
type jsonFloat float64

// MarshalJSON writes the number, or null for NaN and ±Inf.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON reads a number, or null as NaN.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(f))
}

// ParseCurve reads a learning curve from its JSON (a bundle's train.fit_curve).
func ParseCurve(s string) (*Curve, error) {
	var c Curve
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("learning curve: %v", err)
	}
	return &c, nil
}

// CurveOf returns the learning curve the model's fit recorded, nil when it has none.
func CurveOf(m *Model) (*Curve, error) {
	s, ok := m.Meta[curveKey]
	if !ok {
		return nil, nil
	}
	return ParseCurve(s)
}

// startCurve sets up the run's learning curve, continuing the points a resumed
// checkpoint holds, and measures step 0 when the fit starts afresh.
func (r *fitRun) startCurve() error {
	cs := r.st.Fit.Curve
	if cs.Images == 0 {
		return nil
	}
	if cs.Data == nil || cs.Data.N == 0 {
		return fmt.Errorf("images: fit: a learning curve of %d test images needs test images", cs.Images)
	}
	r.curve = &Curve{K: CurveK, Images: min(cs.Images, cs.Data.N), Split: cs.Split, Seed: r.st.Seed}
	if s, ok := r.m.Meta[curveKey]; ok { // restored with the checkpoint
		old, err := ParseCurve(s)
		if err != nil {
			return &ocm.ResumeError{Err: fmt.Errorf("images: the checkpoint's %w", err)}
		}
		r.curve.Points = old.Points
	}
	if r.step() == 0 && len(r.curve.Points) == 0 {
		return r.measure(0, true)
	}
	return r.store()
}

// curveDue says whether the joint fit measures a point after step: every
// Curve.Every steps, or at every checkpoint (Control.Every); the last step's point
// is measured at the end.
func (r *fitRun) curveDue(step int) bool {
	if r.curve == nil || step >= r.st.FitSteps {
		return false
	}
	if e := r.st.Fit.Curve.Every; e > 0 {
		return step%e == 0
	}
	return r.ctl.Due(step, r.st.FitSteps)
}

// measure adds the point of step. With ema the heads' averages are swapped in for
// the measurement and back (an exchange of tensors: the fit goes on bit for bit).
func (r *fitRun) measure(step int, ema bool) error {
	if ema {
		for _, f := range r.fitters {
			f.EMA.Swap(f.Head.Params())
		}
		defer func() {
			for _, f := range r.fitters {
				f.EMA.Swap(f.Head.Params())
			}
		}()
	}
	t0 := time.Now()
	nll, err := r.m.curveNLL(r.dev, r.curve, r.st.Fit.Curve.Data, r.prog)
	r.curveSeconds += time.Since(t0).Seconds()
	if err != nil {
		return err
	}
	p := CurvePoint{Step: step, Heads: map[string]CurveValue{}}
	for _, cov := range []ocm.Covariance{ocm.CovOCM, ocm.CovSN, ocm.CovNPR} {
		v := nll[nllKey{cov, r.curve.K}]
		p.Heads[cov.String()] = CurveValue{jsonFloat(v[0]), jsonFloat(v[1])}
	}
	r.curve.Points = append(r.curve.Points, p)
	if v, ok := nll[nllKey{ocm.CovAnalytic, r.curve.K}]; ok && !ema {
		r.curve.Analytic = &CurveValue{jsonFloat(v[0]), jsonFloat(v[1])}
	}
	return r.store()
}

// endCurve measures the fitted heads (their averages are in place) and the
// Analytic-DPM reference at the last step.
func (r *fitRun) endCurve() error {
	if r.curve == nil {
		return nil
	}
	return r.measure(r.st.FitSteps, false)
}

// store records the curve in the model's metadata, which checkpoints and the bundle
// carry.
func (r *fitRun) store() error {
	b, err := json.Marshal(r.curve)
	if err != nil {
		return fmt.Errorf("images: learning curve: %w", err)
	}
	r.m.Meta[curveKey] = string(b)
	return nil
}

// curveNLL is the NLL table of the curve's K on its test images, computed as --eval
// computes it (nllTable): every covariance shares each backbone pass. It scores the
// three heads, and Analytic-DPM once its table is fitted.
func (m *Model) curveNLL(dev rt.Device, c *Curve, test *data.Images, prog Progress) (map[nllKey][2]float64, error) {
	covs := []ocm.Covariance{ocm.CovOCM, ocm.CovSN, ocm.CovNPR}
	if m.MsEps != nil {
		covs = append(covs, ocm.CovAnalytic)
	}
	cfg := EvalConfig{Ks: []int{c.K}, TestImages: c.Images, Batch: DefaultEvalConfig().Batch, Seed: c.Seed, Covs: covs}
	var p Progress
	if prog != nil {
		p = func(_ string, done, total int, _ float64) { prog("learning curve nll", done, total, math.NaN()) }
	}
	return m.nllTable(dev, test, cfg, &Report{}, p)
}

// WriteCurve writes the model's learning curve to dir as fit-curve.json and
// fit-curve.svg and returns their paths; none without a curve.
func WriteCurve(dir string, m *Model) ([]string, error) {
	c, err := CurveOf(m)
	if c == nil || err != nil {
		return nil, err
	}
	js := filepath.Join(dir, "fit-curve.json")
	if err := writeJSON(js, c, "  "); err != nil {
		return nil, err
	}
	svg, err := writeCurveFigure(dir, c)
	if err != nil {
		return nil, err
	}
	return []string{js, svg}, nil
}

// writeCurveFigure writes fit-curve.svg: one line per head with error bars of one
// standard error, and the Analytic-DPM reference as a dashed line.
func writeCurveFigure(dir string, c *Curve) (string, error) {
	chart := &plot.LineChart{Title: fmt.Sprintf("Learning curve: DDPM NLL at K = %d, %d test images", c.K, c.Images),
		XLabel: "fit steps (each head)", YLabel: "NLL (bits/dim)"}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, kind := range ocm.HeadKinds() {
		s := plot.Series{Name: kind.String()}
		for _, p := range c.Points {
			v := p.Heads[kind.String()]
			s.X, s.Y, s.YErr = append(s.X, float64(p.Step)), append(s.Y, float64(v.BPD)), append(s.YErr, float64(v.SE))
			lo, hi = math.Min(lo, float64(v.BPD)), math.Max(hi, float64(v.BPD))
		}
		chart.Series = append(chart.Series, s)
	}
	if c.Analytic != nil && len(c.Points) > 0 {
		a := float64(c.Analytic.BPD)
		first, last := float64(c.Points[0].Step), float64(c.Points[len(c.Points)-1].Step)
		chart.Series = append(chart.Series, plot.Series{Name: "analytic (end)", X: []float64{first, last}, Y: []float64{a, a}, Dashed: true})
		lo, hi = math.Min(lo, a), math.Max(hi, a)
	}
	chart.LogY = lo > 0 && hi/lo > 20 // SN's NLL can be ten times the others'
	path := filepath.Join(dir, "fit-curve.svg")
	var b bytes.Buffer
	if err := chart.WriteSVG(&b); err != nil {
		return "", err
	}
	return path, writeBytes(path, b.Bytes())
}

// curveReport writes the learning curve a model's metadata md carries (a bundle's
// train.fit_curve) into the report folder dir and returns the figure's path and the
// report's section (nothing without a curve; a curve that does not parse gets a
// line saying so, not a failed evaluation).
func curveReport(dir string, md map[string]string) (files []string, section string, err error) {
	s, ok := md["train."+curveKey]
	if !ok {
		return nil, "", nil
	}
	c, err := ParseCurve(s)
	if err != nil {
		return nil, fmt.Sprintf("\n## Learning curve of the heads\n\nThe bundle's %s (metadata train.%s); not shown.\n", err, curveKey), nil
	}
	path, err := writeCurveFigure(dir, c)
	if err != nil {
		return nil, "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## Learning curve of the heads\n\nDDPM NLL at K = %d (bits/dim, mean ± standard error over the first %d test images, "+
		"EMA weights, as sampled) against the steps each head was fitted", c.K, c.Images)
	if v := md["train.fit_preset"]; v != "" {
		fmt.Fprintf(&b, " (fit preset %s: batch %s, lr %s %s, EMA %s, warm-up %s, backbone in %s mode, %s probe(s), %s fit)",
			v, md["train.fit_batch"], md["train.fit_lr"], md["train.fit_lr_schedule"], md["train.fit_ema"],
			md["train.fit_ema_warmup"], md["train.fit_backbone"], md["train.fit_probes"], md["train.fit_heads"])
	}
	fmt.Fprintf(&b, ". A head has converged where its line is flat within its error bars.\n\n![learning curve](%s)\n\n", filepath.Base(path))
	b.WriteString("| step | ocm | sn | npr |\n|---|---|---|---|\n")
	cell := func(v CurveValue) string { return fmt.Sprintf("%.3f ± %.3f", float64(v.BPD), float64(v.SE)) }
	for _, p := range c.Points {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", p.Step, cell(p.Heads["ocm"]), cell(p.Heads["sn"]), cell(p.Heads["npr"]))
	}
	if c.Analytic != nil {
		fmt.Fprintf(&b, "\nAnalytic-DPM on the same images: %s.\n", cell(*c.Analytic))
	}
	b.WriteString("\n")
	return []string{path}, b.String(), nil
}

// writeBytes writes b to path atomically.
func writeBytes(path string, b []byte) error {
	return safetensors.WriteFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err })
}
