package main

import (
	"flag"

	"ocm/ocm"
	"ocm/ocm/bench"
)

// modeFlags adds the modes and the flags of --bench.
func modeFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.train, "train", false, "train the score network (backbone) with the denoising loss")
	fs.BoolVar(&o.fit, "fit", false, "fit the covariance heads (OCM, SN, NPR) and the Analytic-DPM table on the frozen backbone")
	fs.BoolVar(&o.sample, "sample", false, "draw samples and write them to --out")
	fs.BoolVar(&o.eval, "eval", false, "measure every covariance estimator and sampler; write a report folder to --out")
	fs.BoolVar(&o.list, "list", false, "list the embedded models")
	fs.BoolVar(&o.doctor, "doctor", false, "report the machine as ocm sees it (CPU features, GPU, CUDA libraries) and self-test each device")
	fs.BoolVar(&o.showVersion, "version", false, "print the version")
	fs.BoolVar(&o.bench, "bench", false, "time SGEMM, the toy-mlp and the UNets side by side with the PyTorch CPU peer; write bench.json and bench.txt to --out")
	bench.AddFlags(fs, &o.benchCfg)
}

// evalFlags adds the flags of the evaluation split and of the head-free covariance.
func evalFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.evalData, "eval-data", "", "images: data set `spec` --eval scores on, as --data (default: its test split, or the last 1/6 of its files, which training then skips)")
	fs.IntVar(&o.probes, "probes", ocm.DefaultProbes, "Rademacher probes per denoiser call of --variance-type ocm-probe; given with --eval on images, adds the ocm-probe NLL row")
}
