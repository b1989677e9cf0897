// Package sampler implements the reverse processes of DDPM (Ho et al. 2020) and
// DDIM (Song et al. 2021) with a pluggable covariance — the fixed small and large
// variances, or the optimal variance built from an estimate of diag Cov[x0|x_t] such
// as the OCM head of Ou et al. (ICLR 2025) — and the likelihood bound (ELBO) of the
// DDPM family. Formulas and index conventions: shared/docs/ocm-math.md §4–§6.
//
// It uses ocm (schedules, the Denoiser interface) and runtime; sample metrics live in
// sampler/metrics and figures in sampler/plot.
package sampler
