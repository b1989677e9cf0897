// Package toy runs OCM end to end on Gaussian mixtures, where every quantity has an
// exact answer: it trains the toy score network, fits the covariance heads on the
// learned and on the exact score, stores them in one safetensors bundle, and measures
// every estimator against the mixture's exact posterior covariance and every sampler
// by MMD (the study of Figure 3 of Ou et al., ICLR 2025, and the 40-component study of
// the authors' review discussion).
//
// It uses ocm, sampler, nn and runtime; main uses it.
package toy
