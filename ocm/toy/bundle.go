package toy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"ocm/nn"
	"ocm/nn/safetensors"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/runtime/philox"
	"ocm/sampler"
)

// BundleFormat names the layout of a toy bundle in its safetensors metadata.
const BundleFormat = "ocm-toy-bundle/1"

// Model is everything the toy study trains: the backbone, the covariance heads on the
// learned score and on the exact score, and the Analytic-DPM tables of both.
type Model struct {
	Dataset    string       // "mog9", "mog40" or a mixture JSON file
	Mix        *ocm.Mixture // the data distribution
	Sched      *sampler.Schedule
	Net        *nn.ToyMLP
	HeadHidden []int
	Heads      map[ocm.HeadKind]*ocm.Head // read the backbone's features
	MsEps      []float64                  // (N+1) from the backbone
	ExactHeads map[ocm.HeadKind]*ocm.Head // read [x_t, temb] and learn from the exact score
	ExactMsEps []float64                  // (N+1) from the exact score
	Meta       map[string]string          // training settings, for the record
}

// NewModel returns an untrained model for mixture mix.
func NewModel(dev rt.Device, dataset string, mix *ocm.Mixture, sched *sampler.Schedule, hidden int, headHidden []int, seed uint64) *Model {
	key := philox.Key{Seed: seed, Stream: 1 << 32}
	m := &Model{Dataset: dataset, Mix: mix, Sched: sched, HeadHidden: headHidden,
		Net:   nn.NewToyMLP(dev, mix.Dim, hidden, key.Split(0)),
		Heads: map[ocm.HeadKind]*ocm.Head{}, ExactHeads: map[ocm.HeadKind]*ocm.Head{},
		Meta: map[string]string{}}
	for i, k := range ocm.HeadKinds() {
		m.Heads[k] = ocm.NewMLPHead(dev, k, hidden, mix.Dim, headHidden, key.Split(uint64(10+i)))
		m.ExactHeads[k] = ocm.NewMLPHead(dev, k, mix.Dim+nn.ToyTembDim, mix.Dim, headHidden, key.Split(uint64(20+i)))
	}
	return m
}

// NetTeacher returns the learned backbone as a teacher.
func (m *Model) NetTeacher() *ocm.NetTeacher { return &ocm.NetTeacher{Net: m.Net, Sched: m.Sched} }

// ExactTeacher returns the mixture's exact score as a teacher.
func (m *Model) ExactTeacher() *ocm.MixtureTeacher { return ocm.NewMixtureTeacher(m.Mix, m.Sched) }

// Predictor returns the denoiser of covariance cov, on the exact or the learned score.
func (m *Model) Predictor(cov ocm.Covariance, exactScore bool) *ocm.Predictor {
	p := &ocm.Predictor{Teacher: m.NetTeacher(), Sched: m.Sched, Cov: cov, MsEps: m.MsEps,
		Exact: m.ExactTeacher(), CovMax: m.Mix.VarianceBound()}
	heads := m.Heads
	if exactScore || cov == ocm.CovExactDiag || cov == ocm.CovExactFull {
		p.Teacher, p.MsEps, heads = p.Exact, m.ExactMsEps, m.ExactHeads
	}
	switch cov {
	case ocm.CovOCM:
		p.Head = heads[ocm.HeadOCM]
	case ocm.CovSN:
		p.Head = heads[ocm.HeadSN]
	case ocm.CovNPR:
		p.Head = heads[ocm.HeadNPR]
	}
	return p
}

// params lists every tensor of the bundle with its file name.
func (m *Model) params() []*nn.Param {
	var ps []*nn.Param
	for _, p := range m.Net.Params() {
		ps = append(ps, &nn.Param{Name: "backbone." + p.Name, Value: p.Value})
	}
	for _, k := range ocm.HeadKinds() {
		ps = append(ps, m.Heads[k].Params()...)
		for _, p := range m.ExactHeads[k].Params() {
			ps = append(ps, &nn.Param{Name: "exact." + p.Name, Value: p.Value})
		}
	}
	return ps
}

// Save writes the bundle to path atomically (zstd-compressed when path ends in .zst).
func (m *Model) Save(path string) error {
	return safetensors.WriteFile(path, m.file(), safetensors.F32)
}

// file is the bundle: every tensor and the metadata.
func (m *Model) file() *safetensors.File {
	f := &safetensors.File{Metadata: m.metadata()}
	for _, p := range m.params() {
		f.Tensors = append(f.Tensors, safetensors.Tensor{Name: p.Name, Shape: p.Value.Shape(), Data: p.Value.Data()})
	}
	for name, tab := range map[string][]float64{"analytic.ms_eps": m.MsEps, "exact.analytic.ms_eps": m.ExactMsEps} {
		if tab != nil {
			f.Tensors = append(f.Tensors, safetensors.Tensor{Name: name, Shape: []int{len(tab)}, Data: toF32(tab)})
		}
	}
	return f
}

