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
	"strings"
	"time"

	"ocm/assets"
	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/bench"
	"ocm/ocm/data"
	"ocm/ocm/featurenet"
	"ocm/ocm/images"
	"ocm/ocm/runguard"
	"ocm/ocm/toy"
	rt "ocm/runtime"
	"ocm/sampler"
)

// defaultBundleName is the bundle --train and --fit write when --weights is empty.
const defaultBundleName = "ocm-toy.safetensors"

// defaultModel is the embedded model --sample and --eval use without --weights.
const defaultModel = "fashion-mnist"

// bundle is the model file a run reads: its contents, its name for messages and
// records (a path, or "embedded NAME") and the SHA-256 of its bytes.
type bundle struct {
	f          *safetensors.File
	name, sha  string
	isImage    bool
	isEmbedded bool
}

// session is what the modes share once the flags are read.
type session struct {
	o        *options
	isImage  bool // the run's model is an image model
	guard    *runguard.Guard
	dev      rt.Device
	prog     *progress
	announce func() // says which device runs the work, once the inputs have been read
	stdout   io.Writer
}

// execute runs the modes in the order train, fit, sample, eval.
func execute(o *options, g *runguard.Guard, stdout, stderr io.Writer) error {
	switch {
	case o.showVersion:
		fmt.Fprintf(stdout, "ocm %s\n", version)
		return nil
	case o.list:
		return listModels(stdout)
	case o.doctor:
		return runDoctor(o, stdout)
	}
	if o.cpuProf != "" {
		stop, err := startProfile(o.cpuProf)
		if err != nil {
			return err
		}
		defer stop()
	}
	if st, err := os.Stat(o.out); err == nil && !st.IsDir() {
		return userErr("output folder %s is a file", o.out)
	}
	g.RemoveIfMade(o.out)
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
	s := &session{o: o, guard: g, dev: dev, prog: newProgress(stderr, o.quiet), stdout: stdout}
	s.announce = func() { announceDevice(dev, devNote, o, stderr) }
	var b *bundle
	if !o.train {
		if b, err = readBundle(o); err != nil {
			return err
		}
	}
	if (o.train && data.IsImageSpec(o.data)) || (b != nil && b.isImage) {
		s.isImage = true
		return s.images(b)
	}
	return s.toy(b)
}

// startProfile starts a Go CPU profile written to path; stop ends it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, userErr("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// toy runs the modes for a toy model; b is the bundle read (nil when training).
func (s *session) toy(b *bundle) error {
	m, err := s.toyModel(b)
	if err != nil {
		s.prog.clear()
		return err
	}
	if s.o.sample {
		if err := s.sampleToy(m); err != nil {
			return err
		}
	}
	if s.o.eval {
		return s.evalToy(m)
	}
	return nil
}

