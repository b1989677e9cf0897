package images

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/sampler/imagefile"
)

// gridColumns is the number of samples per covariance in the report's figures.
const gridColumns = 12

// WriteReport writes report.md (the tables), report.json (every number and setting),
// one figure per sampler and K (a row of samples per covariance, the same noise in
// every row), and the charts of the NLL's terms and covariance diagnostics to dir,
// and returns the paths written.
func WriteReport(dir string, rep *Report, version string) ([]string, error) {
	var paths []string
	write := func(name string, b []byte) error {
		p := filepath.Join(dir, name)
		paths = append(paths, p)
		return safetensors.WriteFileAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err })
	}
	figures, err := writeFigures(dir, rep, version)
	if err != nil {
		return nil, err
	}
	charts, err := writeCharts(dir, rep)
	if err != nil {
		return nil, err
	}
	curveFiles, curve, err := curveReport(dir, rep.Model) // the learning curve of the model's fit, if it has one
	if err != nil {
		return nil, err
	}
	if err := write("report.md", append(reportMarkdown(rep, figures), curve...)); err != nil {
		return nil, err
	}
	paths = append(paths, curveFiles...)
	js := filepath.Join(dir, "report.json")
	paths = append(paths, js)
	if err := writeJSON(js, jsonSafe(rep), "  "); err != nil {
		return nil, err
	}
	for _, f := range append(charts, figures...) {
		paths = append(paths, filepath.Join(dir, f))
	}
	return paths, nil
}