func (m *Model) metadata() map[string]string {
	md := map[string]string{"format": BundleFormat, "model": "toy-mlp", "dataset": m.Dataset,
		"dim": strconv.Itoa(m.Mix.Dim), "hidden": strconv.Itoa(m.Net.Hidden),
		"head_hidden": joinInts(m.HeadHidden), "schedule": m.Sched.Kind.String(),
		"diffusion_steps": strconv.Itoa(m.Sched.N)}
	if mj, err := json.Marshal(m.Mix); err == nil {
		md["mixture"] = string(mj)
	}
	for k, v := range m.Meta {
		md["train."+k] = v
	}
	return md
}

// Load reads a bundle written by Save. name is used in errors (the file or "embedded").
// Every size in the metadata is checked before the model is built: the schedule's
// steps against ocm.MaxDiffusionSteps, the widths and the mixture against fixed
// bounds, and the parameter count they imply against the values the file holds (see
// ocm.CheckParamBudget). A bundle with a NaN or ±Inf in a tensor, or with a tensor
// the model has no place for, is refused by the tensor's name.
func Load(dev rt.Device, name string, f *safetensors.File) (*Model, error) {
	md := f.Metadata
	if md["format"] != BundleFormat {
		return nil, fmt.Errorf("%s: not a toy bundle (metadata format %q, want %q)", name, md["format"], BundleFormat)
	}
	mix, err := ocm.ParseMixtureJSON([]byte(md["mixture"]))
	if err != nil {
		return nil, fmt.Errorf("%s: mixture: %w", name, err)
	}
	kind, err := sampler.ParseBetaSchedule(md["schedule"])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	n, err := ocm.ParseDiffusionSteps(name, md["diffusion_steps"])
	if err != nil {
		return nil, err
	}
	hidden, err2 := strconv.Atoi(md["hidden"])
	headHidden, err3 := splitInts(md["head_hidden"])
	if err2 != nil || err3 != nil || hidden < 1 || hidden > 1<<16 || len(headHidden) > maxHeadLayers {
		return nil, fmt.Errorf("%s: metadata hidden/head_hidden are not valid widths (1 to 65536, at most %d head layers)", name, maxHeadLayers)
	}
	need := paramCount(mix.Dim, hidden, headHidden)
	if err := ocm.CheckParamBudget(name, fmt.Sprintf("dim %d, hidden %d, head_hidden %v", mix.Dim, hidden, headHidden), need, f); err != nil {
		return nil, err
	}
	if err := ocm.CheckTensorsFinite(name, f); err != nil {
		return nil, err
	}
	sched, err := sampler.NewSchedule(kind, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m := NewModel(dev, md["dataset"], mix, sched, hidden, headHidden, 0)
	if err := m.checkKnown(name, f); err != nil {
		return nil, err
	}
	for k, v := range md {
		if rest, ok := strings.CutPrefix(k, "train."); ok {
			m.Meta[rest] = v
		}
	}
	if err := m.fill(dev, name, f); err != nil {
		return nil, err
	}
	return m, nil
}

// maxHeadLayers is the most hidden layers a head may have.
const maxHeadLayers = 16

// paramCount is the number of parameters of a toy model (backbone, and the heads on
// the backbone's features and on the exact score) of data dimension dim, backbone
// width hidden and head widths headHidden, computed without building it.
func paramCount(dim, hidden int, headHidden []int) int64 {
	mlp := func(widths ...int) int64 {
		var n int64
		for i := 0; i+1 < len(widths); i++ {
			n += int64(widths[i])*int64(widths[i+1]) + int64(widths[i+1])
		}
		return n
	}
	head := func(in int) int64 { return mlp(append(append([]int{in}, headHidden...), dim)...) }
	backbone := mlp(dim+nn.ToyTembDim, hidden, hidden, hidden, dim)
	return backbone + int64(len(ocm.HeadKinds()))*(head(hidden)+head(dim+nn.ToyTembDim))
}

// checkKnown refuses a tensor of f that is not one of the model's, like image
// bundles do: a bundle with a tensor the model would ignore is not this model's.
func (m *Model) checkKnown(name string, f *safetensors.File) error {
	known := map[string]bool{"analytic.ms_eps": true, "exact.analytic.ms_eps": true}
	for _, p := range m.params() {
		known[p.Name] = true
	}
	for _, t := range f.Tensors {
		if !known[t.Name] {
			return fmt.Errorf("%s: tensor %q is not part of a toy model of dimension %d, hidden %d, head widths %v",
				name, t.Name, m.Mix.Dim, m.Net.Hidden, m.HeadHidden)
		}
	}
	return nil
}

// fill copies the bundle's tensors into the model, checking names and shapes.
func (m *Model) fill(dev rt.Device, name string, f *safetensors.File) error {
	if err := ocm.FillParams(dev, name, f, m.params()); err != nil {
		return err
	}
	for tn, dst := range map[string]*[]float64{"analytic.ms_eps": &m.MsEps, "exact.analytic.ms_eps": &m.ExactMsEps} {
		if t, ok := f.Get(tn); ok {
			if len(t.Data) != m.Sched.N+1 {
				return fmt.Errorf("%s: tensor %q has %d values, want %d", name, tn, len(t.Data), m.Sched.N+1)
			}
			*dst = rt.Widen(t.Data)
		}
	}
	return nil
}

func toF32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func splitInts(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 || v > 1<<16 {
			return nil, fmt.Errorf("bad width %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}
