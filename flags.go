package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"ocm/nn"
	"ocm/ocm"
	"ocm/ocm/bench"
	"ocm/ocm/cli"
	"ocm/ocm/data"
	"ocm/ocm/images"
	"ocm/sampler"
)

// options holds every flag after parsing; modes say what to do.
type options struct {
	train, fit, sample, eval, list, showVersion bool
	doctor                                      bool
	bench                                       bool

	benchCfg bench.Config // the flags of --bench

	data     string            // mog9, mog40, a mixture JSON file, or an image data set (training)
	evalData string            // image data set of --eval ("": the test split or a held-out part)
	probes   int               // Rademacher probes per denoiser call of ocm-probe
	dataSet  bool              // --data was given explicitly
	dataDir  string            // folder of --data fashion-mnist
	model    string            // embedded model used without --weights
	unet     string            // UNet preset of --train on images
	head     string            // covariance head form of --train/--fit on images ("" = simple, or the bundle's)
	config   string            // run configuration file of image training (images.Config)
	set      map[string]bool   // flags given on the command line
	given    map[string]string // their values, as parsed
	args     []string          // the command line after the program name, as typed

	weights   string // bundle to read (and, when training, to write)
	save      string // bundle --train/--fit write ("": see savePath)
	initFrom  string // bundle --train starts from
	arch      string // published model whose checkpoint --weights is ("": an ocm bundle)
	overwrite bool   // --train/--fit may replace an existing bundle
	out       string // output folder
	device    string
	threads   int
	seed      uint64
	quiet     bool
	cpuProf   string

	resume          bool   // continue --train/--fit from the latest checkpoint
	checkpointDir   string // "" means <out>/checkpoints
	checkpointEvery int    // steps between checkpoints; 0: only when interrupted
	checkpointKeep  int    // checkpoints kept; 0: all

	trainSteps, fitSteps, batch int
	lr                          float64
	betaSchedule                sampler.BetaSchedule
	diffusionSteps              int

	steps       int
	method      sampler.Method
	eta         float64
	variance    ocm.Covariance
	spacing     sampler.TimestepSpacing
	numSamples  int
	exactScore  bool
	clipSamples bool

	clipSigmaIdx int  // images: -1 = the paper's setting
	saveEach     bool // images: one PNG per sample too
	npz          bool // images: samples.npz too

	evalImages, fdSamples int    // images: test images for NLL, samples per Fréchet distance
	classifier            string // images: feature classifier of --eval

	evalSamples, evalSeeds int
	evalKs                 []int
	evalKsSet              bool // --eval-steps was given (else images use 10,25,50,100)

	fitc images.FitChoice // --fit on images: --fit-preset, --fit-backbone, --curve-images, --curve-every
}

const usageHead = `ocm — diffusion models with Optimal Covariance Matching (Ou et al., ICLR 2025)

Usage:
  ocm --sample --out samples              sample the embedded Fashion-MNIST UNet
  ocm --sample --model mog9 --out s       sample the embedded 2-D toy model
  ocm --train --fit --eval --data fashion-mnist --out report
                                          train, fit and evaluate on images
  ocm --train --fit --eval --data mog40 --out report
                                          the same on a Gaussian mixture
  ocm --fit --weights fm.safetensors      fit the heads of a bundle, on its data
  ocm --eval --weights fm.safetensors --out report
                                          write the evaluation report
  ocm --list | --doctor | --bench         embedded models, machine, benchmarks

A flag given where it does nothing is refused; --out, --device, --seed,
--threads, --quiet, --data, --data-dir and --cpuprofile only get a warning.
diffusers' names are accepted: see the end.
`

