package toy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"time"

	"ocm/nn/safetensors"
	"ocm/ocm/manifest"
	rt "ocm/runtime"
	"ocm/sampler"
	"ocm/sampler/plot"
)

// Report is everything the study measured, as written to report.json.
type Report struct {
	Manifest      *manifest.Manifest            `json:"manifest"` // set by the caller before writing
	Dataset       string                        `json:"dataset"`
	Training      map[string]string             `json:"training"`
	Config        StudyConfig                   `json:"config"`
	Bandwidth     float64                       `json:"mmd_rbf_bandwidth"`
	BandwidthRule string                        `json:"mmd_bandwidth_rule"`
	CovErrors     []CovErrorRow                 `json:"covariance_error"`
	MeanCovError  map[string]map[string]float64 `json:"covariance_error_mean_over_t"`
	MMD           []MMDResult                   `json:"mmd"`
	ELBO          []ELBORow                     `json:"nelbo"`
	Seconds       float64                       `json:"seconds"`
}

// Study runs the whole evaluation of a trained and fitted model.
func Study(dev rt.Device, m *Model, cfg StudyConfig, prog Progress) (*Report, error) {
	start := time.Now()
	r := &Report{Dataset: m.Dataset, Training: m.Meta, Config: cfg,
		BandwidthRule: "median heuristic l = sqrt(median pairwise squared distance / 2) over two independent data samples of the MMD sample size, fixed per data set"}
	var err error
	if r.CovErrors, err = CovErrors(dev, m, cfg.ErrTimes, cfg.ErrSamples, cfg.Seed, cfg.Probes, prog); err != nil {
		return nil, err
	}
	uniform := make([]int, 0, 100)
	for t := m.Sched.N / 100; t <= m.Sched.N; t += max(1, m.Sched.N/100) {
		uniform = append(uniform, t)
	}
	avgRows, err := CovErrors(dev, m, uniform, cfg.ErrSamples/4, cfg.Seed+1, cfg.Probes, prog)
	if err != nil {
		return nil, err
	}
	r.MeanCovError = meanOverT(avgRows)
	r.Bandwidth = ReferenceBandwidth(m, cfg.Samples, cfg.Seed)
	if r.MMD, err = MMDTable(dev, m, cfg, r.Bandwidth, prog); err != nil {
		return nil, err
	}
	if r.ELBO, err = ELBOTable(dev, m, cfg.elboKs(), cfg.Samples, cfg.Seed+2, cfg.Probes, prog); err != nil {
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// meanOverT averages the error of each estimator over the rows (a uniform t grid).
func meanOverT(rows []CovErrorRow) map[string]map[string]float64 {
	out := map[string]map[string]float64{"learned_score": {}, "exact_score": {}}
	for _, r := range rows {
		for k, v := range r.Learned {
			out["learned_score"][k] += v / float64(len(rows))
		}
		for k, v := range r.Exact {
			out["exact_score"][k] += v / float64(len(rows))
		}
	}
	return out
}

// WriteReport writes report.json, report.md and the figures to dir; it returns the
// paths written.
func WriteReport(dir string, r *Report) ([]string, error) {
	var paths []string
	write := func(name string, f func(w io.Writer) error) error {
		p := filepath.Join(dir, name)
		paths = append(paths, p)
		return safetensors.WriteFileAtomic(p, f)
	}
	js, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		f    func(w io.Writer) error
	}{
		{"report.json", func(w io.Writer) error { _, err := w.Write(append(js, '\n')); return err }},
		{"report.md", func(w io.Writer) error { _, err := w.Write(markdown(r)); return err }},
		{"covariance_error.svg", covErrorFigure(r).WriteSVG},
		{"mmd.svg", mmdFigure(r).WriteSVG},
	}
	for _, s := range steps {
		if err := write(s.name, s.f); err != nil {
			return paths, fmt.Errorf("writing %s: %w", s.name, err)
		}
	}
	return paths, nil
}

func covErrorFigure(r *Report) *plot.Grid {
	g := &plot.Grid{Title: r.Dataset + ": diagonal-covariance error vs t", Cols: 2}
	for _, score := range []string{"exact score", "learned score"} {
		c := &plot.LineChart{Title: score, XLabel: "t", YLabel: "mean squared error of diag Cov[x0|xt]", LogX: true, LogY: true}
		for _, est := range withoutProbe(errorEstimators, r.Config.Probes) {
			s := plot.Series{Name: est.String()}
			for _, row := range r.CovErrors {
				v := row.Learned[est.String()]
				if score == "exact score" {
					v = row.Exact[est.String()]
				}
				s.X, s.Y = append(s.X, float64(row.T)), append(s.Y, v)
			}
			c.Series = append(c.Series, s)
		}
		g.Cells = append(g.Cells, c)
	}
	return g
}

func mmdFigure(r *Report) *plot.Grid {
	g := &plot.Grid{Title: r.Dataset + ": MMD² to the data vs sampling steps K (mean of seeds; values ≤ 0, within noise of 0, drawn at 1e-7)", Cols: 2}
	for _, method := range []string{"ddpm", "ddim"} {
		c := &plot.LineChart{Title: method, XLabel: "K", YLabel: "MMD²", LogX: true, LogY: true}
		byCov := map[string]*plot.Series{}
		var order []string
		for _, x := range r.MMD {
			if x.Method != method {
				continue
			}
			s, ok := byCov[x.Cov]
			if !ok {
				s = &plot.Series{Name: x.Cov, Dashed: x.Cov == "exact-diag" || x.Cov == "exact-full"}
				byCov[x.Cov] = s
				order = append(order, x.Cov)
			}
			s.X, s.Y = append(s.X, float64(x.K)), append(s.Y, math.Max(x.Mean, 1e-7))
		}
		for _, name := range order {
			c.Series = append(c.Series, *byCov[name])
		}
		g.Cells = append(g.Cells, c)
	}
	return g
}

// markdown renders the tables for reading.
func markdown(r *Report) []byte {
	var b bytes.Buffer
	build, device := "", ""
	if r.Manifest != nil {
		build, device = r.Manifest.Build.String(), r.Manifest.Device
	}
	fmt.Fprintf(&b, "# OCM toy study: %s\n\nocm %s on %s, %.0f s. Training: %v\n\n", r.Dataset, build, device, r.Seconds, sortedKV(r.Training))
	names, rule := "", ""
	for _, est := range withoutProbe(errorEstimators, r.Config.Probes) {
		names, rule = names+" "+est.String()+" |", rule+"---|"
	}
	fmt.Fprintf(&b, "## Diagonal-covariance error, mean over t (uniform grid of 100 steps)\n\n"+
		"ocm-probe (with --probes) has no head: c_t = (B/A)(1 + B·diag H), diag H from %d Rademacher probes per call.\n\n"+
		"| score |%s\n|---|%s\n", r.Config.Probes, names, rule)
	for _, score := range []string{"exact_score", "learned_score"} {
		fmt.Fprintf(&b, "| %s |", score)
		for _, est := range withoutProbe(errorEstimators, r.Config.Probes) {
			fmt.Fprintf(&b, " %.3e |", r.MeanCovError[score][est.String()])
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\n## Diagonal-covariance error per t (exact score / learned score)\n\n| t | mean true var |%s best |\n|---|---|%s---|\n", names, rule)
	for _, row := range r.CovErrors {
		fmt.Fprintf(&b, "| %d | %.3e |", row.T, row.TrueVar)
		for _, est := range withoutProbe(errorEstimators, r.Config.Probes) {
			fmt.Fprintf(&b, " %.2e / %.2e |", row.Exact[est.String()], row.Learned[est.String()])
		}
		fmt.Fprintf(&b, " %s / %s |\n", argmin(row.Exact), argmin(row.Learned))
	}
	fmt.Fprintf(&b, "\n## MMD² (RBF, bandwidth %.4g; mean ± std over %d seeds, %d samples)\n", r.Bandwidth, r.Config.Seeds, r.Config.Samples)
	for _, method := range []string{"ddpm", "ddim"} {
		fmt.Fprintf(&b, "\n### %s\n\n| variance |", method)
		for _, k := range r.Config.Ks {
			fmt.Fprintf(&b, " K=%d |", k)
		}
		b.WriteString("\n|---|")
		for range r.Config.Ks {
			b.WriteString("---|")
		}
		b.WriteByte('\n')
		for _, cov := range mmdCovariances(methodOf(method)) {
			fmt.Fprintf(&b, "| %s |", cov)
			for _, x := range r.MMD {
				if x.Method == method && x.Cov == cov.String() {
					fmt.Fprintf(&b, " %.2e ± %.1e |", x.Mean, x.Std)
				}
			}
			b.WriteByte('\n')
		}
	}
	pairedTable(&b, r)
	fmt.Fprintf(&b, "\n## Negative ELBO, DDPM (nats per point; exact NLL %.4f)\n\n| variance | K | −ELBO | ± s.e. |\n|---|---|---|---|\n", exactNLLOf(r))
	for _, e := range r.ELBO {
		fmt.Fprintf(&b, "| %s | %d | %.4f | %.4f |\n", e.Cov, e.K, e.NELBO, e.StdErr)
	}
	return b.Bytes()
}

func exactNLLOf(r *Report) float64 {
	if len(r.ELBO) == 0 {
		return math.NaN()
	}
	return r.ELBO[0].ExactNLL
}

func methodOf(name string) sampler.Method {
	if name == "ddim" {
		return sampler.DDIM
	}
	return sampler.DDPM
}

func sortedKV(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", k, m[k])
	}
	return b.String()
}

// pairedTable prints MMD² differences paired by seed (every covariance of a seed uses the
// same noise draws, so paired differences resolve much smaller effects than the spread).
func pairedTable(b *bytes.Buffer, r *Report) {
	byKey := map[string][]float64{}
	for _, x := range r.MMD {
		byKey[fmt.Sprintf("%s/%s/%d", x.Method, x.Cov, x.K)] = x.Values
	}
	pairs := [][2]string{{"exact-diag", "exact-full"}, {"analytic", "ocm"}, {"sn", "ocm"}, {"npr", "ocm"}}
	fmt.Fprintf(b, "\n## MMD² differences paired by seed: A − B (mean ± std; positive: B is closer to the data)\n")
	for _, method := range []string{"ddpm", "ddim"} {
		fmt.Fprintf(b, "\n### %s\n\n| A − B |", method)
		for _, k := range r.Config.Ks {
			fmt.Fprintf(b, " K=%d |", k)
		}
		b.WriteString("\n|---|")
		for range r.Config.Ks {
			b.WriteString("---|")
		}
		b.WriteByte('\n')
		for _, p := range pairs {
			fmt.Fprintf(b, "| %s − %s |", p[0], p[1])
			for _, k := range r.Config.Ks {
				a, c := byKey[fmt.Sprintf("%s/%s/%d", method, p[0], k)], byKey[fmt.Sprintf("%s/%s/%d", method, p[1], k)]
				if len(a) == 0 || len(a) != len(c) {
					b.WriteString(" – |")
					continue
				}
				d := make([]float64, len(a))
				for i := range a {
					d[i] = a[i] - c[i]
				}
				m, sd := meanStd(d)
				fmt.Fprintf(b, " %.1e ± %.0e |", m, sd)
			}
			b.WriteByte('\n')
		}
	}
}

// argmin returns the estimator with the smallest error (ties: the first in name order).
func argmin(errs map[string]float64) string {
	names := make([]string, 0, len(errs))
	for k := range errs {
		names = append(names, k)
	}
	sort.Strings(names)
	best := names[0]
	for _, k := range names[1:] {
		if errs[k] < errs[best] {
			best = k
		}
	}
	return best
}
