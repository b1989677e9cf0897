package main

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ocm/ocm"
	"ocm/ocm/data"
	"ocm/ocm/featurenet"
	"ocm/ocm/images"
	"ocm/ocm/modelfile"
	"ocm/sampler"
)

// defaultImageBundleName is the bundle --train and --fit write for image data when
// --weights is empty.
const defaultImageBundleName = "ocm-images.safetensors"

// readSplit reads spec's training and evaluation images (--eval-data, the data set's
// test split, or a held-out part that training never sees).
func readSplit(o *options, spec string) (*data.Split, error) {
	sp, err := data.OpenSplit(spec, o.evalData, o.dataDir)
	if err != nil {
		return nil, inputErr(fmt.Errorf("--data %s: %w", spec, err))
	}
	return sp, nil
}

// images runs the modes for an image model: train, fit, sample, eval. b is the
// bundle read (nil when training from scratch).
func (s *session) images(b *modelfile.File) error {
	m, err := s.imageModel(b)
	if err != nil {
		s.prog.clear()
		return err
	}
	return s.sampleAndEval(func() error { return s.sampleImages(m, b) }, func() error { return s.evalImages(m) })
}

// imageRun is what --train and --fit on images are given: the run configuration,
// the head form (and whether one was asked for), the budget and the training images.
type imageRun struct {
	cfg        *images.Config
	head       images.HeadMode
	headChosen bool
	st         images.Settings
	train      *data.Images
}

// newImageRun reads --config, --head and the training images of --train/--fit.
func newImageRun(o *options) (*imageRun, error) {
	r := &imageRun{cfg: &images.Config{}, head: images.HeadComplex}
	var err error
	var sp *data.Split
	if o.train || o.fit {
		if !data.IsImageSpec(o.data) {
			return nil, userErr("--data %s is not an image data set, but the model is an image model: give --data fashion-mnist (or idx:, cifar10:, png:)", o.data)
		}
		if sp, err = readSplit(o, o.data); err != nil {
			return nil, err
		}
		r.train = sp.Train
	}
	if o.config != "" { // the flag table refuses it without --train or --fit
		if r.cfg, err = images.LoadConfig(o.config); err != nil {
			return nil, inputErr(fmt.Errorf("--config: %w", err))
		}
	}
	if r.cfg.Head != "" {
		r.head, r.headChosen = images.HeadMode(r.cfg.Head), true // checked by LoadConfig
	}
	if o.head != "" {
		r.head, r.headChosen = images.HeadMode(o.head), true // checked with the flags
	}
	r.st = r.cfg.Apply(images.DefaultSettings())
	r.st.Budget = r.st.Budget.Override(budgetFlags(o))
	r.st.Seed = o.seed
	r.st.Fit = o.fitc.Settings(budgetFlags(o), probesAsked(o), sp)
	if r.train != nil {
		if err := images.CheckBudget(r.st, o.data, r.train.N, o.fit); err != nil {
			return nil, inputErr(err)
		}
	}
	return r, nil
}

// imageModel trains (--train) or loads the model, fits it (--fit) and saves it.
func (s *session) imageModel(b *modelfile.File) (*images.Model, error) {
	o := s.o
	ctl, release, err := s.control()
	if err != nil {
		return nil, err
	}
	defer release()
	r, err := newImageRun(o)
	if err != nil {
		return nil, err
	}
	var m *images.Model
	if o.train {
		if m, err = newImageModel(s, r); err != nil {
			return nil, err
		}
		s.prog.SetLossScale(m.Config.InCh*m.Config.Resolution*m.Config.Resolution, "px")
		s.announce()
		train := func() error {
			return images.Train(s.dev, m, images.NewData(r.train, r.st.Seed), r.st, s.prog.update, ctl)
		}
		if err := s.checkpointing(train); err != nil {
			return nil, err
		}
		s.prog.done(fmt.Sprintf("trained %s backbone: %s steps in %s s (%s s/step, %s skipped)", m.Dataset,
			m.Meta["backbone_steps"], m.Meta["backbone_seconds"], m.Meta["backbone_seconds_per_step"], m.Meta["backbone_skipped_steps"]))
	} else if b.Checkpoint != nil {
		if m, err = images.FromCheckpoint(s.dev, b.Checkpoint, cmp.Or(imageSpec(o.data), b.Checkpoint.Model.Name)); err != nil {
			return nil, inputErr(err)
		}
		s.announce()
	} else {
		if m, err = images.Load(s.dev, b.Name, b.Safetensors); err != nil {
			return nil, inputErr(err)
		}
		if r.train != nil {
			if err := m.CheckData(o.data, r.train, b.Name); err != nil {
				return nil, inputErr(err)
			}
		}
		s.prog.SetLossScale(m.Config.InCh*m.Config.Resolution*m.Config.Resolution, "px")
		s.announce()
	}
	if o.fit {
		if err := s.fitImages(m, r, ctl); err != nil {
			return nil, err
		}
	}
	if o.train || o.fit || (b != nil && b.Checkpoint != nil && o.save != "") { // --arch … --save: convert
		return m, s.saveImages(m)
	}
	return m, nil
}

