// Package nn holds the layers and models of ocm, written once against autodiff values
// so that the same code serves training (reverse mode), the OCM probe (forward mode)
// and sampling (no derivatives).
//
// Shape legend used in comments: N batch, C channels, H/W spatial, D data dimension,
// E embedding width, F hidden features.
//
// It uses runtime, autodiff and runtime/philox; it must not import ocm or sampler.
package nn
