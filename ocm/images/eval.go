package images

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"ocm/nn"
	"ocm/ocm"
	"ocm/ocm/data"
	"ocm/ocm/featurenet"
	"ocm/ocm/manifest"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
	"ocm/sampler/metrics"
)

// EvalConfig sizes the evaluation of an image model (the paper's main table).
type EvalConfig struct {
	Ks         []int  `json:"steps"`              // sampling steps K
	TestImages int    `json:"test_images"`        // test images whose NLL is measured (the first ones of the test set)
	FDSamples  int    `json:"fd_samples"`         // samples per Fréchet distance and precision/recall
	RefImages  int    `json:"reference_images"`   // training images of the reference statistics
	Batch      int    `json:"batch"`              // images per network call
	PRK        int    `json:"precision_recall_k"` // k of the k-NN manifolds of precision/recall
	Seed       uint64 `json:"seed"`               // the noise of the NLL terms and of sampling
	GridImages int    `json:"grid_images"`        // samples kept per row for the report's grids
	// Probes adds the head-free ocm-probe covariance with this many probes per call
	// to the NLL table (0: no ocm-probe row; it costs Probes JVPs per term).
	Probes int `json:"probes"`
	// Split says where the test images come from (data.Split.Describe).
	Split string `json:"split"`
	// Covs, when set, replaces the NLL table's covariances (Covariances() and
	// ocm-probe): the learning curve scores only the heads it has.
	Covs []ocm.Covariance `json:"-"`
}

// DefaultEvalConfig is the evaluation of docs/reports/fashion-mnist.
func DefaultEvalConfig() EvalConfig {
	return EvalConfig{Ks: []int{10, 25, 50, 100}, TestImages: 100, FDSamples: 100, RefImages: 10000,
		Batch: 128, PRK: 3, Seed: 1234, GridImages: 36}
}

// Row is one line of the table: a sampler, a covariance and K.
type Row struct {
	Method    string    `json:"method"`
	Cov       string    `json:"covariance"`
	K         int       `json:"k"`
	BPD       float64   `json:"nll_bits_per_dim"`   // NaN for DDIM (no likelihood)
	BPDErr    float64   `json:"nll_standard_error"` // over test images
	FD        float64   `json:"frechet_distance"`   // on classifier features
	Precision float64   `json:"precision"`          // k-NN manifolds
	Recall    float64   `json:"recall"`             //
	Grid      []float32 `json:"-"`                  // the first GridImages samples
}

// Term is one term of the NELBO at one K, in bits/dim averaged over the test images,
// for every covariance: the prior (S = T = the last step), a KL term of
// the transition T → S, or the decoder (S = 0, T = 1).
type Term struct {
	S   int                `json:"s"`
	T   int                `json:"t"`
	BPD map[string]float64 `json:"bits_per_dim"` // by covariance
}

// Name describes the term: "prior at 1000", "1 ← 112", "decoder 0 ← 1".
func (t Term) Name() string {
	switch {
	case t.S == t.T:
		return fmt.Sprintf("prior at %d", t.T)
	case t.S == 0:
		return fmt.Sprintf("decoder 0 ← %d", t.T)
	}
	return fmt.Sprintf("%d ← %d", t.S, t.T)
}

// TermSet is the NLL at one K term by term, in the order of the reverse process.
type TermSet struct {
	K     int    `json:"k"`
	Terms []Term `json:"terms"`
}

// Report is the outcome of Evaluate.
type Report struct {
	Manifest *manifest.Manifest `json:"manifest"` // set by the caller before writing
	Rows     []Row              `json:"rows"`
	Terms    []TermSet          `json:"nll_terms"` // the NLL term by term at every K, in the order of Config.Ks
	// NLLImages is the number of test images of the NLL: Config.TestImages, or all
	// the test images when there are fewer.
	NLLImages int `json:"nll_images"`
	// DiagK is the K of Diagnostics: the smallest of the evaluation.
	DiagK              int               `json:"diagnostics_k"`
	Diagnostics        []CovDiag         `json:"covariance_diagnostics"`
	RealFD             float64           `json:"real_frechet_distance"` // FDSamples test images vs the reference: the floor
	RealPrecision      float64           `json:"real_precision"`
	RealRecall         float64           `json:"real_recall"`
	ClassifierAccuracy float64           `json:"classifier_test_accuracy"` // NaN (null): the test images have no labels
	Split              string            `json:"evaluation_split"`         // where the test images come from
	Config             EvalConfig        `json:"config"`
	Model              map[string]string `json:"model"`
	Seconds            float64           `json:"seconds"`
}

