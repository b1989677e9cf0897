// Package cli holds the tables of ocm's command line: which flags each mode and model
// kind reads (and what happens to a flag given where it does nothing), the names
// diffusers uses for the same settings, the grouped --help, suggestions for mistyped
// flags, and the progress line a person reads.
package cli

// Mode is a set of ocm's modes (the flags --train, --fit, …).
type Mode uint16

// The modes.
const (
	Train Mode = 1 << iota
	Fit
	Sample
	Eval
	Bench
	Doctor
	List
	Version

	// Model is every mode that reads or makes a model.
	Model = Train | Fit | Sample | Eval
	// Alone is the modes that run by themselves.
	Alone = Bench | Doctor | List | Version
	// AnyMode is every mode.
	AnyMode = Model | Alone
)

// modeNames are the modes' flags, in the order of the bits.
var modeNames = []string{"train", "fit", "sample", "eval", "bench", "doctor", "list", "version"}

// Kind is a set of model kinds.
type Kind uint8

// The model kinds: toy (a Gaussian mixture) and image models.
const (
	Toy Kind = 1 << iota
	Image
	// AnyKind is both kinds (and what modes without a model use).
	AnyKind = Toy | Image
)

// Use is one cell of the table where a flag takes effect: any of Modes, on a model of
// any of Kinds, when the flag's value is Value ("" for any value) and every flag of
// Needs has the value given there.
type Use struct {
	Modes Mode
	Kinds Kind
	Value string
	Needs map[string]string
}

// Rule says where a flag takes effect and what a flag given elsewhere gets: an error
// (exit status 2), or with Warn a one-line warning (for flags that scripts pass to
// every run, where refusing would break a sensible script). Why completes the
// sentence "--FLAG …" and says where it does act.
type Rule struct {
	Flag      string
	Group     string // its --help group
	Uses      []Use
	Warn      bool
	WarnValue string // a value that only warns where the flag does nothing (it restates what happens)
	Why       string
}

// Help groups, in --help's order.
const (
	GroupModes  = "Modes (they combine and run in the order train, fit, sample, eval)"
	GroupModel  = "Model and data"
	GroupTrain  = "--train and --fit"
	GroupSample = "--sample"
	GroupEval   = "--eval"
	GroupRun    = "Every run"
	GroupCheck  = "Checkpoints and resuming (--train, --fit)"
	GroupBench  = "--bench"
)

// Groups lists the help groups in order.
var Groups = []string{GroupModes, GroupModel, GroupTrain, GroupSample, GroupEval, GroupRun, GroupCheck, GroupBench}

func use(m Mode, k Kind) Use { return Use{Modes: m, Kinds: k} }

