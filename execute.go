package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"ocm/assets"
	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/bench"
	"ocm/ocm/featurenet"
	"ocm/ocm/images"
	"ocm/ocm/toy"
	rt "ocm/runtime"
	"ocm/sampler"
)

// defaultBundleName is the bundle --train and --fit write when --weights is empty.
const defaultBundleName = "ocm-toy.safetensors"

// defaultModel is the embedded model --sample and --eval use without --weights.
const defaultModel = "fashion-mnist"

// execute runs the modes in the order train, fit, sample, eval.
func execute(o *options, stdout, stderr io.Writer) error {
	if o.showVersion {
		fmt.Fprintf(stdout, "ocm %s\n", version)
		return nil
	}
	if o.list {
		return listModels(stdout)
	}
	if o.doctor {
		return runDoctor(o, stdout)
	}
	if o.cpuProf != "" {
		f, err := os.Create(o.cpuProf)
		if err != nil {
			return userErr("--cpuprofile: %v", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if o.bench {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return userErr("output folder %s: %v", o.out, err)
		}
		return bench.Run(bench.Config{Out: o.out, Threads: o.threads, Rounds: o.benchRounds,
			TorchScript: o.benchTorch, Python: o.benchPython, Version: version}, stdout, stderr)
	}
	dev, devNote, err := openDevice(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return userErr("output folder %s: %v", o.out, err)
	}
	prog := newProgress(stderr, o.quiet)
	announce := func() { announceDevice(dev, devNote, o, stderr) }
	var f *safetensors.File
	var name string
	if !o.train {
		if f, name, err = readBundle(o); err != nil {
			return err
		}
	}
	if (o.train && isImageData(o.data)) || (f != nil && images.IsBundle(f)) {
		return executeImages(dev, o, f, name, prog, announce, stdout)
	}
	m, err := makeModel(dev, o, f, name, prog, announce, stdout)
	if err != nil {
		prog.clear()
		return err
	}
	if o.sample {
		if err := sampleToy(dev, m, o, stdout); err != nil {
			return err
		}
	}
	if o.eval {
		return evalToy(dev, m, o, prog, stdout)
	}
	return nil
}

// makeModel returns the model the later modes use: trained (--train) or read, then
// fitted (--fit), both under checkpoints and the interrupt handler, and saved.
func makeModel(dev rt.Device, o *options, f *safetensors.File, name string, prog *progress, announce func(), stdout io.Writer) (*toy.Model, error) {
	ctl, release, err := watchedControl(o)
	if err != nil {
		return nil, err
	}
	defer release()
	var m *toy.Model
	if o.train {
		if m, err = newToyModel(dev, o); err != nil {
			return nil, err
		}
		announce()
		if err := toy.TrainWith(dev, m, settings(o), prog.update, ctl); err != nil {
			return nil, runErr(err)
		}
		prog.done(fmt.Sprintf("trained %s backbone: %s steps in %s s (%s steps/s, %s skipped)", m.Dataset,
			m.Meta["backbone_steps"], m.Meta["backbone_seconds"], m.Meta["backbone_steps_per_second"], m.Meta["backbone_skipped_steps"]))
	} else if m, err = toy.Load(dev, name, f); err != nil {
		return nil, inputErr(err)
	} else if err = useData(m, o); err != nil {
		return nil, err
	} else {
		announce()
	}
	if o.fit {
		if err := toy.FitWith(dev, m, settings(o), prog.update, ctl); err != nil {
			return nil, runErr(err)
		}
		prog.done(fmt.Sprintf("fitted %d heads (%s steps each) in %s s", 2*len(toy.HeadKinds), m.Meta["head_steps"], m.Meta["fit_seconds"]))
	}
	if o.train || o.fit {
		path := bundlePath(o)
		if err := m.CheckFinite(); err != nil {
			return nil, err
		}
		if err := m.Save(path); err != nil {
			return nil, fmt.Errorf("saving %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "ocm: wrote %s\n", path)
	}
	return m, nil
}

// runErr marks a checkpoint that does not fit the run as the user's mistake.
func runErr(err error) error {
	var re *ocm.ResumeError
	if errors.As(err, &re) {
		return inputErr(err)
	}
	return err
}

// watchedControl is newControl with the interrupt handler installed as its Stop (for
// --train/--fit); the caller defers release.
func watchedControl(o *options) (ctl *ocm.Control, release func(), err error) {
	if ctl, err = newControl(o); err != nil || ctl == nil {
		return ctl, func() {}, err
	}
	ctl.Stop, release = watchSignals()
	return ctl, release, nil
}

// newControl returns the checkpoint settings of --train/--fit (nil for other modes),
// with the latest checkpoint read when resuming.
func newControl(o *options) (*ocm.Control, error) {
	if !o.train && !o.fit {
		return nil, nil
	}
	dir := o.checkpointDir
	if dir == "" {
		dir = filepath.Join(o.out, "checkpoints")
	}
	ctl := &ocm.Control{Dir: dir, Every: o.checkpointEvery, Keep: o.checkpointKeep}
	if !o.resume {
		return ctl, nil
	}
	path, f, err := ocm.ReadLatest(dir)
	if err != nil {
		return nil, userErr("--resume: %s", oneLine(err))
	}
	switch phase := f.Metadata["phase"]; {
	case phase == ocm.PhaseTrain && !o.train:
		return nil, userErr("--resume: %s is a checkpoint of --train; give --train (and the run's other flags)", path)
	case phase == ocm.PhaseFit && !o.fit:
		return nil, userErr("--resume: %s is a checkpoint of --fit; give --fit (and the run's other flags)", path)
	case phase != ocm.PhaseTrain && phase != ocm.PhaseFit:
		return nil, userErr("--resume: %s: unknown phase %q", path, phase)
	}
	ctl.Resume, ctl.ResumePath = f, path
	return ctl, nil
}

func settings(o *options) toy.Settings {
	st := toy.DefaultSettings()
	st.Seed = o.seed
	applyBudget(o, &st.TrainSteps, &st.FitSteps, &st.Batch, &st.LR)
	return st
}

// applyBudget overrides a run's budget with the flags given a value (0: keep).
func applyBudget(o *options, trainSteps, fitSteps, batch *int, lr *float32) {
	if o.trainSteps > 0 {
		*trainSteps = o.trainSteps
	}
	if o.fitSteps > 0 {
		*fitSteps = o.fitSteps
	}
	if o.batch > 0 {
		*batch = o.batch
	}
	if o.lr > 0 {
		*lr = float32(o.lr)
	}
}

func bundlePath(o *options) string {
	if o.weights != "" {
		return o.weights
	}
	return filepath.Join(o.out, defaultBundleName)
}

// newToyModel makes an untrained model for --data.
func newToyModel(dev rt.Device, o *options) (*toy.Model, error) {
	mix, err := mixtureOf(o.data)
	if err != nil {
		return nil, err
	}
	sched, err := sampler.NewSchedule(o.betaSchedule, o.diffusionSteps)
	if err != nil {
		return nil, inputErr(err)
	}
	return toy.NewModel(dev, o.data, mix, sched, 256, []int{256, 256}, o.seed), nil
}

// readBundle reads --weights, or the embedded --model, and records its SHA-256.
func readBundle(o *options) (*safetensors.File, string, error) {
	if o.weights == "" {
		data, info, err := assets.Load(o.model)
		if err != nil {
			return nil, "", userErr("--model: %v (see ocm --list)", err)
		}
		name := "embedded " + info.Name
		f, err := safetensors.Read(name, data)
		if err != nil {
			return nil, "", err
		}
		o.weightsSHA = info.SHA256
		return f, name, nil
	}
	raw, err := os.ReadFile(o.weights)
	if err != nil {
		return nil, "", userErr("--weights: %v", err)
	}
	sum := sha256.Sum256(raw)
	o.weightsSHA = hex.EncodeToString(sum[:])
	f, err := safetensors.Decode(o.weights, raw)
	if err != nil {
		return nil, "", inputErr(fmt.Errorf("--weights: %w", err))
	}
	return f, o.weights, nil
}

// useData swaps in --data, when given with a loaded bundle, after checking that its
// dimension matches the bundle's network.
func useData(m *toy.Model, o *options) error {
	if !o.dataSet {
		return nil
	}
	mix, err := mixtureOf(o.data)
	if err != nil {
		return err
	}
	if mix.Dim != m.Mix.Dim {
		return userErr("--data %s has dimension %d but the model in %s was trained on dimension %d", o.data, mix.Dim, weightsName(o), m.Mix.Dim)
	}
	m.Mix, m.Dataset = mix, o.data
	return nil
}

func weightsName(o *options) string {
	if o.weights == "" {
		return "the embedded " + o.model
	}
	return o.weights
}

// mixtureOf returns a built-in mixture or reads a JSON file.
func mixtureOf(name string) (*ocm.Mixture, error) {
	switch name {
	case "mog9":
		return ocm.Mog9(), nil
	case "mog40":
		return ocm.Mog40(), nil
	}
	mix, err := ocm.LoadMixtureJSON(name)
	if err != nil {
		return nil, inputErr(fmt.Errorf("--data %s: %w", name, err))
	}
	return mix, nil
}

// sampleToy draws --num-samples points and writes CSV, SVG and a JSON record.
func sampleToy(dev rt.Device, m *toy.Model, o *options, stdout io.Writer) error {
	if !o.variance.Optimal() && o.exactScore {
		return userErr("--exact-score applies to the optimal-variance family, not %v", o.variance)
	}
	cfg := toy.SampleConfig{Method: o.method, Eta: o.eta, K: o.steps, Spacing: o.spacing,
		Cov: o.variance, ExactScore: o.exactScore, ClipX0: o.clipSamples, N: cmp.Or(o.numSamples, 2000), Seed: o.seed}
	start := time.Now()
	pts, err := toy.Sample(dev, m, cfg)
	if err != nil {
		return inputErr(err)
	}
	el := time.Since(start).Seconds()
	files, err := toy.WriteSamples(o.out, m, cfg, pts, version)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ocm: %d samples of %s, %v %v, %d steps, on %s in %.2f s → %v\n",
		len(pts), m.Dataset, o.method, o.variance, o.steps, dev.Name(), el, files)
	return nil
}

// evalToy runs the study and writes the report folder.
func evalToy(dev rt.Device, m *toy.Model, o *options, prog *progress, stdout io.Writer) error {
	times := toy.DefaultErrTimes
	if m.Sched.N != 1000 {
		times = []int{1, m.Sched.N / 100, m.Sched.N / 10, m.Sched.N / 2, m.Sched.N}
	}
	cfg := toy.StudyConfig{ErrTimes: times, ErrSamples: 2000, Ks: o.evalKs, Samples: o.evalSamples,
		Seeds: o.evalSeeds, Seed: o.seed}
	r, err := toy.Study(dev, m, cfg, version, prog.update)
	if err != nil {
		return inputErr(err)
	}
	paths, err := toy.WriteReport(o.out, r)
	if err != nil {
		return err
	}
	prog.done(fmt.Sprintf("evaluated %s in %.0f s", m.Dataset, r.Seconds))
	fmt.Fprintf(stdout, "ocm: report → %v\n", paths)
	return nil
}

// listModels prints the embedded models with their settings.
func listModels(stdout io.Writer) error {
	models, err := assets.List()
	if err != nil {
		return err
	}
	for _, info := range models {
		data, _, err := assets.Load(info.Name)
		if err != nil {
			return err
		}
		f, err := safetensors.Read(info.Name, data)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-26s %s; sha256 %s\n", info.Name, describeBundle(f), info.SHA256[:16])
	}
	return nil
}

// describeBundle is a one-line summary of a bundle's metadata.
func describeBundle(f *safetensors.File) string {
	md := f.Metadata
	params := 0
	for _, t := range f.Tensors {
		params += len(t.Data)
	}
	switch md["format"] {
	case images.BundleFormat:
		return fmt.Sprintf("image model (%s, %s images): UNet %s, %d values; %s schedule, N=%s; trained %s steps "+
			"(batch %s), heads ocm/sn/npr %s steps each", md["dataset"], md["image_shape"], md["unet_config"], params,
			md["schedule"], md["diffusion_steps"], md["train.backbone_steps"], md["train.batch"], md["train.head_steps"])
	case toy.BundleFormat:
		return fmt.Sprintf("toy model (%s): %s, hidden %s, %s schedule, N=%s; trained %s steps, heads %s steps",
			md["dataset"], md["model"], md["hidden"], md["schedule"], md["diffusion_steps"], md["train.backbone_steps"],
			md["train.head_steps"])
	case featurenet.Format:
		return fmt.Sprintf("feature classifier for --eval (%s): %d parameters, test accuracy %s", md["data"], params, md["test_accuracy"])
	}
	return "format " + md["format"]
}