// parseFlags reads the command line; a bad value is an error naming the flag.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{variance: ocm.CovOCM, args: args}
	args, err := cli.Translate(args)
	if err != nil {
		return nil, err
	}
	fs := flag.NewFlagSet("ocm", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	modeFlags(fs, o)
	fs.StringVar(&o.data, "data", "mog9", "training data (`spec`): mog9, mog40, a Gaussian-mixture JSON file, or images: fashion-mnist, idx:IMAGES[,LABELS], cifar10:FILE[,FILE…], png:FOLDER; without it, a bundle's own data set (--train: mog9)")
	fs.StringVar(&o.dataDir, "data-dir", "", "`folder` of the Fashion-MNIST IDX files (default "+data.DefaultFashionMNISTDir+")")
	fs.StringVar(&o.model, "model", defaultModel, "embedded model to use without --weights (see --list)")
	fs.StringVar(&o.config, "config", "", "image training configuration `file` (JSON: unet, head, beta_schedule, num_train_timesteps, train_steps, fit_steps, batch, lr, ema_decay, dropout, ms_eps_per_step); flags given on the command line win")
	fs.StringVar(&o.unet, "unet", "small", "UNet of --train on images: small (the embedded model's), unet-s (the reference's) or unet-cifar (the paper's CIFAR-10 backbone, improved DDPM)")
	fs.StringVar(&o.head, "head", "", "covariance heads of --train/--fit on images: simple (GroupNorm, SiLU, conv) or complex (a time-conditioned residual block first; the default of --train); with --fit, new heads of that form (without it, --fit goes on from the bundle's heads)")
	fs.StringVar(&o.weights, "weights", "", "model bundle (.safetensors, optionally .zst) to read; with --train, the bundle to write; empty: the embedded model when sampling or evaluating, "+defaultBundleName+" (or "+defaultImageBundleName+") in --out when training")
	fs.StringVar(&o.save, "save", "", "bundle `file` --train/--fit write (default: --weights or the default bundle in --out for --train; NAME-fit.safetensors in --out for --fit of NAME)")
	fs.StringVar(&o.arch, "arch", "", "read --weights as the PyTorch or diffusers checkpoint of this published model: "+strings.Join(nn.PublishedModels(), ", "))
	fs.StringVar(&o.initFrom, "init-from", "", "bundle `file` whose weights --train starts from (instead of random ones)")
	fs.BoolVar(&o.overwrite, "overwrite", false, "let --train/--fit replace an existing bundle (and --fit write into --weights)")
	fs.StringVar(&o.out, "out", ".", "output `folder`")
	fs.StringVar(&o.device, "device", "auto", "compute device: auto, cpu or cuda")
	fs.IntVar(&o.threads, "threads", 0, "CPU threads (0: all cores)")
	fs.Uint64Var(&o.seed, "seed", 1234, "seed of all randomness (data, noise, initialisation)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress output")
	checkpointFlags(fs, o)
	fs.StringVar(&o.cpuProf, "cpuprofile", "", "write a Go CPU profile to `file` (for performance work)")

	fs.IntVar(&o.trainSteps, "train-steps", 0, "optimiser steps of --train (0: 12000 for mixtures, 3000 for images)")
	fs.IntVar(&o.fitSteps, "fit-steps", 0, "optimiser steps of each head in --fit (0: 4000 for mixtures, 500 for images)")
	fs.IntVar(&o.batch, "batch", 0, "training batch size (0: 512 for mixtures, 64 for images)")
	fs.Float64Var(&o.lr, "lr", 0, "Adam learning rate (0: 1e-3 for mixtures, 5e-4 for images)")
	fs.Var(&o.betaSchedule, "beta-schedule", "noise schedule of --train: linear or cosine")
	fs.IntVar(&o.diffusionSteps, "num-train-timesteps", 1000, "diffusion steps N of --train")

	fs.IntVar(&o.steps, "steps", 10, "sampling steps K")
	fs.Var(&o.method, "sampler", "reverse process: ddpm or ddim")
	fs.Float64Var(&o.eta, "eta", 0, "DDIM's η in [0, 1]")
	fs.Var(&o.variance, "variance-type", "reverse variance: small, large, ocm, sn, npr, analytic, exact-diag, exact-full, ocm-probe (no head; --probes JVPs per step)")
	fs.Var(&o.spacing, "timestep-spacing", "sampling step sequence: even or quadratic")
	fs.IntVar(&o.numSamples, "num-samples", 0, "samples to draw (0: 2000 for mixtures, a grid of 64 for images)")
	fs.BoolVar(&o.exactScore, "exact-score", false, "use the mixture's exact score and the heads fitted on it (toy models)")
	fs.BoolVar(&o.clipSamples, "clip-x0", false, "clamp the estimate of x0 to [-1, 1] in every step (always on for images; off by default for mixtures)")
	fs.IntVar(&o.clipSigmaIdx, "clip-sigma-idx", -1, "images: cap σ² in transitions with s ≤ timesteps[k] (0: off; -1: the paper's 1, with 2 pixels for DDPM and 1 for DDIM)")
	fs.BoolVar(&o.saveEach, "save-each", false, "images: also write one PNG per sample (samples_0000.png …)")
	fs.BoolVar(&o.npz, "npz", false, "images: also write samples.npz (uint8 NHWC, key arr_0) for external FID tools")
	evalFlags(fs, o)
	fitFlags(fs, o)
	fs.IntVar(&o.evalImages, "eval-images", 100, "images: test images whose NLL --eval measures")
	fs.StringVar(&o.classifier, "classifier", "", "images: feature classifier `file` of --eval (default: the embedded one for fashion-mnist, else one trained and written to --out)")
	fs.IntVar(&o.fdSamples, "fd-samples", 100, "images: samples per Fréchet distance and precision/recall in --eval")

	fs.IntVar(&o.evalSamples, "eval-samples", 2000, "samples per MMD measurement in --eval")
	fs.IntVar(&o.evalSeeds, "eval-seeds", 3, "sampling seeds per MMD measurement in --eval")
	ks := fs.String("eval-steps", "2,3,5,10,25,50,100", "comma-separated step counts K of --eval (images: 10,25,50,100)")

	fs.Usage = func() {} // errors are one line; the help text is printed for -help only
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printUsage(fs, stdout)
			return nil, err
		}
		return nil, cli.FlagError(fs, err)
	}
	o.set, o.given = map[string]bool{}, map[string]string{}
	fs.Visit(func(f *flag.Flag) { o.set[f.Name], o.given[f.Name] = true, f.Value.String() })
	o.dataSet, o.evalKsSet = o.set["data"], o.set["eval-steps"]
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with --; see ocm --help)", fs.Arg(0))
	}
	if o.evalKs, err = cli.ParseInts(*ks); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --eval-steps: %v", *ks, err)
	}
	return o, o.check()
}