// fitImages fits the heads of m and the Analytic-DPM table: new unfitted heads of the
// form --head or --config names, or without either the bundle's heads further.
func (s *session) fitImages(m *images.Model, r *imageRun, ctl *ocm.Control) error {
	if r.headChosen {
		m.NewHeads(s.dev, r.head, s.o.seed)
	}
	fit := func() error {
		return images.Fit(s.dev, m, images.NewData(r.train, r.st.Seed+1), r.st, s.prog.update, ctl)
	}
	if err := s.checkpointing(fit); err != nil {
		return err
	}
	s.prog.done(fmt.Sprintf("fitted %d heads (%s steps each) and the Analytic-DPM table in %s s", len(ocm.HeadKinds()),
		m.Meta["head_steps"], m.Meta["fit_seconds"]))
	return nil
}

// saveImages writes m to the run's bundle (see savePath), and after --fit its
// learning curve to --out.
func (s *session) saveImages(m *images.Model) error {
	if err := s.saveBundle(savePath(s.o, defaultImageBundleName), m.Meta, m.Save); err != nil || !s.o.fit {
		return err
	}
	paths, err := s.staged(func(dir string) ([]string, error) { return images.WriteCurve(dir, m) })
	if len(paths) > 0 {
		fmt.Fprintf(s.stdout, "ocm: learning curve → %s\n", strings.Join(paths, ", "))
	}
	return err
}

// newImageModel makes an untrained model of --unet (or --config's UNet) with heads
// of the run's form for its training images.
func newImageModel(s *session, r *imageRun) (*images.Model, error) {
	o, train, rc := s.o, r.train, r.cfg
	if o.initFrom != "" {
		return s.imageInitFrom(r)
	}
	if train.H != train.W {
		return nil, userErr("--data %s: images are %d×%d; ocm's UNet needs square images", o.data, train.H, train.W)
	}
	if rc.UNet != nil && o.set["unet"] {
		return nil, userErr("--unet and the unet of --config %s both choose the UNet; give one", o.config)
	}
	cfg, err := images.Preset(o.unet, train.C, train.H)
	if err != nil {
		return nil, userErr("--unet: %v", err)
	}
	if cfg, err = rc.ApplyUNet(cfg); err != nil {
		return nil, inputErr(fmt.Errorf("--config %s: %w", o.config, err))
	}
	if err := images.CheckConfig(cfg); err != nil {
		return nil, userErr("--data %s: %d×%d×%d images do not fit the %s UNet: %v", o.data, train.C, train.H, train.W, o.unet, err)
	}
	kind, n, err := rc.ApplySchedule(o.betaSchedule, o.diffusionSteps)
	if err != nil {
		return nil, inputErr(fmt.Errorf("--config %s: %w", o.config, err))
	}
	if o.set["beta-schedule"] {
		kind = o.betaSchedule
	}
	if o.set["num-train-timesteps"] {
		n = o.diffusionSteps
	}
	sched, err := sampler.NewSchedule(kind, n)
	if err != nil {
		return nil, inputErr(err)
	}
	return images.NewModel(s.dev, o.data, cfg, sched, r.head, o.seed), nil
}

