package images

import (
	"math"
	"path/filepath"
	"testing"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// smallDDPMCheckpoint is the pytorch_diffusion-family checkpoint of nn's goldens:
// every convention a bundle must record (shifted embedding, bottom-right padded
// downsampling, an additive complex head, time input n − 1).
func smallDDPMCheckpoint(t *testing.T, dev rt.Device) *nn.Checkpoint {
	t.Helper()
	p := &nn.Published{Name: "test-ddpm", Schedule: "linear", N: 1000, TimeShift: 1, Arch: nn.Arch{Family: nn.FamilyDDPM,
		EmbedShift: 1, PadDownRightBottom: true, Head: nn.HeadArch{Mode: "complex", NormEps: nn.UNetEps},
		Config: nn.UNetConfig{InCh: 3, Ch: 32, Mult: []int{1, 1}, NumRes: 1, AttnRes: []int{4}, Resolution: 8,
			TembIn: 32, Variant: nn.VariantDDPM}}}
	ck, err := nn.Load(dev, "../../nn/testdata/ckpt_ddpm_small/model.pt", p)
	if err != nil {
		t.Fatal(err)
	}
	return ck
}

// nelbos is the NELBO at K = 10 of x0 under m with the small variance and with the
// OCM head's covariance.
func nelbos(t *testing.T, m *Model, x0 *rt.Tensor) [][]float64 {
	t.Helper()
	steps, err := sampler.Timesteps(sampler.Even, m.Sched.N, 10)
	if err != nil {
		t.Fatal(err)
	}
	covs := []ocm.Covariance{ocm.CovSmall, ocm.CovOCM}
	ds := []sampler.Denoiser{m.Predictor(covs[0]), m.Predictor(covs[1])}
	v, err := sampler.NELBOs(ds, ocm.Variances(covs), m.Sched, x0, steps,
		sampler.NELBOOptions{ClipX0: true, Discrete: true}, philox.Key{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCheckpointBundleRoundTrip: a bundle made from a converted checkpoint gives the
// same NLL at K = 10 as the checkpoint itself, for the small variance and for the
// checkpoint's own OCM head; it keeps the time convention.
func TestCheckpointBundleRoundTrip(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m, err := FromCheckpoint(dev, smallDDPMCheckpoint(t, dev), "test")
	if err != nil {
		t.Fatal(err)
	}
	if m.Sched.TimeShift != 1 || m.HeadMode != HeadComplex {
		t.Fatalf("time shift %d, head %s; want 1 and complex", m.Sched.TimeShift, m.HeadMode)
	}
	u := rt.Random(dev, rt.Uniform, philox.Key{Seed: 9}, 0, 3, 3, 8, 8).Data()
	for i, v := range u { // on the 256-level grid of 8-bit images
		u[i] = float32(2*math.Floor(float64(v)*255.999)/255 - 1)
	}
	x0 := rt.FromSlice(dev, u, 3, 3, 8, 8)
	want := nelbos(t, m, x0)
	path := filepath.Join(t.TempDir(), "converted.safetensors")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(dev, path, f)
	if err != nil {
		t.Fatal(err)
	}
	if back.Sched.TimeShift != 1 {
		t.Errorf("the bundle lost the time shift: %d", back.Sched.TimeShift)
	}
	got := nelbos(t, back, x0)
	for j := range want {
		for i := range want[j] {
			if got[j][i] != want[j][i] {
				t.Errorf("covariance %d, image %d: NELBO %v from the bundle, %v from the checkpoint", j, i, got[j][i], want[j][i])
			}
		}
	}
	if want[0][0] == want[1][0] {
		t.Errorf("the head changed nothing: %v", want[0][0])
	}
}
