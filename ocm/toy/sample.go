package toy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"time"

	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/manifest"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
	"ocm/sampler/plot"
)

// SampleConfig is one sampling run.
type SampleConfig struct {
	ocm.Sampling
	ExactScore bool // use the exact score (and the heads fitted on it)
	ClipX0     bool
	N          int
	Seed       uint64
}

// Sample draws cfg.N points with the model.
func Sample(dev rt.Device, m *Model, cfg SampleConfig) ([][]float64, error) {
	steps, err := sampler.Timesteps(cfg.Spacing, m.Sched.N, cfg.K)
	if err != nil {
		return nil, err
	}
	key := philox.Key{Seed: cfg.Seed, Stream: 7}
	opts := &sampler.Options{Method: cfg.Method, Eta: cfg.Eta, Steps: steps, Variance: cfg.Cov.Variance(),
		ClipX0: cfg.ClipX0, Key: key.Split(1)}
	x := rt.Random(dev, rt.Normal, key.Split(0), 0, cfg.N, m.Mix.Dim)
	pred := m.Predictor(cfg.Cov, cfg.ExactScore)
	pred.Probes, pred.Seed = cfg.Probes, cfg.Seed
	out, err := sampler.Sample(pred, m.Sched, x, opts, nil)
	if err != nil {
		return nil, err
	}
	return rows(out.Data(), m.Mix.Dim), nil
}

func rows(v []float32, d int) [][]float64 {
	out := make([][]float64, len(v)/d)
	for i := range out {
		out[i] = make([]float64, d)
		for a := range d {
			out[i][a] = float64(v[i*d+a])
		}
	}
	return out
}

// SampleRecord is samples.json of a sampling run of m (the schema image samples
// share); model names the bundle (a path, or "embedded NAME") and sha its SHA-256.
func SampleRecord(m *Model, cfg SampleConfig, model, sha string, mf *manifest.Manifest) *manifest.Samples {
	rec := &manifest.Samples{Manifest: mf, Model: model, ModelSHA256: sha, Dataset: m.Dataset,
		Sampler: cfg.Method.String(), Steps: cfg.K, TimestepSpacing: cfg.Spacing.String(),
		VarianceType: cfg.Cov.String(), ExactScore: cfg.ExactScore, ClipX0: cfg.ClipX0, NumSamples: cfg.N,
		Seed: cfg.Seed, BetaSchedule: m.Sched.Kind.String(), NumTrainTimesteps: m.Sched.N}
	rec.SetTraining(m.Meta)
	if cfg.Method == sampler.DDIM {
		eta := cfg.Eta
		rec.Eta = &eta
	}
	return rec
}

// WriteSamples writes samples.csv, samples.svg (a scatter over data drawn from the
// mixture, for 2-D data) and samples.json (rec, with the files added) to dir, each
// atomically, and returns the paths written.
func WriteSamples(dir string, m *Model, cfg SampleConfig, pts [][]float64, rec *manifest.Samples) ([]string, error) {
	var paths []string
	write := func(name string, f func(w io.Writer) error) error {
		p := filepath.Join(dir, name)
		paths = append(paths, p)
		if err := safetensors.WriteFileAtomic(p, f); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		return nil
	}
	if err := write("samples.csv", func(w io.Writer) error { return writeCSV(w, pts) }); err != nil {
		return nil, err
	}
	if m.Mix.Dim == 2 {
		ref := m.Mix.Sample(rand.New(rand.NewPCG(cfg.Seed, 99)), len(pts))
		sc := &plot.Scatter{Title: fmt.Sprintf("%s: %v, %v covariance, %d steps (grey: data)", m.Dataset, cfg.Method, cfg.Cov, cfg.K),
			Points: pts, Reference: ref}
		if err := write("samples.svg", sc.WriteSVG); err != nil {
			return nil, err
		}
	}
	rec.Files = append([]string(nil), paths...)
	js, err := json.MarshalIndent(rec, "", " ")
	if err != nil {
		return nil, err
	}
	if err := write("samples.json", func(w io.Writer) error { _, err := w.Write(append(js, '\n')); return err }); err != nil {
		return nil, err
	}
	return paths, nil
}

func writeCSV(w io.Writer, pts [][]float64) error {
	var b bytes.Buffer
	for i, p := range pts {
		if i == 0 {
			for a := range p {
				if a > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "x%d", a)
			}
			b.WriteByte('\n')
		}
		for a, v := range p {
			if a > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(v, 'g', 8, 64))
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// timedSample is Sample with its wall time in seconds.
func timedSample(dev rt.Device, m *Model, cfg SampleConfig) ([][]float64, float64, error) {
	start := time.Now()
	pts, err := Sample(dev, m, cfg)
	return pts, time.Since(start).Seconds(), err
}
