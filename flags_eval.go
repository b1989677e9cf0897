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
	fs.IntVar(&o.probes, "probes", ocm.DefaultProbes, "Rademacher probes per denoiser call of --variance-type ocm-probe; given with --eval on images, adds the ocm-probe NLL row; with --fit on images, probes per example of the OCM head's target (default 1 there)")
}

// fitFlags adds the flags of how --fit fits the heads of an image model.
func fitFlags(fs *flag.FlagSet, o *options) {
	fs.Var(&o.fitc.Preset, "fit-preset", "head-fitting `preset` of --fit on images: ocm (the --batch/--lr/--config budget, cosine lr decay, EMA with warm-up, backbone in eval mode) or official (the reference code's: batch 128, constant lr 1e-4, EMA 0.9999 without warm-up, backbone in train mode); --batch, --lr and --fit-backbone given override it")
	fs.Var(&o.fitc.Backbone, "fit-backbone", "`mode` of the frozen backbone while --fit fits heads on images: eval, or train (dropout at the UNet configuration's rate; the embedded Fashion-MNIST UNet has none, so there train fits as eval does); default: the preset's")
	fs.IntVar(&o.fitc.CurveImages, "curve-images", 32, "test images of the learning curve of --fit on images: the K=10 NLL of every head at step 0, every --curve-every steps and at the end, in the bundle and in fit-curve.json/.svg in --out (0: none)")
	fs.IntVar(&o.fitc.CurveEvery, "curve-every", 0, "steps between the learning curve's points in --fit on images (0: at every --checkpoint-every)")
}