// TermsAt returns the NLL at K term by term (nil when K was not evaluated).
func (rep *Report) TermsAt(k int) []Term {
	for _, ts := range rep.Terms {
		if ts.K == k {
			return ts.Terms
		}
	}
	return nil
}

// Evaluate measures every covariance of the model: NLL in bits/dim (ocm-math §6, DDPM
// only) on the first cfg.TestImages test images, and the Fréchet distance and
// precision/recall of cfg.FDSamples samples against cfg.RefImages training images,
// on the features of clf, for DDPM and DDIM (η = 0) at every K.
func Evaluate(dev rt.Device, m *Model, train, test *data.Images, clf *nn.Classifier, cfg EvalConfig, prog Progress) (*Report, error) {
	start := time.Now()
	if m.MsEps == nil {
		return nil, fmt.Errorf("images: evaluate: the model has no fitted heads and Analytic-DPM table; run --fit first")
	}
	c, r := m.Config.InCh, m.Config.Resolution
	if test.C != c || test.H != r || test.W != r || train.C != c || train.H != r || train.W != r {
		return nil, fmt.Errorf("images: evaluate: data are %d×%d×%d, the model takes %d×%d×%d", test.C, test.H, test.W, c, r, r)
	}
	rep := &Report{Config: cfg, Model: m.metadata(), Split: cfg.Split}
	rep.ClassifierAccuracy = math.NaN() // test images without labels (a --classifier given)
	if test.Labels != nil {
		rep.ClassifierAccuracy = featurenet.Accuracy(dev, clf, test, cfg.Batch)
	}
	ref := featurenet.Features(dev, clf, firstImages(train, cfg.RefImages), min(cfg.RefImages, train.N), c, r, r, cfg.Batch)
	realSet := featurenet.Features(dev, clf, firstImages(test, cfg.FDSamples), min(cfg.FDSamples, test.N), c, r, r, cfg.Batch)
	var err error
	if rep.RealFD, err = metrics.FrechetDistance(realSet, ref); err != nil {
		return nil, err
	}
	if rep.RealPrecision, rep.RealRecall, err = metrics.PrecisionRecall(ref[:len(realSet)], realSet, cfg.PRK); err != nil {
		return nil, err
	}
	nll, err := m.nllTable(dev, test, cfg, rep, prog)
	if err != nil {
		return nil, err
	}
	for _, method := range []sampler.Method{sampler.DDPM, sampler.DDIM} {
		for _, cov := range Covariances() {
			if method == sampler.DDIM && cov == ocm.CovLarge {
				continue
			}
			for _, k := range cfg.Ks {
				row, err := m.sampleRow(dev, method, cov, k, ref, clf, cfg, prog)
				if err != nil {
					return nil, err
				}
				row.BPD, row.BPDErr = math.NaN(), math.NaN()
				if method == sampler.DDPM {
					row.BPD, row.BPDErr = nll[nllKey{cov, k}][0], nll[nllKey{cov, k}][1]
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	if cfg.Probes > 0 { // NLL only: sampling with M JVPs per step is left to --sample
		for _, k := range cfg.Ks {
			v := nll[nllKey{ocm.CovOCMProbe, k}]
			rep.Rows = append(rep.Rows, Row{Method: sampler.DDPM.String(), Cov: ocm.CovOCMProbe.String(), K: k,
				BPD: v[0], BPDErr: v[1], FD: math.NaN(), Precision: math.NaN(), Recall: math.NaN()})
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// nllCovariances are the covariances of the NLL table: cfg.Covs, or the model's and
// ocm-probe when cfg asks for it.
func nllCovariances(cfg EvalConfig) []ocm.Covariance {
	if cfg.Covs != nil {
		return cfg.Covs
	}
	covs := Covariances()
	if cfg.Probes > 0 {
		covs = append(covs, ocm.CovOCMProbe)
	}
	return covs
}

type nllKey struct {
	cov ocm.Covariance
	k   int
}

// nllTable returns the mean NLL (bits/dim) and its standard error for every
// covariance and K, sets rep.Terms to the terms at every K and rep.Diagnostics to the
// covariance diagnostics at the smallest K. All covariances share each network
// evaluation, and the terms and diagnostics are read from the NELBO's own values:
// neither costs a network pass.
func (m *Model) nllTable(dev rt.Device, test *data.Images, cfg EvalConfig, rep *Report, prog Progress) (map[nllKey][2]float64, error) {
	n := min(cfg.TestImages, test.N)
	rep.NLLImages = n
	covs := nllCovariances(cfg)
	r := &nllRun{m: m, dev: dev, x: firstImages(test, n), n: n, covs: covs, preds: m.nllPredictors(covs, cfg), cfg: cfg, prog: prog}
	for _, k := range cfg.Ks {
		r.total += k * n
	}
	bits := 1 / (float64(m.imageSize()) * math.Ln2)
	rep.DiagK = slices.Min(cfg.Ks)
	diag := newCovDiagnostics(covs)
	out := map[nllKey][2]float64{}
	for _, k := range cfg.Ks {
		var onCov func(j, sPrev, t int, x0, x0hat, c []float64)
		if k == rep.DiagK {
			onCov = diag.add
		}
		vals, terms, err := r.atK(k, onCov)
		if err != nil {
			return nil, err
		}
		for i, cov := range covs {
			mean, se := meanSE(vals[i])
			out[nllKey{cov, k}] = [2]float64{mean * bits, se * bits}
		}
		rep.Terms = append(rep.Terms, TermSet{K: k, Terms: terms})
	}
	rep.Diagnostics = diag.rows()
	return out, nil
}

// imageSize is the number of values of one image, C·H·W.
func (m *Model) imageSize() int { return m.Config.InCh * m.Config.Resolution * m.Config.Resolution }

// nllRun is the NLL of the first n test images x under every covariance of covs.
type nllRun struct {
	m           *Model
	dev         rt.Device
	x           []float32 // (n, C, H, W) in [−1, 1]
	n           int
	covs        []ocm.Covariance
	preds       []sampler.Denoiser
	cfg         EvalConfig
	prog        Progress
	done, total int // image-steps, for prog
}

// atK returns the NELBO in nats of every covariance (first index) and image at K = k,
// and its terms in bits/dim averaged over the images. onCov, when set, is called with
// the x̂0 and c_t of every term that uses a diagonal c_t (sampler.NELBOOptions.OnCov).
func (r *nllRun) atK(k int, onCov func(j, sPrev, t int, x0, x0hat, c []float64)) ([][]float64, []Term, error) {
	steps, err := sampler.Timesteps(sampler.Even, r.m.Sched.N, k)
	if err != nil {
		return nil, nil, err
	}
	per, c, res := r.m.imageSize(), r.m.Config.InCh, r.m.Config.Resolution
	scale := 1 / (float64(per) * math.Ln2 * float64(r.n)) // nats summed over the images → mean bits/dim
	terms := termTable{}
	vals := make([][]float64, len(r.covs))
	tEnd := steps[len(steps)-1]
	for lo := 0; lo < r.n; lo += r.cfg.Batch {
		b := min(r.cfg.Batch, r.n-lo)
		x0 := rt.FromSlice(r.dev, r.x[lo*per:(lo+b)*per], b, c, res, res)
		key := philox.Key{Seed: r.cfg.Seed, Stream: 11}.Split(uint64(k))
		prior := sampler.PriorKL(r.m.Sched, x0, tEnd)
		for _, cov := range r.covs {
			terms.add(cov.String(), tEnd, tEnd, prior, scale)
		}
		o := sampler.NELBOOptions{ClipX0: true, Discrete: true, Offset: lo, OnCov: onCov,
			OnTerm: func(j, sPrev, t int, term []float64) { terms.add(r.covs[j].String(), sPrev, t, term, scale) }}
		nelbo, err := sampler.NELBOs(r.preds, ocm.Variances(r.covs), r.m.Sched, x0, steps, o, key)
		if err != nil {
			return nil, nil, err
		}
		for i := range r.covs {
			vals[i] = append(vals[i], nelbo[i]...)
		}
		r.done += k * b
		if r.prog != nil {
			r.prog("nll", r.done, r.total, math.NaN())
		}
	}
	return vals, processOrder(terms), nil
}

// termTable gathers the NLL's terms by transition (s, t).
type termTable map[[2]int]Term

// add adds scale·Σ vals to the term s ← t of covariance cov.
func (tt termTable) add(cov string, s, t int, vals []float64, scale float64) {
	tm, ok := tt[[2]int{s, t}]
	if !ok {
		tm = Term{S: s, T: t, BPD: map[string]float64{}}
		tt[[2]int{s, t}] = tm
	}
	for _, v := range vals {
		tm.BPD[cov] += v * scale
	}
}

// nllPredictors are the denoisers of covs, with ocm-probe's probes and seed.
func (m *Model) nllPredictors(covs []ocm.Covariance, cfg EvalConfig) []sampler.Denoiser {
	preds := make([]sampler.Denoiser, len(covs))
	for i, cov := range covs {
		p := m.Predictor(cov)
		p.Probes, p.Seed = cfg.Probes, cfg.Seed
		preds[i] = p
	}
	return preds
}

// processOrder lists the NLL terms in the order of the reverse process: the prior,
// then the transitions from the last step down to the decoder.
func processOrder(terms termTable) []Term {
	order := func(t Term) int {
		if t.S == t.T {
			return math.MaxInt
		}
		return t.T
	}
	return slices.SortedFunc(maps.Values(terms), func(a, b Term) int { return cmp.Compare(order(b), order(a)) })
}

// sampleRow draws cfg.FDSamples images and scores them against the reference.
func (m *Model) sampleRow(dev rt.Device, method sampler.Method, cov ocm.Covariance, k int, ref [][]float64, clf *nn.Classifier, cfg EvalConfig, prog Progress) (Row, error) {
	sc := SampleConfig{Sampling: ocm.Sampling{Method: method, K: k, Spacing: sampler.Even, Cov: cov}, N: cfg.FDSamples, Batch: cfg.Batch, Seed: cfg.Seed + uint64(k)}
	sc.ClipSigmaIdx, sc.ClipPixel = PaperClipping(method)
	task := fmt.Sprintf("sample %v %v K=%d", method, cov, k)
	x, err := Sample(dev, m, sc, func(_ string, done, total int, _ float64) {
		if prog != nil {
			prog(task, done, total, math.NaN())
		}
	})
	if err != nil {
		return Row{}, err
	}
	c, r := m.Config.InCh, m.Config.Resolution
	feats := featurenet.Features(dev, clf, x.Pixels, cfg.FDSamples, c, r, r, cfg.Batch)
	row := Row{Method: method.String(), Cov: cov.String(), K: k}
	if row.FD, err = metrics.FrechetDistance(feats, ref); err != nil {
		return Row{}, err
	}
	if row.Precision, row.Recall, err = metrics.PrecisionRecall(ref[:len(feats)], feats, cfg.PRK); err != nil {
		return Row{}, err
	}
	g := min(cfg.GridImages, cfg.FDSamples)
	row.Grid = x.Pixels[:g*c*r*r]
	return row, nil
}

// firstImages returns the first n images of ds (all when it has fewer) in [−1, 1].
func firstImages(ds *data.Images, n int) []float32 { return ds.Scaled(0, min(n, ds.N)) }

func meanSE(v []float64) (mean, se float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	if len(v) < 2 {
		return mean, math.NaN()
	}
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(v)-1) / float64(len(v)))
}
