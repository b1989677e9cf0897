package images

import (
	"cmp"
	"fmt"

	"ocm/ocm"
	"ocm/ocm/data"
)

// DescribeBundle is a one-line summary of an image bundle's metadata md, with its
// number of stored values.
func DescribeBundle(md map[string]string, values int) string {
	return fmt.Sprintf("image model (%s, %s images): UNet %s, %d values; %s schedule, N=%s; trained %s steps "+
		"(batch %s), %s heads ocm/sn/npr %s steps each", md["dataset"], md["image_shape"], md["unet_config"], values,
		md["schedule"], md["diffusion_steps"], md["train.backbone_steps"], md["train.batch"],
		cmp.Or(md["head"], string(HeadSimple)), md["train.head_steps"])
}

// CheckData returns an error when the images of ds, named spec, are not the shape
// the model takes. name names the model.
func (m *Model) CheckData(spec string, ds *data.Images, name string) error {
	r := m.Config.Resolution
	if ds.C != m.Config.InCh || ds.H != r || ds.W != r {
		return fmt.Errorf("--data %s has %d×%d×%d images but the model in %s takes %d×%d×%d", spec,
			ds.C, ds.H, ds.W, name, m.Config.InCh, r, r)
	}
	return nil
}

// CheckBudget returns an error when the data set of n images, named spec, is too
// small for the batch of st, or (with fit) for one batch of the Analytic-DPM table.
func CheckBudget(st Settings, spec string, n int, fit bool) error {
	if st.Batch > n {
		return fmt.Errorf("--batch %d is larger than the %d images of --data %s", st.Batch, n, spec)
	}
	if b := st.fitConfig(0).Batch; fit && b > n {
		return fmt.Errorf("the fit's batch %d (--fit-preset %s, or --batch) is larger than the %d images of --data %s", b, st.Fit.Preset, n, spec)
	}
	per := ocm.MsEpsStepsPerBatch * st.MsEpsPerStep
	if fit && per > n {
		return fmt.Errorf("--data %s has %d images; the Analytic-DPM table draws %d·ms_eps_per_step = %d at a time: give a --config with ms_eps_per_step at most %d",
			spec, n, ocm.MsEpsStepsPerBatch, per, n/ocm.MsEpsStepsPerBatch)
	}
	return nil
}
