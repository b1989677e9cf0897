package images

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"

	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/manifest"
	"ocm/sampler"
	"ocm/sampler/imagefile"
)

// SampleRecord is samples.json of a sampling run of m (the schema toy samples share),
// also written into the PNGs' text chunks. model names the bundle (a path, or
// "embedded NAME") and sha its SHA-256.
func SampleRecord(m *Model, cfg SampleConfig, model, sha string, mf *manifest.Manifest) *manifest.Samples {
	idx, pix := cfg.ClipSigmaIdx, cfg.ClipPixel
	rec := &manifest.Samples{Manifest: mf, Model: model, ModelSHA256: sha, Dataset: m.Dataset,
		Weights: "EMA (exponential moving average) of the training weights",
		Sampler: cfg.Method.String(), Steps: cfg.K, TimestepSpacing: cfg.Spacing.String(),
		VarianceType: cfg.Cov.String(), ClipX0: true, ClipSigmaIdx: &idx, ClipPixel: &pix,
		NumSamples: cfg.N, Seed: cfg.Seed, BetaSchedule: m.Sched.Kind.String(),
		NumTrainTimesteps: m.Sched.N}
	rec.SetTraining(m.Meta)
	if cfg.Method == sampler.DDIM {
		eta := cfg.Eta
		rec.Eta = &eta
	}
	if cfg.Cov == ocm.CovOCMProbe {
		rec.Probes = cmp.Or(cfg.Probes, ocm.DefaultProbes)
	}
	return rec
}

// Exports chooses the files WriteSamples adds to the grid and the record.
type Exports struct {
	Each bool // one PNG per image, samples_NNNN.png
	NPZ  bool // samples.npz: uint8 NHWC under key arr_0, as FID tools read it
}

// WriteSamples writes samples.png (a grid with rec in its text chunks), samples.json
// (rec, with the files added) and the exports asked for to dir, each atomically, and
// returns what it wrote (the PNGs of Each as one entry).
func WriteSamples(dir string, s *Samples, rec *manifest.Samples, ex Exports) ([]string, error) {
	cols := int(math.Ceil(math.Sqrt(float64(s.N))))
	grid := filepath.Join(dir, "samples.png")
	text := rec.TextChunks()
	if err := imagefile.WriteGrid(grid, s.Pixels, s.N, s.C, s.H, s.W, cols, 2, text); err != nil {
		return nil, err
	}
	files := []string{grid}
	if ex.Each {
		each, err := imagefile.WriteEach(dir, "samples_", s.Pixels, s.N, s.C, s.H, s.W, text)
		if err != nil {
			return nil, err
		}
		files = append(files, fmt.Sprintf("%s … (%d PNGs)", each[0], len(each)))
	}
	if ex.NPZ {
		p := filepath.Join(dir, "samples.npz")
		if err := imagefile.WriteNPZ(p, s.Pixels, s.N, s.C, s.H, s.W); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	js := filepath.Join(dir, "samples.json")
	rec.Files = append(append([]string(nil), files...), js)
	if err := writeJSON(js, rec, "  "); err != nil {
		return nil, fmt.Errorf("writing %s: %w", js, err)
	}
	return append(files, js), nil
}

// writeJSON writes v as JSON indented by indent to path atomically, with a final
// newline.
func writeJSON(path string, v any, indent string) error {
	b, err := json.MarshalIndent(v, "", indent)
	if err != nil {
		return err
	}
	return safetensors.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}
