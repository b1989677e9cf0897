package images

import (
	"fmt"
	"math"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// SampleConfig is one sampling run of an image model.
type SampleConfig struct {
	ocm.Sampling
	N     int    // images
	Batch int    // images per network call (0: all at once); the result does not depend on it
	Seed  uint64 // the noise
	// ClipSigmaIdx and ClipPixel cap the variance of the last noisy transitions
	// (ocm-math §4.5); ClipX0 is always on for images.
	ClipSigmaIdx int
	ClipPixel    float64
}

// PaperClipping returns the clipping of ocm-math Appendix A: clip_sigma_idx 1 with
// clip_pixel 2 for DDPM and 1 for DDIM.
func PaperClipping(method sampler.Method) (idx int, pixels float64) {
	if method == sampler.DDIM {
		return 1, 1
	}
	return 1, 2
}

// Samples are images on the host: Pixels in NCHW order, values in [−1, 1].
type Samples struct {
	Pixels     []float32
	N, C, H, W int
}

// Sample draws cfg.N images in [−1, 1], each batch copied to the host once. prog,
// when not nil, hears of every finished transition.
func Sample(dev rt.Device, m *Model, cfg SampleConfig, prog Progress) (*Samples, error) {
	steps, err := sampler.Timesteps(cfg.Spacing, m.Sched.N, cfg.K)
	if err != nil {
		return nil, err
	}
	if cfg.N < 1 {
		return nil, fmt.Errorf("images: sample: need at least one image, got %d", cfg.N)
	}
	batch := cfg.Batch
	if batch <= 0 || batch > cfg.N {
		batch = cfg.N
	}
	c, r := m.Config.InCh, m.Config.Resolution
	key := philox.Key{Seed: cfg.Seed, Stream: 7}
	pred := m.Predictor(cfg.Cov)
	pred.Probes, pred.Seed = cfg.Probes, cfg.Seed
	out := make([]float32, 0, cfg.N*c*r*r)
	done, total := 0, cfg.N*len(steps)
	for lo := 0; lo < cfg.N; lo += batch {
		n := min(batch, cfg.N-lo)
		opts := &sampler.Options{Method: cfg.Method, Eta: cfg.Eta, Steps: steps, Variance: cfg.Cov.Variance(), ClipX0: true,
			ClipSigmaIdx: cfg.ClipSigmaIdx, ClipPixel: cfg.ClipPixel, Key: key.Split(1), Offset: lo}
		x := rt.Random(dev, rt.Normal, key.Split(0), uint64(lo*c*r*r), n, c, r, r)
		x, err := sampler.Sample(pred, m.Sched, x, opts, func(sampler.Step) {
			done += n
			if prog != nil {
				prog("sample", done, total, math.NaN())
			}
		})
		if err != nil {
			return nil, err
		}
		out = append(out, rt.Clamp(x, -1, 1).Data()...)
	}
	return &Samples{Pixels: out, N: cfg.N, C: c, H: r, W: r}, nil
}
