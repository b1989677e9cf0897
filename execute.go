package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"ocm/ocm"
	"ocm/ocm/bench"
	"ocm/ocm/catalog"
	"ocm/ocm/cli"
	"ocm/ocm/data"
	"ocm/ocm/manifest"
	"ocm/ocm/modelfile"
	"ocm/ocm/runguard"
	"ocm/ocm/toy"
	rt "ocm/runtime"
	"ocm/sampler"
)

// defaultBundleName is the bundle --train and --fit write when --weights is empty.
const defaultBundleName = "ocm-toy.safetensors"

// defaultModel is the embedded model --sample and --eval use without --weights.
const defaultModel = "fashion-mnist"

// session is what the modes share once the flags are read.
type session struct {
	o        *options
	isImage  bool // the run's model is an image model
	guard    *runguard.Guard
	dev      rt.Device
	prog     *progress
	announce func() // says which device runs the work, once the inputs have been read
	stdout   io.Writer
	stderr   io.Writer
	mf       *manifest.Manifest // the run's record, written into every output
}

// execute runs the modes in the order train, fit, sample, eval.
func execute(o *options, g *runguard.Guard, stdout, stderr io.Writer) error {
	if o.showVersion || o.list || o.doctor || o.bench {
		if err := checkFlags(o, cli.AnyKind, stderr); err != nil {
			return err
		}
	}
	switch {
	case o.showVersion:
		fmt.Fprintf(stdout, "ocm %s\n", manifest.ReadBuild(version))
		return nil
	case o.list:
		return catalog.List(stdout)
	case o.doctor:
		return runDoctor(o, stdout)
	}
	if o.cpuProf != "" {
		stop, err := bench.StartCPUProfile(o.cpuProf)
		if err != nil {
			return userErr("--cpuprofile: %v", err)
		}
		defer stop()
	}
	if st, err := os.Stat(o.out); err == nil && !st.IsDir() {
		return userErr("output folder %s is a file", o.out)
	}
	g.RemoveIfMade(o.out)
	if o.bench {
		cfg := o.benchCfg
		cfg.Out, cfg.Threads, cfg.Version = o.out, o.threads, version
		if err := cfg.Check(true); err != nil {
			return userErr("%v", err)
		}
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return userErr("output folder %s: %v", o.out, err)
		}
		return bench.Run(cfg, stdout, stderr)
	}
	dev, devNote, err := openDevice(o)
	if err != nil {
		return err
	}
	s := &session{o: o, guard: g, dev: dev, prog: &progress{cli.NewProgress(stderr, o.quiet)}, stdout: stdout, stderr: stderr}
	s.announce = func() { announceDevice(dev, devNote, o, stderr) }
	var b *modelfile.File
	switch {
	case o.arch != "" && (o.weights == "" || o.train):
		return userErr("--arch names the model of the checkpoint --weights: give --weights FILE (and no --train)")
	case o.arch != "":
		if b, err = modelfile.ReadCheckpoint(dev, o.weights, o.arch); err != nil {
			return inputErr(err)
		}
		for _, note := range b.Notes {
			fmt.Fprintf(stderr, "ocm: %s: %s\n", o.weights, note)
		}
	case !o.train:
		if b, err = modelfile.Read(o.weights, o.model); err != nil {
			return inputErr(err)
		}
	}
	o.data = bundleData(o, b) // the last default: the bundle's data set
	kind := modelKind(o, b)
	if err := checkFlags(o, kind, stderr); err != nil {
		return err
	}
	if s.mf, err = newManifest(o, dev.Name(), b, kind); err != nil {
		return err
	}
	if kind == cli.Image {
		s.isImage = true
		return s.images(b)
	}
	return s.toy(b)
}

// toy runs the modes for a toy model; b is the bundle read (nil when training).
func (s *session) toy(b *modelfile.File) error {
	m, err := s.toyModel(b)
	if err != nil {
		s.prog.clear()
		return err
	}
	return s.sampleAndEval(func() error { return s.sampleToy(m, b) }, func() error { return s.evalToy(m) })
}

// sampleAndEval runs --sample and --eval, in that order, on the run's model.
func (s *session) sampleAndEval(sample, eval func() error) error {
	if s.o.sample {
		if err := sample(); err != nil {
			return err
		}
	}
	if s.o.eval {
		return eval()
	}
	return nil
}

