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
	"ocm/sampler/imagefile"
)

// SampleRecord is every setting of a sampling run of m, for the JSON sidecar and the
// PNG's text chunks. model names the bundle (a path, or "embedded NAME").
func SampleRecord(m *Model, cfg SampleConfig, model, weightsSHA, version string) map[string]string {
	rec := map[string]string{
		"Software": "ocm " + version, "ocm.model": model, "ocm.dataset": m.Dataset,
		"ocm.weights_sha256": weightsSHA, "ocm.weights": "EMA (exponential moving average) of the training weights",
		"ocm.sampler": cfg.Method.String(), "ocm.eta": fmt.Sprint(cfg.Eta), "ocm.steps": fmt.Sprint(cfg.K),
		"ocm.timestep_spacing": cfg.Spacing.String(), "ocm.variance_type": cfg.Cov.String(),
		"ocm.clip_x0": "true", "ocm.clip_sigma_idx": fmt.Sprint(cfg.ClipSigmaIdx),
		"ocm.clip_pixel": fmt.Sprint(cfg.ClipPixel), "ocm.seed": fmt.Sprint(cfg.Seed),
		"ocm.num_samples": fmt.Sprint(cfg.N), "ocm.schedule": m.Sched.Kind.String(),
		"ocm.diffusion_steps": fmt.Sprint(m.Sched.N),
	}
	if cfg.Cov == ocm.CovOCMProbe {
		rec["ocm.probes"] = fmt.Sprint(cmp.Or(cfg.Probes, ocm.DefaultProbes))
	}
	return rec
}

// Exports chooses the files WriteSamples adds to the grid and the record.
type Exports struct {
	Each bool // one PNG per image, samples_NNNN.png
	NPZ  bool // samples.npz: uint8 NHWC under key arr_0, as FID tools read it
}

// WriteSamples writes samples.png (a grid with rec in its text chunks), samples.json
// (rec) and the exports asked for to dir, each atomically, and returns what it wrote
// (the PNGs of Each as one entry).
func WriteSamples(dir string, s *Samples, rec map[string]string, ex Exports) ([]string, error) {
	cols := int(math.Ceil(math.Sqrt(float64(s.N))))
	grid := filepath.Join(dir, "samples.png")
	if err := imagefile.WriteGrid(grid, s.Pixels, s.N, s.C, s.H, s.W, cols, 2, rec); err != nil {
		return nil, err
	}
	files := []string{grid}
	if ex.Each {
		each, err := imagefile.WriteEach(dir, "samples_", s.Pixels, s.N, s.C, s.H, s.W, rec)
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