// toyModel returns the model the later modes use: trained (--train) or read, then
// fitted (--fit), both under checkpoints and the interrupt handler, and saved.
func (s *session) toyModel(b *bundle) (*toy.Model, error) {
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
		s.announce()
		if err := s.checkpointing(func() error { return toy.TrainWith(s.dev, m, toySettings(o), s.prog.update, ctl) }); err != nil {
			return nil, err
		}
		s.prog.done(fmt.Sprintf("trained %s backbone: %s steps in %s s (%s steps/s, %s skipped)", m.Dataset,
			m.Meta["backbone_steps"], m.Meta["backbone_seconds"], m.Meta["backbone_steps_per_second"], m.Meta["backbone_skipped_steps"]))
	} else if m, err = loadToy(s.dev, b, o); err != nil {
		return nil, err
	} else {
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
	path := savePath(s.o, defaultBundleName)
	if err := m.CheckFinite(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return userErr("output folder %s: %v", filepath.Dir(path), err)
	}
	if err := m.Save(path); err != nil {
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
		b, err := readBundleFile(o.initFrom, "--init-from")
		if err != nil {
			return nil, err
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

// readBundle reads --weights, or the embedded --model, with its SHA-256.
func readBundle(o *options) (*bundle, error) {
	if o.weights == "" {
		raw, info, err := assets.Load(o.model)
		if err != nil {
			return nil, userErr("--model: %v (see ocm --list)", err)
		}
		name := "embedded " + info.Name
		f, err := safetensors.Read(name, raw)
		if err != nil {
			return nil, err
		}
		return &bundle{f: f, name: name, sha: info.SHA256, isImage: images.IsBundle(f), isEmbedded: true}, nil
	}
	return readBundleFile(o.weights, "--weights")
}

// readBundleFile reads the bundle at path, which flag names.
func readBundleFile(path, flag string) (*bundle, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, userErr("%s: %v", flag, err)
	}
	sum := sha256.Sum256(raw)
	f, err := safetensors.Decode(path, raw)
	if err != nil {
		return nil, inputErr(fmt.Errorf("%s: %w", flag, err))
	}
	return &bundle{f: f, name: path, sha: hex.EncodeToString(sum[:]), isImage: images.IsBundle(f)}, nil
}

// loadToy reads the toy model of b and swaps in --data, when given, after checking
// that its dimension matches the bundle's network.
func loadToy(dev rt.Device, b *bundle, o *options) (*toy.Model, error) {
	m, err := toy.Load(dev, b.name, b.f)
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
	if mix.Dim != m.Mix.Dim {
		name := b.name
		if b.isEmbedded {
			name = "the embedded " + o.model
		}
		return nil, userErr("--data %s has dimension %d but the model in %s was trained on dimension %d", o.data, mix.Dim, name, m.Mix.Dim)
	}
	m.Mix, m.Dataset = mix, o.data
	return m, nil
}

// mixtureOf returns the mixture --data names.
func mixtureOf(name string) (*ocm.Mixture, error) {
	mix, err := toy.Mixture(name)
	if err != nil {
		return nil, inputErr(fmt.Errorf("--data %s: %w", name, err))
	}
	return mix, nil
}

// sampleToy draws --num-samples points and writes CSV, SVG and a JSON record.
func (s *session) sampleToy(m *toy.Model) error {
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
	files, err := s.staged(func(dir string) ([]string, error) { return toy.WriteSamples(dir, m, cfg, pts, version) })
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
		Seeds: o.evalSeeds, Seed: o.seed}
	r, err := toy.Study(s.dev, m, cfg, version, s.prog.update)
	if err != nil {
		return inputErr(err)
	}
	paths, err := s.staged(func(dir string) ([]string, error) { return toy.WriteReport(dir, r) })
	if err != nil {
		return err
	}
	s.prog.done(fmt.Sprintf("evaluated %s in %.0f s", m.Dataset, r.Seconds))
	fmt.Fprintf(s.stdout, "ocm: report → %v\n", paths)
	return nil
}

// listModels prints the embedded models with their settings.
func listModels(stdout io.Writer) error {
	models, err := assets.List()
	if err != nil {
		return err
	}
	for _, info := range models {
		raw, _, err := assets.Load(info.Name)
		if err != nil {
			return err
		}
		f, err := safetensors.Read(info.Name, raw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-26s %s; sha256 %s\n", info.Name, describeBundle(f), info.SHA256[:16])
	}
	return nil
}

// describeBundle is a one-line summary of a bundle of any of ocm's formats.
func describeBundle(f *safetensors.File) string {
	values := 0
	for _, t := range f.Tensors {
		values += len(t.Data)
	}
	switch md := f.Metadata; md["format"] {
	case images.BundleFormat:
		return images.DescribeBundle(md, values)
	case toy.BundleFormat:
		return toy.DescribeBundle(md)
	case featurenet.Format:
		return featurenet.DescribeBundle(md, values)
	}
	return "format " + f.Metadata["format"]
}

// staged runs write, which writes a set of outputs to the folder it is given, in a
// staging folder inside --out, and puts the set in place only when it is complete.
func (s *session) staged(write func(dir string) ([]string, error)) ([]string, error) {
	st, err := runguard.NewStage(s.o.out, s.guard)
	if err != nil {
		return nil, userErr("%v", err)
	}
	paths, err := write(st.Dir)
	if err != nil {
		st.Abandon()
		return nil, err
	}
	return st.Commit(paths)
}

// savePath is the bundle --train/--fit write: --save; for --train, --weights or the
// default bundle def in --out; for --fit alone, --weights itself with --overwrite,
// else NAME-fit.safetensors in --out for a bundle NAME.
func savePath(o *options, def string) string {
	switch {
	case o.save != "":
		return o.save
	case o.train && o.weights != "":
		return o.weights
	case o.train:
		return filepath.Join(o.out, def)
	case o.overwrite && o.weights != "":
		return o.weights
	}
	name := o.model
	if o.weights != "" {
		name = filepath.Base(o.weights)
	}
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".zst"), ".safetensors")
	return filepath.Join(o.out, name+"-fit.safetensors")
}

// checkSavePath refuses, before any work, a bundle path that would replace a file
// without --overwrite or that is a folder.
func checkSavePath(o *options, path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return userErr("%s: %v", path, err)
	case st.IsDir():
		return userErr("%s is a folder; the bundle needs a file name (--save FILE)", path)
	case !o.overwrite && o.train && o.weights == path:
		return userErr("--train would replace %s: give --overwrite to train anew over it, --init-from %s to continue from its weights, or --save FILE", path, path)
	case !o.overwrite:
		return userErr("%s exists: give --overwrite to replace it, or --save FILE to write elsewhere", path)
	}
	return nil
}

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
	if err := checkSavePath(o, savePath(o, def)); err != nil && !o.resume {
		return nil, nil, err
	}
	dir := checkpointDir(o, def)
	unlock, err := runguard.Lock(dir)
	if err != nil {
		return nil, nil, userErr("%v", err)
	}
	undo := s.guard.OnInterrupt(unlock)
	ctl, err := newControl(o, dir)
	if err != nil {
		undo()
		unlock()
		return nil, nil, err
	}
	ctl.Stop = s.guard.StopRequested
	if !o.quiet {
		fmt.Fprintf(s.prog.w, "ocm: checkpoints in %s\n", dir)
	}
	return ctl, func() { undo(); unlock() }, nil
}

// checkpointDir is --checkpoint-dir, or a folder of the run's own in --out named by
// the bundle it writes, so that runs writing other bundles never share one.
func checkpointDir(o *options, def string) string {
	if o.checkpointDir != "" {
		return o.checkpointDir
	}
	name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(savePath(o, def)), ".zst"), ".safetensors")
	return filepath.Join(o.out, "checkpoints", name)
}