// Rules is the flag-applicability table: every flag of ocm, where it takes effect,
// and what it gets where it does not. The mode flags themselves are listed with
// Modes AnyMode (they always take effect).
var Rules = []Rule{
	{Flag: "train", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "fit", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "sample", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "eval", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "list", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "doctor", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "bench", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},
	{Flag: "version", Group: GroupModes, Uses: []Use{use(AnyMode, AnyKind)}},

	{Flag: "data", Group: GroupModel, Uses: []Use{use(Train|Fit|Eval, AnyKind), use(Sample, Toy)},
		Warn: true, Why: "is the training data of --train/--fit and the reference of --eval; image sampling does not read it"},
	{Flag: "data-dir", Group: GroupModel, Uses: []Use{{Modes: Train | Fit | Eval, Kinds: Image, Needs: map[string]string{"data": "fashion-mnist"}}},
		Warn: true, Why: "is the folder of --data fashion-mnist (for --train, --fit, --eval)"},
	{Flag: "model", Group: GroupModel, Uses: []Use{{Modes: Fit | Sample | Eval, Kinds: AnyKind, Needs: map[string]string{"weights": ""}}},
		Why: "picks an embedded model for --fit, --sample or --eval when --weights is not given"},
	{Flag: "weights", Group: GroupModel, Uses: []Use{use(Model, AnyKind)},
		Why: "is the bundle of --train, --fit, --sample and --eval"},
	{Flag: "arch", Group: GroupModel, Uses: []Use{use(Fit|Sample|Eval, Image)},
		Why: "reads --weights as a published model's checkpoint for --fit, --sample and --eval"},
	{Flag: "save", Group: GroupModel, Uses: []Use{use(Train|Fit, AnyKind), {Modes: Sample | Eval, Kinds: Image, Needs: map[string]string{"checkpoint": "yes"}}},
		Why: "names the bundle --train/--fit write, or the ocm bundle of an --arch checkpoint"},
	{Flag: "overwrite", Group: GroupTrain, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "lets --train/--fit replace an existing bundle"},
	{Flag: "init-from", Group: GroupTrain, Uses: []Use{use(Train, AnyKind)},
		Why: "is the bundle --train starts from"},
	{Flag: "probes", Group: GroupSample, Uses: []Use{{Modes: Sample, Kinds: AnyKind, Needs: map[string]string{"variance-type": "ocm-probe"}}, use(Eval, AnyKind), use(Fit, Image)},
		Why: "is the probes of --variance-type ocm-probe and of the OCM target of --fit on images, and with --eval adds the head-free ocm-probe rows"},
	{Flag: "eval-data", Group: GroupEval, Uses: []Use{use(Eval|Fit, Image)},
		Why: "is the data set --eval scores image models on (and the learning curve of --fit)"},
	{Flag: "config", Group: GroupTrain, Uses: []Use{use(Train|Fit, Image)},
		Why: "sets up --train and --fit of image models"},
	{Flag: "unet", Group: GroupTrain, Uses: []Use{use(Train, Image)},
		Why: "chooses the UNet of --train on images; a bundle's UNet is fixed"},
	{Flag: "head", Group: GroupTrain, Uses: []Use{use(Train|Fit, Image)},
		Why: "chooses the heads of --train/--fit on images"},
	{Flag: "train-steps", Group: GroupTrain, Uses: []Use{use(Train, AnyKind)},
		Why: "is the budget of --train"},
	{Flag: "fit-steps", Group: GroupTrain, Uses: []Use{use(Fit, AnyKind)},
		Why: "is the budget of --fit"},
	{Flag: "batch", Group: GroupTrain, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "is the batch of --train and --fit"},
	{Flag: "lr", Group: GroupTrain, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "is the learning rate of --train and --fit"},
	{Flag: "fit-preset", Group: GroupTrain, Uses: []Use{use(Fit, Image)},
		Why: "chooses the head-fitting settings of --fit on images"},
	{Flag: "fit-backbone", Group: GroupTrain, Uses: []Use{use(Fit, Image)},
		Why: "is the backbone's mode while --fit fits heads on images"},
	{Flag: "curve-images", Group: GroupTrain, Uses: []Use{use(Fit, Image)},
		Why: "sizes the learning curve of --fit on images"},
	{Flag: "curve-every", Group: GroupTrain, Uses: []Use{use(Fit, Image)},
		Why: "is the cadence of the learning curve of --fit on images"},
	{Flag: "beta-schedule", Group: GroupTrain, Uses: []Use{use(Train, AnyKind)},
		Why: "sets up --train; a trained model keeps the schedule it was trained with"},
	{Flag: "num-train-timesteps", Group: GroupTrain, Uses: []Use{use(Train, AnyKind)},
		Why: "sets up --train; a trained model keeps its N"},

	{Flag: "steps", Group: GroupSample, Uses: []Use{use(Sample, AnyKind)},
		Why: "is K of --sample; --eval measures at every K of --eval-steps"},
	{Flag: "sampler", Group: GroupSample, Uses: []Use{use(Sample, AnyKind)},
		Why: "chooses the reverse process of --sample; --eval measures DDPM and DDIM"},
	{Flag: "eta", Group: GroupSample, Uses: []Use{{Modes: Sample, Kinds: AnyKind, Needs: map[string]string{"sampler": "ddim"}}},
		Why: "is DDIM's η: give --sampler ddim (DDPM's noise is fixed by --variance-type)"},
	{Flag: "variance-type", Group: GroupSample, Uses: []Use{use(Sample, AnyKind)},
		Why: "chooses the covariance of --sample; --eval measures every one"},
	{Flag: "timestep-spacing", Group: GroupSample, Uses: []Use{use(Sample, AnyKind)},
		Why: "is the step sequence of --sample; --eval uses even spacing"},
	{Flag: "num-samples", Group: GroupSample, Uses: []Use{use(Sample, AnyKind)},
		Why: "is the size of --sample; --eval has --eval-samples (toy) and --fd-samples (images)"},
	{Flag: "exact-score", Group: GroupSample, Uses: []Use{use(Sample, Toy)},
		Why: "samples a toy model with its mixture's exact score; image models have no exact score"},
	{Flag: "clip-x0", Group: GroupSample, Uses: []Use{use(Sample, Toy)}, WarnValue: "true",
		Why: "clamps x̂0 while sampling a toy model; image sampling always clamps x̂0 to [-1, 1] (--clip-x0=false cannot apply there)"},
	{Flag: "clip-sigma-idx", Group: GroupSample, Uses: []Use{use(Sample, Image)},
		Why: "caps the last variances of image sampling"},
	{Flag: "save-each", Group: GroupSample, Uses: []Use{use(Sample, Image)},
		Why: "writes one PNG per image of --sample on an image model; toy samples are written to samples.csv"},
	{Flag: "npz", Group: GroupSample, Uses: []Use{use(Sample, Image)},
		Why: "writes the images of --sample on an image model as .npz; toy samples are written to samples.csv"},

	{Flag: "eval-steps", Group: GroupEval, Uses: []Use{use(Eval, AnyKind)},
		Why: "is the K grid of --eval; --sample uses --steps"},
	{Flag: "eval-images", Group: GroupEval, Uses: []Use{use(Eval, Image)},
		Why: "is the NLL's test-image count of --eval on images"},
	{Flag: "fd-samples", Group: GroupEval, Uses: []Use{use(Eval, Image)},
		Why: "is the sample count of the Fréchet distance of --eval on images"},
	{Flag: "classifier", Group: GroupEval, Uses: []Use{use(Eval, Image)},
		Why: "is the feature classifier of --eval on images"},
	{Flag: "eval-samples", Group: GroupEval, Uses: []Use{use(Eval, Toy)},
		Why: "is the MMD sample count of --eval on toy models (images: --fd-samples)"},
	{Flag: "eval-seeds", Group: GroupEval, Uses: []Use{use(Eval, Toy)},
		Why: "is the MMD seed count of --eval on toy models"},

	{Flag: "out", Group: GroupRun, Uses: []Use{use(Model|Bench, AnyKind)}, Warn: true,
		Why: "is the output folder of --train, --fit, --sample, --eval and --bench"},
	{Flag: "device", Group: GroupRun, Uses: []Use{use(Model, AnyKind)}, Warn: true,
		Why: "chooses the device of --train, --fit, --sample and --eval (--doctor tests every device)"},
	{Flag: "threads", Group: GroupRun, Uses: []Use{use(Model|Bench|Doctor, AnyKind)}, Warn: true,
		Why: "sets the CPU threads of the work modes"},
	{Flag: "seed", Group: GroupRun, Uses: []Use{use(Model, AnyKind)}, Warn: true,
		Why: "seeds --train, --fit, --sample and --eval"},
	{Flag: "quiet", Group: GroupRun, Uses: []Use{use(Model, AnyKind)}, Warn: true,
		Why: "silences the progress and the device line of --train, --fit, --sample and --eval (warnings still print)"},
	{Flag: "cpuprofile", Group: GroupRun, Uses: []Use{use(Model|Bench, AnyKind)}, Warn: true,
		Why: "profiles --train, --fit, --sample, --eval and --bench"},

	{Flag: "resume", Group: GroupCheck, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "continues --train or --fit: give the flags of the interrupted run"},
	{Flag: "checkpoint-dir", Group: GroupCheck, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "is where --train and --fit write checkpoints"},
	{Flag: "checkpoint-every", Group: GroupCheck, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "is the checkpoint interval of --train and --fit"},
	{Flag: "checkpoint-keep", Group: GroupCheck, Uses: []Use{use(Train|Fit, AnyKind)},
		Why: "is how many checkpoints --train and --fit keep"},

	{Flag: "bench-items", Group: GroupBench, Uses: []Use{use(Bench, AnyKind)}, Why: "chooses what --bench measures"},
	{Flag: "bench-torch", Group: GroupBench, Uses: []Use{use(Bench, AnyKind)}, Why: "is the toy-mlp's PyTorch script of --bench"},
	{Flag: "bench-python", Group: GroupBench, Uses: []Use{use(Bench, AnyKind)}, Why: "is the python of --bench"},
	{Flag: "bench-rounds", Group: GroupBench, Uses: []Use{use(Bench, AnyKind)}, Why: "is the round count of --bench"},
}

// Conflicts are pairs of flags that choose the same thing; giving both is an error.
var Conflicts = [][2]string{{"model", "weights"}}

// RuleOf returns the rule of flag, and false for a flag the table does not know.
func RuleOf(flag string) (Rule, bool) {
	for _, r := range Rules {
		if r.Flag == flag {
			return r, true
		}
	}
	return Rule{}, false
}
