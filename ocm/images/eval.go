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

// Term is one term of the NELBO at the smallest K, in bits/dim averaged over the
// test images, for every covariance: the prior (S = T = the last step), a KL term of
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

// Report is the outcome of Evaluate.
type Report struct {
	Manifest           *manifest.Manifest `json:"manifest"` // set by the caller before writing
	Rows               []Row              `json:"rows"`
	TermsK             int                `json:"nll_terms_k"`           // the K of Terms
	Terms              []Term             `json:"nll_terms"`             // the NLL at TermsK term by term
	RealFD             float64            `json:"real_frechet_distance"` // FDSamples test images vs the reference: the floor
	RealPrecision      float64            `json:"real_precision"`
	RealRecall         float64            `json:"real_recall"`
	ClassifierAccuracy float64            `json:"classifier_test_accuracy"`
	Split              string             `json:"evaluation_split"` // where the test images come from
	Config             EvalConfig         `json:"config"`
	Model              map[string]string  `json:"model"`
	Seconds            float64            `json:"seconds"`
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
	rep.ClassifierAccuracy = featurenet.Accuracy(dev, clf, test, cfg.Batch)
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

// nllCovariances are the covariances of the NLL table: the model's, and ocm-probe
// when cfg asks for it.
func nllCovariances(cfg EvalConfig) []ocm.Covariance {
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
// covariance and K, and sets rep.Terms to the terms at the smallest K; all
// covariances share each network evaluation.
func (m *Model) nllTable(dev rt.Device, test *data.Images, cfg EvalConfig, rep *Report, prog Progress) (map[nllKey][2]float64, error) {
	n := min(cfg.TestImages, test.N)
	covs := nllCovariances(cfg)
	x := firstImages(test, n)
	per := m.Config.InCh * m.Config.Resolution * m.Config.Resolution
	preds := m.nllPredictors(covs, cfg)
	out := map[nllKey][2]float64{}
	total, done := 0, 0
	for _, k := range cfg.Ks {
		total += k * n
	}
	scale := 1 / (float64(per) * math.Ln2 * float64(n)) // nats summed over the images → mean bits/dim
	rep.TermsK = slices.Min(cfg.Ks)
	for _, k := range cfg.Ks {
		steps, err := sampler.Timesteps(sampler.Even, m.Sched.N, k)
		if err != nil {
			return nil, err
		}
		var terms map[[2]int]Term // by (s, t)
		if k == rep.TermsK {
			terms = map[[2]int]Term{}
		}
		addTerm := func(cov string, st [2]int, vals []float64) {
			tm, ok := terms[st]
			if !ok {
				tm = Term{S: st[0], T: st[1], BPD: map[string]float64{}}
				terms[st] = tm
			}
			for _, v := range vals {
				tm.BPD[cov] += v * scale
			}
		}
		vals := make([][]float64, len(covs))
		for lo := 0; lo < n; lo += cfg.Batch {
			b := min(cfg.Batch, n-lo)
			x0 := rt.FromSlice(dev, x[lo*per:(lo+b)*per], b, m.Config.InCh, m.Config.Resolution, m.Config.Resolution)
			key := philox.Key{Seed: cfg.Seed, Stream: 11}.Split(uint64(k))
			o := sampler.NELBOOptions{ClipX0: true, Discrete: true, Offset: lo}
			if terms != nil {
				tEnd := steps[len(steps)-1]
				prior := sampler.PriorKL(m.Sched, x0, tEnd)
				for _, cov := range covs {
					addTerm(cov.String(), [2]int{tEnd, tEnd}, prior)
				}
				o.OnTerm = func(j, sPrev, t int, term []float64) { addTerm(covs[j].String(), [2]int{sPrev, t}, term) }
			}
			nelbo, err := sampler.NELBOs(preds, ocm.Variances(covs), m.Sched, x0, steps, o, key)
			if err != nil {
				return nil, err
			}
			for i := range covs {
				vals[i] = append(vals[i], nelbo[i]...)
			}
			done += k * b
			if prog != nil {
				prog("nll", done, total, math.NaN())
			}
		}
		for i, cov := range covs {
			mean, se := meanSE(vals[i])
			bits := 1 / (float64(per) * math.Ln2)
			out[nllKey{cov, k}] = [2]float64{mean * bits, se * bits}
		}
		if terms != nil {
			rep.Terms = processOrder(terms)
		}
	}
	return out, nil
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
func processOrder(terms map[[2]int]Term) []Term {
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