// toyModel returns the model the later modes use: trained (--train) or read, then
// fitted (--fit), both under checkpoints and the interrupt handler, and saved.
func (s *session) toyModel(b *modelfile.File) (*toy.Model, error) {
	o := s.o
	ctl, release, err := s.control()
	if err != nil {
		return nil, err
	}
	defer release()
	var m *toy.Model
	if o.train {
		if m, err = s.newToyModel(); err != nil {
			return nil, err
		}
		s.prog.SetLossScale(m.Mix.Dim, "coord")
		s.announce()
		if err := s.checkpointing(func() error { return toy.TrainWith(s.dev, m, toySettings(o), s.prog.update, ctl) }); err != nil {
			return nil, err
		}
		s.prog.done(fmt.Sprintf("trained %s backbone: %s steps in %s s (%s steps/s, %s skipped)", m.Dataset,
			m.Meta["backbone_steps"], m.Meta["backbone_seconds"], m.Meta["backbone_steps_per_second"], m.Meta["backbone_skipped_steps"]))
	} else if m, err = loadToy(s.dev, b, o); err != nil {
		return nil, err
	} else {
		s.prog.SetLossScale(m.Mix.Dim, "coord")
		s.announce()
	}
	if o.fit {
		if err := s.checkpointing(func() error { return toy.FitWith(s.dev, m, toySettings(o), s.prog.update, ctl) }); err != nil {
			return nil, err
		}
		s.prog.done(fmt.Sprintf("fitted %d heads (%s steps each) in %s s", 2*len(ocm.HeadKinds()), m.Meta["head_steps"], m.Meta["fit_seconds"]))
	}
	if o.train || o.fit {
		return m, s.saveToy(m)
	}
	return m, nil
}

// checkpointing runs a loop that stops at a signal with a checkpoint.
func (s *session) checkpointing(loop func() error) error {
	end := s.guard.Checkpointing()
	defer end()
	return loop()
}

// saveToy writes m to the run's bundle (see savePath).
func (s *session) saveToy(m *toy.Model) error {
	if err := m.CheckFinite(); err != nil {
		return err
	}
	return s.saveBundle(savePath(s.o, defaultBundleName), m.Meta, m.Save)
}

// saveBundle records the run's manifest in meta and writes the bundle to path with save.
func (s *session) saveBundle(path string, meta map[string]string, save func(path string) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return userErr("output folder %s: %v", filepath.Dir(path), err)
	}
	meta["manifest"] = s.stamped().JSON()
	if err := save(path); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	fmt.Fprintf(s.stdout, "ocm: wrote %s\n", path)
	return nil
}

// sampling is how --sample steps back from noise.
func sampling(o *options) ocm.Sampling {
	return ocm.Sampling{Method: o.method, Eta: o.eta, K: o.steps, Spacing: o.spacing, Cov: o.variance, Probes: o.probes}
}

// budgetFlags is the part of a run's budget the flags set (0: the data kind's default).
func budgetFlags(o *options) ocm.Budget {
	return ocm.Budget{TrainSteps: o.trainSteps, FitSteps: o.fitSteps, Batch: o.batch, LR: float32(o.lr)}
}

func toySettings(o *options) toy.Settings {
	st := toy.DefaultSettings().Override(budgetFlags(o))
	st.Seed = o.seed
	return st
}