// writeFigures writes samples-<method>-k<K>.png for every sampler and K.
func writeFigures(dir string, rep *Report, version string) ([]string, error) {
	var names []string
	c, r := rep.imageShape()
	for _, method := range []string{"ddpm", "ddim"} {
		for _, k := range rep.Config.Ks {
			var x []float32
			var covs []string
			cols := 0
			for _, row := range rep.Rows {
				if row.Method != method || row.K != k || len(row.Grid) == 0 {
					continue
				}
				n := min(gridColumns, len(row.Grid)/(c*r*r))
				if cols == 0 {
					cols = n
				}
				if n != cols {
					continue
				}
				x = append(x, row.Grid[:n*c*r*r]...)
				covs = append(covs, row.Cov)
			}
			if len(x) == 0 {
				continue
			}
			name := fmt.Sprintf("samples-%s-k%d.png", method, k)
			text := map[string]string{"Software": "ocm " + version, "Title": fmt.Sprintf("%s, K=%d; rows: %s", method, k, strings.Join(covs, ", "))}
			if err := imagefile.WriteGrid(filepath.Join(dir, name), x, len(x)/(c*r*r), c, r, r, cols, 2, text); err != nil {
				return nil, err
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// imageShape returns the channels and side of the model's images.
func (rep *Report) imageShape() (c, r int) {
	fmt.Sscanf(rep.Model["image_shape"], "%d,%d", &c, &r)
	return max(c, 1), max(r, 1)
}

// reportMarkdown renders the table: one block per K, a line per covariance.
func reportMarkdown(rep *Report, figures []string) []byte {
	var b bytes.Buffer
	md := rep.Model
	fmt.Fprintf(&b, "# %s: OCM and the other covariance estimators\n\n", md["dataset"])
	fmt.Fprintf(&b, "Backbone: UNet %s, %s schedule, N = %s; trained %s steps (batch %s, lr %s, EMA %s), %s s; "+
		"every number below uses the EMA weights. "+
		"Heads (OCM, SN, NPR; %s conv head on the last feature map): %s steps each. "+
		"Analytic-DPM table: %s examples per step.\n\n",
		md["unet_config"], md["schedule"], md["diffusion_steps"], md["train.backbone_steps"], md["train.batch"],
		md["train.lr"], md["train.ema"], md["train.backbone_seconds"], cmp.Or(md["head"], string(HeadSimple)),
		md["train.head_steps"], md["train.ms_eps_per_step"])
	cfg := rep.Config
	accuracy := fmt.Sprintf("test accuracy %.3f", rep.ClassifierAccuracy)
	if math.IsNaN(rep.ClassifierAccuracy) {
		accuracy = "the test images have no labels: no test accuracy"
	}
	fmt.Fprintf(&b, "NLL: bits/dim (docs/method.md §6: DDPM, discretised decoder with variance T̃B(1,2), x̂0 and c_t clipped), "+
		"mean ± standard error over the first %d test images. FD: Fréchet distance of %d samples to %d training "+
		"images on the features of ocm's classifier (%s); P/R: precision/recall with k = %d "+
		"(%d samples vs as many training images). Sampling: even trajectory, x̂0 clipped, clip_sigma_idx 1 with "+
		"clip_pixel 2 (DDPM) and 1 (DDIM), the same noise for every covariance. DDIM has η = 0.\n\n",
		cmp.Or(rep.NLLImages, cfg.TestImages), cfg.FDSamples, cfg.RefImages, accuracy, cfg.PRK, cfg.FDSamples)
	if rep.Split != "" {
		fmt.Fprintf(&b, "Test images: %s.\n\n", rep.Split)
	}
	if slices.ContainsFunc(rep.Rows, func(r Row) bool { return r.Cov == ocm.CovOCMProbe.String() }) {
		fmt.Fprintf(&b, "ocm-probe: no head; c_t = (B/A)(1 + B·diag H) with diag H estimated at every step from %d fresh "+
			"Rademacher probes through the backbone (ocm-math §3.6); NLL only.\n\n", cfg.Probes)
	}
	fmt.Fprintf(&b, "The floor: %d test images against the same reference give FD %.2f, P/R %.3f/%.3f; "+
		"with so few samples FD is biased upwards, so compare rows with each other, not with published FIDs.\n\n",
		cfg.FDSamples, rep.RealFD, rep.RealPrecision, rep.RealRecall)
	for _, k := range cfg.Ks {
		fmt.Fprintf(&b, "## K = %d\n\n| covariance | DDPM NLL (bits/dim) | DDPM FD | DDPM P/R | DDIM FD | DDIM P/R |\n|---|---|---|---|---|---|\n", k)
		best := rep.bests(k)
		for _, cov := range rep.covariances() {
			ddpm, ok1 := rep.row("ddpm", cov.String(), k)
			ddim, ok2 := rep.row("ddim", cov.String(), k)
			cell := func(ok bool, v float64, what string, f string) string {
				if !ok || math.IsNaN(v) {
					return "—"
				}
				s := fmt.Sprintf(f, v)
				if best[what] == cov.String() {
					s = "**" + s + "**"
				}
				return s
			}
			nll := cell(ok1, ddpm.BPD, "nll", "%.3f")
			if ok1 && !math.IsNaN(ddpm.BPDErr) {
				nll += fmt.Sprintf(" ± %.3f", ddpm.BPDErr)
			}
			pr := func(ok bool, r Row) string {
				if !ok || math.IsNaN(r.Precision) {
					return "—"
				}
				return fmt.Sprintf("%.2f/%.2f", r.Precision, r.Recall)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", cov, nll, cell(ok1, ddpm.FD, "ddpm", "%.2f"), pr(ok1, ddpm),
				cell(ok2, ddim.FD, "ddim", "%.2f"), pr(ok2, ddim))
		}
		b.WriteString("\nBold: the best of the column at this K.\n\n")
	}
	writeTerms(&b, rep)
	writeDiagnostics(&b, rep)
	if len(figures) > 0 {
		b.WriteString("## Samples\n\nEach figure: one row per covariance in the table's order (DDIM has no large), the same noise in every row.\n\n")
		for _, f := range figures {
			fmt.Fprintf(&b, "![%s](%s)\n\n", f, f)
		}
	}
	fmt.Fprintf(&b, "Evaluation took %.0f s. Every setting is in report.json.\n", rep.Seconds)
	return b.Bytes()
}

// covariances lists the report's covariances in table order: the model's, then
// ocm-probe when the report has its rows.
func (rep *Report) covariances() []ocm.Covariance {
	covs := Covariances()
	if slices.ContainsFunc(rep.Rows, func(r Row) bool { return r.Cov == ocm.CovOCMProbe.String() }) {
		covs = append(covs, ocm.CovOCMProbe)
	}
	return covs
}

// row finds the row of a sampler, covariance and K.
func (rep *Report) row(method, cov string, k int) (Row, bool) {
	i := slices.IndexFunc(rep.Rows, func(r Row) bool { return r.Method == method && r.Cov == cov && r.K == k })
	if i < 0 {
		return Row{}, false
	}
	return rep.Rows[i], true
}

// bests names the covariance with the lowest NLL, DDPM FD and DDIM FD at K.
func (rep *Report) bests(k int) map[string]string {
	best, val := map[string]string{}, map[string]float64{}
	consider := func(what, cov string, v float64) {
		if math.IsNaN(v) {
			return
		}
		if old, ok := val[what]; !ok || v < old {
			best[what], val[what] = cov, v
		}
	}
	for _, r := range rep.Rows {
		if r.K != k {
			continue
		}
		if r.Method == "ddpm" {
			consider("nll", r.Cov, r.BPD)
		}
		consider(r.Method, r.Cov, r.FD)
	}
	return best
}

// jsonSafe returns a copy of rep whose NaNs (no DDIM likelihood, no correlation of a
// constant c_t, no test labels) and infinities are JSON nulls.
func jsonSafe(rep *Report) any {
	type row struct {
		Row
		BPD       *float64 `json:"nll_bits_per_dim"`
		BPDErr    *float64 `json:"nll_standard_error"`
		FD        *float64 `json:"frechet_distance"`
		Precision *float64 `json:"precision"`
		Recall    *float64 `json:"recall"`
	}
	type diag struct {
		CovDiag
		Corr  *float64 `json:"correlation"`
		Ratio *float64 `json:"mean_ratio"`
	}
	opt := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	rows := make([]row, len(rep.Rows))
	for i, r := range rep.Rows {
		rows[i] = row{Row: r, BPD: opt(r.BPD), BPDErr: opt(r.BPDErr), FD: opt(r.FD), Precision: opt(r.Precision), Recall: opt(r.Recall)}
	}
	diags := make([]diag, len(rep.Diagnostics))
	for i, d := range rep.Diagnostics {
		diags[i] = diag{CovDiag: d, Corr: opt(d.Corr), Ratio: opt(d.Ratio)}
	}
	return struct {
		*Report
		Rows        []row    `json:"rows"`
		Diagnostics []diag   `json:"covariance_diagnostics"`
		Accuracy    *float64 `json:"classifier_test_accuracy"`
	}{rep, rows, diags, opt(rep.ClassifierAccuracy)}
}
