package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"ocm/assets"
	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	"ocm/ocm/data"
	"ocm/ocm/featurenet"
	"ocm/ocm/images"
	rt "ocm/runtime"
	"ocm/sampler"
	"ocm/sampler/imagefile"
)

// defaultImageBundleName is the bundle --train and --fit write for image data when
// --weights is empty.
const defaultImageBundleName = "ocm-images.safetensors"

// isImageData says whether --data names an image data set (and not a mixture).
func isImageData(name string) bool {
	return name == "fashion-mnist" || strings.HasPrefix(name, "idx:") || strings.HasPrefix(name, "cifar10:") ||
		strings.HasPrefix(name, "png:")
}

// readImageData reads the training (or, with test, the evaluation) images of --data:
// fashion-mnist (the Debian package's folder, or --data-dir), idx:IMAGES[,LABELS],
// cifar10:FILE[,FILE…] or png:FOLDER.
func readImageData(o *options, test bool) (*data.Images, error) {
	kind, arg, _ := strings.Cut(o.data, ":")
	var ds *data.Images
	var err error
	switch kind {
	case "fashion-mnist":
		ds, err = data.FashionMNIST(o.dataDir, !test)
	case "idx":
		imgs, lbls, _ := strings.Cut(arg, ",")
		ds, err = data.ReadIDX(imgs, lbls)
	case "cifar10":
		ds, err = data.ReadCIFAR10(strings.Split(arg, ",")...)
	case "png":
		ds, err = data.ReadPNGDir(arg)
	default:
		return nil, userErr("--data %s: not an image data set (fashion-mnist, idx:FILE, cifar10:FILE or png:FOLDER)", o.data)
	}
	if err != nil {
		return nil, inputErr(fmt.Errorf("--data %s: %w", o.data, err))
	}
	return ds, nil
}

// imageSettings is the budget of an image run: the defaults, then --config, then the
// flags given on the command line.
func imageSettings(o *options, cfg *images.Config) images.Settings {
	st := cfg.Apply(images.DefaultSettings())
	st.Seed = o.seed
	applyBudget(o, &st.TrainSteps, &st.FitSteps, &st.Batch, &st.LR)
	return st
}

// executeImages runs the modes for an image model: train, fit, sample, eval. f is the
// bundle read (nil when training from scratch), named name.
func executeImages(dev rt.Device, o *options, f *safetensors.File, name string, prog *progress, announce func(), stdout io.Writer) error {
	m, err := makeImageModel(dev, o, f, name, prog, announce, stdout)
	if err != nil {
		prog.clear()
		return err
	}
	if o.sample {
		if err := sampleImages(dev, m, o, name, prog, stdout); err != nil {
			return err
		}
	}
	if o.eval {
		return evalImages(dev, m, o, prog, stdout)
	}
	return nil
}

// makeImageModel trains (--train) or loads the model, fits it (--fit) and saves it.
func makeImageModel(dev rt.Device, o *options, f *safetensors.File, name string, prog *progress, announce func(), stdout io.Writer) (*images.Model, error) {
	ctl, release, err := watchedControl(o)
	if err != nil {
		return nil, err
	}
	defer release()
	var m *images.Model
	var train *data.Images
	if o.train || o.fit {
		if !isImageData(o.data) {
			return nil, userErr("--data %s is not an image data set, but the model is an image model: give --data fashion-mnist (or idx:, cifar10:, png:)", o.data)
		}
		if train, err = readImageData(o, false); err != nil {
			return nil, err
		}
	}
	cfg := &images.Config{}
	if o.config != "" {
		if !o.train && !o.fit {
			return nil, userErr("--config sets up --train and --fit; give one of them")
		}
		if cfg, err = images.LoadConfig(o.config); err != nil {
			return nil, inputErr(fmt.Errorf("--config: %w", err))
		}
	}
	if o.head != "" && !o.train && !o.fit {
		return nil, userErr("--head sets up --train and --fit; give one of them")
	}
	head, headChosen := images.HeadSimple, false
	if cfg.Head != "" {
		head, headChosen = images.HeadMode(cfg.Head), true // checked by LoadConfig
	}
	if o.head != "" {
		head, headChosen = images.HeadMode(o.head), true // checked with the flags
	}
	st := imageSettings(o, cfg)
	if train != nil && st.Batch > train.N {
		return nil, userErr("--batch %d is larger than the %d images of --data %s", st.Batch, train.N, o.data)
	}
	if o.fit && ocm.MsEpsStepsPerBatch*st.MsEpsPerStep > train.N {
		return nil, userErr("--data %s has %d images; the Analytic-DPM table draws %d·ms_eps_per_step = %d at a time: give a --config with ms_eps_per_step at most %d",
			o.data, train.N, ocm.MsEpsStepsPerBatch, ocm.MsEpsStepsPerBatch*st.MsEpsPerStep, train.N/ocm.MsEpsStepsPerBatch)
	}
	if o.train {
		if m, err = newImageModel(dev, o, cfg, head, train); err != nil {
			return nil, err
		}
		announce()
		if err := images.Train(dev, m, images.NewData(train, st.Seed), st, prog.update, ctl); err != nil {
			return nil, runErr(err)
		}
		prog.done(fmt.Sprintf("trained %s backbone: %s steps in %s s (%s s/step, %s skipped)", m.Dataset,
			m.Meta["backbone_steps"], m.Meta["backbone_seconds"], m.Meta["backbone_seconds_per_step"], m.Meta["backbone_skipped_steps"]))
	} else {
		if m, err = images.Load(dev, name, f); err != nil {
			return nil, inputErr(err)
		}
		if train != nil && (train.C != m.Config.InCh || train.H != m.Config.Resolution || train.W != m.Config.Resolution) {
			return nil, userErr("--data %s has %d×%d×%d images but the model in %s takes %d×%d×%d", o.data,
				train.C, train.H, train.W, name, m.Config.InCh, m.Config.Resolution, m.Config.Resolution)
		}
		announce()
	}
	if o.fit {
		if headChosen && head != m.HeadMode {
			m.NewHeads(dev, head, o.seed)
		}
		if err := images.Fit(dev, m, images.NewData(train, st.Seed+1), st, prog.update, ctl); err != nil {
			return nil, runErr(err)
		}
		prog.done(fmt.Sprintf("fitted %d heads (%s steps each) and the Analytic-DPM table in %s s", len(images.HeadKinds),
			m.Meta["head_steps"], m.Meta["fit_seconds"]))
	}
	if o.train || o.fit {
		path := o.weights
		if path == "" {
			path = filepath.Join(o.out, defaultImageBundleName)
		}
		if err := m.Save(path); err != nil {
			return nil, fmt.Errorf("saving %s: %w", path, err)
		}
		fmt.Fprintf(stdout, "ocm: wrote %s\n", path)
	}
	return m, nil
}

