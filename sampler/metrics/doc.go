// Package metrics measures how close a set of generated samples is to a
// reference set, for the sampler reports.
//
// MMD2 is the unbiased estimate of the squared maximum mean discrepancy with
// a Gaussian (RBF) kernel, Gretton, Borgwardt, Rasch, Schölkopf and Smola,
// "A Kernel Two-Sample Test", JMLR 13 (2012), Lemma 6 / eq. (3):
//
//	MMD²_u = 1/(n(n-1)) Σ_{i≠j} k(x_i, x_j)
//	       + 1/(m(m-1)) Σ_{i≠j} k(y_i, y_j)
//	       - 2/(nm)     Σ_{i,j} k(x_i, y_j),      k(a, b) = exp(-|a-b|² / (2 l²)).
//
// It is unbiased, so it can be negative when both samples come from the
// same distribution. MedianBandwidth gives the usual median-heuristic l.
//
// FrechetDistance is ‖μa−μb‖² + tr(Σa + Σb − 2(Σa^½ Σb Σa^½)^½) of two sets of
// feature vectors (the FID formula, on whatever features the caller supplies), in
// float64 with a symmetric Jacobi eigensolver. PrecisionRecall is the k-NN manifold
// precision and recall of Kynkäänniemi et al., "Improved Precision and Recall Metric
// for Assessing Generative Models", NeurIPS 2019. Correlation streams pairs for their
// Pearson correlation and ratio of means (the NLL's covariance diagnostics).
//
// Samples are [][]float64 with one row per point (N×D). For MMD2, inputs that
// cannot be measured (ragged rows, fewer than two points, a non-positive
// bandwidth) are programmer errors and panic with a "metrics: ..." message;
// FrechetDistance and PrecisionRecall return errors instead.
// Sums are accumulated per row and then added in row order, so results do
// not depend on the number of goroutines.
//
// Package metrics imports only the standard library.
package metrics
