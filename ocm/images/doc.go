// Package images trains, fits and evaluates OCM on image data sets: a UNet backbone
// trained with the denoising loss, convolutional covariance heads (OCM, SN, NPR) fitted
// on the frozen backbone, the Analytic-DPM table, and the bundle file that holds them.
package images
