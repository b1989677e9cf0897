// Package ocm holds the float64 math core of the Optimal Covariance Matching
// (OCM) reimplementation: the discrete diffusion schedules, the reverse-step
// coefficients, the sampling timestep sequences and Gaussian mixtures with
// exact scores, Hessians and posterior moments.
//
// OCM is the method of Ou, Zhang, Zhang, Xiao, Li and Barber, "Improving
// Probabilistic Diffusion Models With Optimal Diagonal Covariance Matching",
// ICLR 2025 (arXiv 2406.10808). The formulas follow shared/docs/ocm-math.md:
// §1 (forward process and schedules), §4 (reverse-step means and variances),
// §5 (timestep sub-sequences) and §7 (the Gaussian-mixture toy problem).
//
// Shape legend (shared with package nn): N batch, C channels, H/W spatial,
// D data dimension, T diffusion steps, K sampling steps. ocm-math writes
// the number of diffusion steps as N, and so does Schedule.N; it is T of the
// legend. In this package a point is a []float64 of length D and a D×D
// matrix is a []float64 of length D*D in row-major order.
//
// Everything here is float64: schedule quantities such as B[T]/A[T] reach
// 4e8 for the cosine schedule and lose all precision in float32
// (ocm-math §9.5). The package uses only the standard library.
package ocm
