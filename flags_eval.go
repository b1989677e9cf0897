package main

import (
	"flag"

	"ocm/ocm"
)

// evalFlags adds the flags of the evaluation split and of the head-free covariance.
func evalFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.evalData, "eval-data", "", "images: data set `spec` --eval scores on, as --data (default: its test split, or the last 1/6 of its files, which training then skips)")
	fs.IntVar(&o.probes, "probes", ocm.DefaultProbes, "Rademacher probes per denoiser call of --variance-type ocm-probe; given with --eval on images, adds the ocm-probe NLL row")
}