// newImageModel makes an untrained model of --unet (or --config's UNet) with heads
// of the given form for the images of train.
func newImageModel(dev rt.Device, o *options, rc *images.Config, head images.HeadMode, train *data.Images) (*images.Model, error) {
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
	kind, n := o.betaSchedule, o.diffusionSteps
	if ck, cn, err := rc.ApplySchedule(kind, n); err != nil {
		return nil, inputErr(fmt.Errorf("--config %s: %w", o.config, err))
	} else {
		if !o.set["beta-schedule"] {
			kind = ck
		}
		if !o.set["num-train-timesteps"] {
			n = cn
		}
	}
	sched, err := sampler.NewSchedule(kind, n)
	if err != nil {
		return nil, inputErr(err)
	}
	return images.NewModel(dev, o.data, cfg, sched, head, o.seed), nil
}

// sampleImages draws --num-samples images and writes the grid, the record and, on
// request, one PNG per image and an .npz.
func sampleImages(dev rt.Device, m *images.Model, o *options, name string, prog *progress, stdout io.Writer) error {
	n := o.numSamples
	if n == 0 {
		n = 64
	}
	cfg := images.SampleConfig{Method: o.method, Eta: o.eta, K: o.steps, Spacing: o.spacing, Cov: o.variance,
		N: n, Batch: 256, Seed: o.seed}
	cfg.ClipSigmaIdx, cfg.ClipPixel = images.PaperClipping(o.method)
	if o.clipSigmaIdx >= 0 {
		cfg.ClipSigmaIdx = o.clipSigmaIdx
	}
	start := time.Now()
	x, err := images.Sample(dev, m, cfg, prog.update)
	if err != nil {
		return inputErr(err)
	}
	el := time.Since(start).Seconds()
	prog.clear()
	rec := sampleRecord(m, cfg, o, name)
	files, err := writeImageSamples(o, x, rec)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ocm: %d %s images (EMA weights), %v %v covariance, %d steps, on %s in %.2f s → %s\n",
		n, m.Dataset, o.method, o.variance, o.steps, dev.Name(), el, strings.Join(files, ", "))
	return nil
}

// sampleRecord is every setting of a sampling run, for the JSON sidecar and the PNG's
// text chunks.
func sampleRecord(m *images.Model, cfg images.SampleConfig, o *options, name string) map[string]string {
	return map[string]string{
		"Software": "ocm " + version, "ocm.model": name, "ocm.dataset": m.Dataset,
		"ocm.weights_sha256": o.weightsSHA, "ocm.weights": "EMA (exponential moving average) of the training weights",
		"ocm.sampler": cfg.Method.String(), "ocm.eta": fmt.Sprint(cfg.Eta), "ocm.steps": fmt.Sprint(cfg.K),
		"ocm.timestep_spacing": cfg.Spacing.String(), "ocm.variance_type": cfg.Cov.String(),
		"ocm.clip_x0": "true", "ocm.clip_sigma_idx": fmt.Sprint(cfg.ClipSigmaIdx),
		"ocm.clip_pixel": fmt.Sprint(cfg.ClipPixel), "ocm.seed": fmt.Sprint(cfg.Seed),
		"ocm.num_samples": fmt.Sprint(cfg.N), "ocm.schedule": m.Sched.Kind.String(),
		"ocm.diffusion_steps": fmt.Sprint(m.Sched.N),
	}
}

