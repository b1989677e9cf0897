package images

import (
	"testing"

	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// The cost of one sampling step (one denoiser call on a batch) with the fitted OCM
// head against the head-free ocm-probe (DefaultProbes JVPs):
//
//	go test ./ocm/images -run XXX -bench PredictStep -benchtime 2x
func BenchmarkPredictStep(b *testing.B) {
	m, _ := benchModel(b, HeadSimple)
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 1}, 0, 16, 1, 28, 28)
	for _, cov := range []ocm.Covariance{ocm.CovOCM, ocm.CovOCMProbe} {
		b.Run(cov.String(), func(b *testing.B) {
			p := m.Predictor(cov)
			for range b.N {
				pr, err := p.Predict(rt.Scale(x, 1), 500) // a new x_t: no cached pass
				if err != nil {
					b.Fatal(err)
				}
				pr.CovDiag.Data()
			}
		})
	}
}