// sampleImages draws --num-samples images and writes the grid, the record and, on
// request, one PNG per image and an .npz.
func (s *session) sampleImages(m *images.Model, b *modelfile.File) error {
	o := s.o
	n := o.numSamples
	if n == 0 {
		n = 64
	}
	cfg := images.SampleConfig{Sampling: sampling(o),
		N: n, Batch: 256, Seed: o.seed}
	cfg.ClipSigmaIdx, cfg.ClipPixel = images.PaperClipping(o.method)
	if o.clipSigmaIdx >= 0 {
		cfg.ClipSigmaIdx = o.clipSigmaIdx
	}
	start := time.Now()
	x, err := images.Sample(s.dev, m, cfg, s.prog.update)
	if err != nil {
		return inputErr(err)
	}
	el := time.Since(start).Seconds()
	s.prog.clear()
	name, sha := "", ""
	if b != nil {
		name, sha = b.Name, b.SHA256
	}
	rec := images.SampleRecord(m, cfg, name, sha, s.stamped())
	files, err := s.staged(func(dir string) ([]string, error) {
		return images.WriteSamples(dir, x, rec, images.Exports{Each: o.saveEach, NPZ: o.npz})
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.stdout, "ocm: %d %s images (EMA weights), %v %v covariance, %d steps, on %s in %.2f s → %s\n",
		n, m.Dataset, o.method, o.variance, o.steps, s.dev.Name(), el, strings.Join(files, ", "))
	return nil
}

// evalImages writes the table of every covariance estimator to --out.
func (s *session) evalImages(m *images.Model) error {
	o := s.o
	spec := o.data
	if !data.IsImageSpec(spec) {
		spec = m.Dataset
	}
	if !data.IsImageSpec(spec) {
		return userErr("--eval needs the model's data set: give --data (fashion-mnist, idx:, cifar10:, png:)")
	}
	if o.evalKsSet && slices.Min(o.evalKs) < 2 {
		return userErr("--eval-steps %d: the NLL needs K ≥ 2, a trajectory from step 1 to N", slices.Min(o.evalKs))
	}
	sp, err := readSplit(o, spec)
	if err != nil {
		return err
	}
	train, test := sp.Train, sp.Eval
	save := filepath.Join(s.o.out, "feature-classifier.safetensors")
	clf, acc, trained, err := featurenet.Classifier(s.dev, s.o.classifier, spec, save, train, test,
		func(done, total int, loss float64) { s.prog.update("train classifier", done, total, loss) })
	if err != nil {
		return err
	}
	if trained {
		s.prog.done(fmt.Sprintf("trained the feature classifier: test accuracy %.4f → %s", acc, save))
	}
	cfg := images.DefaultEvalConfig()
	cfg.TestImages, cfg.FDSamples, cfg.Seed, cfg.Split = o.evalImages, o.fdSamples, o.seed, sp.Describe()
	if o.set["probes"] || o.variance == ocm.CovOCMProbe {
		cfg.Probes = o.probes // the head-free row: M JVPs per NLL term
	}
	if o.evalKsSet {
		cfg.Ks = o.evalKs
	}
	rep, err := images.Evaluate(s.dev, m, train, test, clf, cfg, s.prog.update)
	if err != nil {
		return inputErr(err)
	}
	rep.Manifest = s.stamped()
	paths, err := s.staged(func(dir string) ([]string, error) { return images.WriteReport(dir, rep, version) })
	if err != nil {
		return err
	}
	s.prog.done(fmt.Sprintf("evaluated %s in %.0f s", m.Dataset, rep.Seconds))
	fmt.Fprintf(s.stdout, "ocm: report → %s\n", strings.Join(paths, ", "))
	return nil
}

// imageInitFrom reads the model --train starts from (--init-from), which must take
// the training images.
func (s *session) imageInitFrom(r *imageRun) (*images.Model, error) {
	if r.cfg.UNet != nil || s.o.set["unet"] {
		return nil, userErr("--init-from takes the UNet of %s; --unet and the unet of --config do not apply", s.o.initFrom)
	}
	b, err := modelfile.ReadFile(s.o.initFrom, "--init-from")
	if err != nil {
		return nil, inputErr(err)
	}
	m, err := images.Load(s.dev, b.Name, b.Safetensors)
	if err != nil {
		return nil, inputErr(err)
	}
	return m, inputErr(m.CheckData(s.o.data, r.train, b.Name))
}

// imageSpec is spec when it names an image data set, else "".
func imageSpec(spec string) string {
	if data.IsImageSpec(spec) {
		return spec
	}
	return ""
}
