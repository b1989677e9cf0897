// Package ocm is the method of Optimal Covariance Matching (OCM): Gaussian
// mixtures with exact scores, Hessians and posterior moments; the teachers that
// give ε̂, features and J_ε·v (a frozen network or an exact mixture); the
// covariance heads and their fitting (OCM, SN, NPR); the covariance estimators
// (Predictor) and Analytic-DPM's table; denoising training; checkpoints and the
// run Control (cadence, resumption, early stop).
//
// OCM is the method of Ou, Zhang, Zhang, Xiao, Li and Barber, "Improving
// Probabilistic Diffusion Models With Optimal Diagonal Covariance Matching",
// ICLR 2025 (arXiv 2406.10808). The schedules, step sequences and reverse
// processes it builds on live in package sampler, below it.
//
// Shape legend (shared with package nn): N batch, C channels, H/W spatial,
// D data dimension, T diffusion steps, K sampling steps. In this package a point
// is a []float64 of length D and a D×D matrix is a []float64 of length D*D in
// row-major order. Mixture quantities are float64: schedule ratios such as
// B[T]/A[T] reach 4e8 for the cosine schedule and lose all precision in float32.
package ocm
