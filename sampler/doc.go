// Package sampler implements the discrete diffusion schedules, the sampling
// timestep sequences, the reverse processes of DDPM (Ho et al. 2020) and DDIM
// (Song et al. 2021) with a pluggable variance — the fixed small and large
// variances, or the optimal variance built from an estimate of diag Cov[x0|x_t]
// that a Denoiser supplies — and the likelihood bound (ELBO) of the DDPM family.
// Formulas and index conventions: docs/method.md.
//
// It imports only runtime and runtime/philox: which estimator supplies c_t (an
// OCM head, a mixture's exact posterior) is the business of the packages above it.
// Sample metrics live in sampler/metrics and figures in sampler/plot.
//
// Schedule quantities are float64: B[T]/A[T] reaches 4e8 for the cosine schedule
// and loses all precision in float32.
package sampler