// newToyModel makes an untrained model for --data, or reads --init-from.
func (s *session) newToyModel() (*toy.Model, error) {
	o, dev := s.o, s.dev
	if o.initFrom != "" {
		b, err := modelfile.ReadFile(o.initFrom, "--init-from")
		if err != nil {
			return nil, inputErr(err)
		}
		return loadToy(dev, b, o)
	}
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

// loadToy reads the toy model of b and swaps in --data, when given, after checking
// that its dimension matches the bundle's network.
func loadToy(dev rt.Device, b *modelfile.File, o *options) (*toy.Model, error) {
	m, err := toy.Load(dev, b.Name, b.Safetensors)
	if err != nil {
		return nil, inputErr(err)
	}
	if !o.dataSet {
		return m, nil
	}
	mix, err := mixtureOf(o.data)
	if err != nil {
		return nil, err
	}
	if o.data != m.Dataset && !mix.Equal(m.Mix) {
		return nil, userErr("--data %s: the model in %s was trained on %s; its samples and scores would be labelled %s: drop --data, or --train on %s", o.data, b.Name, m.Dataset, o.data, o.data)
	}
	return m, nil
}

// mixtureOf returns the mixture --data names.
func mixtureOf(name string) (*ocm.Mixture, error) {
	mix, err := toy.Mixture(name)
	if hint := data.SpecHint(name); err != nil && hint != "" {
		return nil, userErr("--data %s: %s", name, hint)
	}
	if err != nil {
		return nil, inputErr(fmt.Errorf("--data %s: %w", name, err))
	}
	return mix, nil
}

// sampleToy draws --num-samples points and writes CSV, SVG and a JSON record.
func (s *session) sampleToy(m *toy.Model, b *modelfile.File) error {
	o := s.o
	if !o.variance.Optimal() && o.exactScore {
		return userErr("--exact-score applies to the optimal-variance family, not %v", o.variance)
	}
	cfg := toy.SampleConfig{Sampling: sampling(o), ExactScore: o.exactScore, ClipX0: o.clipSamples, N: cmp.Or(o.numSamples, 2000), Seed: o.seed}
	start := time.Now()
	pts, err := toy.Sample(s.dev, m, cfg)
	if err != nil {
		return inputErr(err)
	}
	el := time.Since(start).Seconds()
	name, sha := "", ""
	if b != nil {
		name, sha = b.Name, b.SHA256
	}
	files, err := s.staged(func(dir string) ([]string, error) {
		return toy.WriteSamples(dir, m, cfg, pts, toy.SampleRecord(m, cfg, name, sha, s.stamped()))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "ocm: %d samples of %s, %v %v, %d steps, on %s in %.2f s → %v\n",
		len(pts), m.Dataset, o.method, o.variance, o.steps, s.dev.Name(), el, files)
	return nil
}

// evalToy runs the study and writes the report folder.
func (s *session) evalToy(m *toy.Model) error {
	o := s.o
	times := toy.DefaultErrTimes()
	if m.Sched.N != 1000 {
		times = []int{1, m.Sched.N / 100, m.Sched.N / 10, m.Sched.N / 2, m.Sched.N}
	}
	cfg := toy.StudyConfig{ErrTimes: times, ErrSamples: 2000, Ks: o.evalKs, Samples: o.evalSamples,
		Seeds: o.evalSeeds, Seed: o.seed, Probes: probesAsked(o)}
	if o.evalKsSet {
		cfg.ELBOKs = o.evalKs
	}
	r, err := toy.Study(s.dev, m, cfg, s.prog.update)
	if err != nil {
		return inputErr(err)
	}
	r.Manifest = s.stamped()
	paths, err := s.staged(func(dir string) ([]string, error) { return toy.WriteReport(dir, r) })
	if err != nil {
		return err
	}
	s.prog.done(fmt.Sprintf("evaluated %s in %.0f s", m.Dataset, r.Seconds))
	fmt.Fprintf(s.stdout, "ocm: report → %v\n", paths)
	return nil
}

// staged runs write, which writes a set of outputs to the folder it is given, in a
// staging folder inside --out, and puts the set in place only when it is complete.
func (s *session) staged(write func(dir string) ([]string, error)) ([]string, error) {
	return runguard.WriteSet(s.o.out, s.guard, write)
}

// outputs says where the run's bundle and checkpoints go.
func outputs(o *options) runguard.Outputs {
	return runguard.Outputs{Out: o.out, Weights: o.weights, Save: o.save, Model: o.model, Train: o.train, Overwrite: o.overwrite}
}

// savePath is the bundle --train/--fit write (see runguard.Outputs.BundlePath).
func savePath(o *options, def string) string { return outputs(o).BundlePath(def) }

// control returns the checkpoint settings of --train/--fit (nil for other modes) with
// the run's checkpoint folder locked against other runs; release unlocks it.
func (s *session) control() (*ocm.Control, func(), error) {
	o := s.o
	if !o.train && !o.fit {
		return nil, func() {}, nil
	}
	def := defaultBundleName
	if s.isImage {
		def = defaultImageBundleName
	}
	if err := outputs(o).CheckBundlePath(savePath(o, def)); err != nil && !o.resume {
		return nil, nil, userErr("%v", err)
	}
	dir := o.checkpointDir
	if dir == "" {
		dir = outputs(o).CheckpointDir(def)
	}
	unlock, err := runguard.Lock(dir)
	if err != nil {
		return nil, nil, userErr("%v", err)
	}
	undo := s.guard.OnInterrupt(unlock)
	ctl, err := newControl(o, dir, s.stderr)
	if err != nil {
		undo()
		unlock()
		return nil, nil, err
	}
	ctl.Stop = s.guard.StopRequested
	if !o.quiet {
		fmt.Fprintf(s.stderr, "ocm: checkpoints in %s\n", dir)
	}
	return ctl, func() { undo(); unlock() }, nil
}

// probesAsked is --probes when given: the evaluations then add the head-free
// ocm-probe estimator (M JVPs per call), else 0.
func probesAsked(o *options) int {
	if o.set["probes"] {
		return o.probes
	}
	return 0
}