// checkpointFlags adds the flags of checkpoints and resumption.
func checkpointFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.resume, "resume", false, "continue --train/--fit from the latest checkpoint in --checkpoint-dir (give the interrupted run's flags)")
	fs.StringVar(&o.checkpointDir, "checkpoint-dir", "", "checkpoint `folder` of --train/--fit (default <--out>/checkpoints)")
	fs.IntVar(&o.checkpointEvery, "checkpoint-every", 2000, "steps between checkpoints of --train/--fit (0: only when interrupted)")
	fs.IntVar(&o.checkpointKeep, "checkpoint-keep", 3, "newest checkpoints kept in --checkpoint-dir; older ones are removed (0: keep all)")
}

func printUsage(fs *flag.FlagSet, w io.Writer) { cli.PrintHelp(w, fs, usageHead) }

// check validates values that flag parsing accepts but ocm does not.
func (o *options) check() error {
	switch {
	case o.device != "auto" && o.device != "cpu" && o.device != "cuda":
		return fmt.Errorf("invalid value %q for flag --device: want auto, cpu or cuda", o.device)
	case o.steps < 1 || o.steps > 100000:
		return fmt.Errorf("invalid value %d for flag --steps: want 1 to 100000", o.steps)
	case !(o.eta >= 0 && o.eta <= 1): // also NaN
		return fmt.Errorf("invalid value %v for flag --eta: want a number in [0, 1]", o.eta)
	case o.numSamples != 0 && (o.numSamples < 2 || o.numSamples > 1<<20):
		return fmt.Errorf("invalid value %d for flag --num-samples: want 2 to 1048576", o.numSamples)
	case o.trainSteps < 0 || o.fitSteps < 0:
		return fmt.Errorf("invalid step count: --train-steps and --fit-steps must be 1 or more (0: the default)")
	case o.batch < 0 || o.batch > 1<<16:
		return fmt.Errorf("invalid value %d for flag --batch: want 1 to 65536", o.batch)
	case !(o.lr >= 0 && o.lr < 1):
		return fmt.Errorf("invalid value %v for flag --lr: want a number in (0, 1)", o.lr)
	case o.clipSigmaIdx < -1:
		return fmt.Errorf("invalid value %d for flag --clip-sigma-idx: want 0 (off), k ≥ 1, or -1 (the paper's)", o.clipSigmaIdx)
	case o.evalImages < 2 || o.fdSamples < 10:
		return fmt.Errorf("invalid --eval-images or --fd-samples: want at least 2 test images and 10 samples")
	case o.diffusionSteps < 21 || o.diffusionSteps > 100000:
		return fmt.Errorf("invalid value %d for flag --num-train-timesteps: want 21 to 100000", o.diffusionSteps)
	case o.threads < 0:
		return fmt.Errorf("invalid value %d for flag --threads: want 0 (all cores) or more", o.threads)
	case o.evalSamples < 10 || o.evalSeeds < 1:
		return fmt.Errorf("invalid --eval-samples or --eval-seeds: want at least 10 samples and 1 seed")
	case o.checkpointKeep < 0:
		return fmt.Errorf("invalid value %d for flag --checkpoint-keep: want 0 (keep all) or more", o.checkpointKeep)
	case o.checkpointEvery < 0:
		return fmt.Errorf("invalid value %d for flag --checkpoint-every: want 0 (only when interrupted) or more", o.checkpointEvery)
	case o.head != "" && !images.IsHeadMode(o.head):
		return fmt.Errorf("invalid value %q for flag --head: want simple or complex", o.head)
	case o.probes < 1 || o.probes > 100000:
		return fmt.Errorf("invalid value %d for flag --probes: want 1 to 100000", o.probes)
	case o.benchCfg.Check(false) != nil:
		return o.benchCfg.Check(false)
	case o.fitc.Check() != nil:
		return o.fitc.Check()
	}
	if !o.train && !o.fit && !o.sample && !o.eval && !o.list && !o.showVersion && !o.bench && !o.doctor {
		return fmt.Errorf("nothing to do: give --sample, --train, --fit, --eval, --bench, --doctor or --list (see ocm --help)")
	}
	return nil
}