// writeJSONRecord writes rec as indented JSON to path atomically.
func writeJSONRecord(path string, rec any) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return safetensors.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// featureClassifierModel is the embedded classifier whose features --eval scores
// Fashion-MNIST samples with.
const featureClassifierModel = "fashion-mnist-classifier"

// evalImages writes the table of every covariance estimator to --out.
func evalImages(dev rt.Device, m *images.Model, o *options, prog *progress, stdout io.Writer) error {
	if !isImageData(o.data) {
		o.data = m.Dataset
	}
	if !isImageData(o.data) {
		return userErr("--eval needs the model's data set: give --data (fashion-mnist, idx:, cifar10:, png:)")
	}
	if o.evalKsSet && slices.Min(o.evalKs) < 2 {
		return userErr("--eval-steps %d: the NLL (ocm-math §6) needs K ≥ 2, a trajectory from step 1 to N", slices.Min(o.evalKs))
	}
	train, err := readImageData(o, false)
	if err != nil {
		return err
	}
	test, err := readImageData(o, true)
	if err != nil {
		return err
	}
	clf, err := featureClassifier(dev, o, train, test, prog)
	if err != nil {
		return err
	}
	cfg := images.DefaultEvalConfig()
	cfg.TestImages, cfg.FDSamples, cfg.Seed = o.evalImages, o.fdSamples, o.seed
	if o.evalKsSet {
		cfg.Ks = o.evalKs
	}
	rep, err := images.Evaluate(dev, m, train, test, clf, cfg, prog.update)
	if err != nil {
		return inputErr(err)
	}
	paths, err := images.WriteReport(o.out, rep, version)
	if err != nil {
		return err
	}
	prog.done(fmt.Sprintf("evaluated %s in %.0f s", m.Dataset, rep.Seconds))
	fmt.Fprintf(stdout, "ocm: report → %s\n", strings.Join(paths, ", "))
	return nil
}

// featureClassifier returns --classifier, the embedded classifier of the data set,
// or one trained now (and written to --out for next time).
func featureClassifier(dev rt.Device, o *options, train, test *data.Images, prog *progress) (*nn.Classifier, error) {
	if o.classifier != "" {
		f, err := safetensors.ReadFile(o.classifier)
		if err != nil {
			return nil, inputErr(fmt.Errorf("--classifier: %w", err))
		}
		clf, err := featurenet.Load(dev, o.classifier, f)
		return clf, inputErr(err)
	}
	if o.data == "fashion-mnist" {
		if raw, info, err := assets.Load(featureClassifierModel); err == nil {
			f, err := safetensors.Read("embedded "+info.Name, raw)
			if err != nil {
				return nil, err
			}
			return featurenet.Load(dev, "embedded "+info.Name, f)
		}
	}
	cfg := featurenet.DefaultTrainConfig() // its own fixed seed: the same features for every run
	clf, err := featurenet.Train(dev, train, cfg, func(done, total int, loss float64) { prog.update("train classifier", done, total, loss) })
	if err != nil {
		return nil, inputErr(fmt.Errorf("--data %s: feature classifier: %w", o.data, err))
	}
	acc := featurenet.Accuracy(dev, clf, test, 256)
	path := filepath.Join(o.out, "feature-classifier.safetensors")
	md := map[string]string{"dataset": o.data, "test_accuracy": fmt.Sprintf("%.4f", acc), "seed": fmt.Sprint(cfg.Seed),
		"steps": fmt.Sprint(cfg.Steps), "batch": fmt.Sprint(cfg.Batch)}
	if err := featurenet.Save(path, clf, md); err != nil {
		return nil, err
	}
	prog.done(fmt.Sprintf("trained the feature classifier: test accuracy %.4f → %s", acc, path))
	return clf, nil
}

// writeImageSamples writes samples.png (a grid with the record in its text chunks),
// samples.json (the record) and, on request, one PNG per image and samples.npz.
func writeImageSamples(o *options, x *rt.Tensor, rec map[string]string) ([]string, error) {
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	px := x.Data()
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	grid := filepath.Join(o.out, "samples.png")
	if err := imagefile.WriteGrid(grid, px, n, c, h, w, cols, 2, rec); err != nil {
		return nil, err
	}
	files := []string{grid}
	if o.saveEach {
		each, err := imagefile.WriteEach(o.out, "samples_", px, n, c, h, w, rec)
		if err != nil {
			return nil, err
		}
		files = append(files, fmt.Sprintf("%s … (%d PNGs)", each[0], len(each)))
	}
	if o.npz {
		p := filepath.Join(o.out, "samples.npz")
		if err := imagefile.WriteNPZ(p, px, n, c, h, w); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	js := filepath.Join(o.out, "samples.json")
	if err := writeJSONRecord(js, rec); err != nil {
		return nil, fmt.Errorf("writing %s: %w", js, err)
	}
	return append(files, js), nil
}
