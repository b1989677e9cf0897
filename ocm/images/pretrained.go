package images

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"ocm/nn"
	"ocm/ocm"
	rt "ocm/runtime"
	"ocm/sampler"
)

// FromCheckpoint makes the image model of a published checkpoint ck (nn.Load): its
// backbone, its fitted OCM head when the file has one (and unfitted SN and NPR heads
// of the same form, for --fit), and the schedule and time convention the model was
// trained with. dataset names the data it models.
func FromCheckpoint(dev rt.Device, ck *nn.Checkpoint, dataset string) (*Model, error) {
	p := ck.Model
	kind, err := sampler.ParseBetaSchedule(p.Schedule)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	sched, err := sampler.NewSchedule(kind, p.N)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	sched.TimeShift = p.TimeShift
	arch := p.Arch
	m := &Model{Dataset: dataset, Config: arch.Config, Sched: sched, Net: ck.Net, Arch: &arch,
		Meta: map[string]string{"published_model": p.Name}}
	m.newArchHeads(dev, 0)
	if ck.Head != nil {
		dst := m.Heads[ocm.HeadOCM].Params()
		src := ck.Head.Params()
		if len(src) != len(dst) {
			return nil, fmt.Errorf("%s: the head has %d tensors, ocm's %s head %d", p.Name, len(src), m.HeadMode, len(dst))
		}
		for i := range src {
			rt.CopyInto(dst[i].Value, src[i].Value)
		}
	}
	m.teacher = &ocm.CachedTeacher{Teacher: &ocm.NetTeacher{Net: m.Net, Sched: sched}}
	return m, nil
}

// newArchHeads gives m unfitted heads of its published family's form, drawn from seed.
func (m *Model) newArchHeads(dev rt.Device, seed uint64) {
	m.HeadMode = HeadSimple
	if m.Arch.Head.Mode == string(HeadComplex) {
		m.HeadMode = HeadComplex
	}
	if m.Arch.Head.Mode == "" {
		m.Arch.Head = nn.HeadArch{Mode: string(m.HeadMode), NormEps: nn.UNetEps}
	}
	var emb ocm.TimeEmbedder
	if m.HeadMode == HeadComplex {
		emb = func(t []float64) *rt.Tensor { return m.Net.TimeEmbedding(nn.Eval(), t).Value }
	}
	key := modelKey(seed)
	m.Heads = map[ocm.HeadKind]*ocm.Head{}
	for i, k := range ocm.HeadKinds() {
		h := m.Arch.NewHead(dev, "head."+k.String(), key.Split(uint64(10+i)))
		m.Heads[k] = ocm.WrapConvHead(k, h, emb)
	}
}

// archMetadata adds what a bundle of a published model needs to be rebuilt: its
// architecture (the family's conventions) and time convention.
func (m *Model) archMetadata(md map[string]string) {
	if m.Arch == nil {
		return
	}
	b, _ := json.Marshal(m.Arch)
	md["arch"] = string(b)
	md["time_shift"] = strconv.Itoa(m.Sched.TimeShift)
}

// newModelFromArch rebuilds the untrained shape of a bundle with an "arch" key.
func newModelFromArch(dev rt.Device, md map[string]string, sched *sampler.Schedule) (*Model, error) {
	var arch nn.Arch
	if err := json.Unmarshal([]byte(md["arch"]), &arch); err != nil {
		return nil, fmt.Errorf("metadata arch: %v", err)
	}
	if err := CheckConfig(arch.Config); err != nil {
		return nil, fmt.Errorf("metadata arch: %w", err)
	}
	shift, err := strconv.Atoi(md["time_shift"])
	if err != nil || shift < 0 || shift > 1 {
		return nil, fmt.Errorf("metadata time_shift %q: want 0 or 1", md["time_shift"])
	}
	sched.TimeShift = shift
	m := &Model{Dataset: md["dataset"], Config: arch.Config, Sched: sched, Net: arch.NewUNet(dev, modelKey(0).Split(0)),
		Arch: &arch, Meta: map[string]string{}}
	m.newArchHeads(dev, 0)
	m.teacher = &ocm.CachedTeacher{Teacher: &ocm.NetTeacher{Net: m.Net, Sched: sched}}
	return m, nil
}

// CheckpointNotes says what a conversion changed and which tensors did not match,
// one line each.
func CheckpointNotes(ck *nn.Checkpoint) []string {
	out := slices.Clone(ck.Notes)
	if len(ck.Missing) > 0 {
		out = append(out, fmt.Sprintf("no fitted head (missing %s); sample with --variance-type small, large or analytic after --fit",
			strings.Join(ck.Missing, ", ")))
	}
	if len(ck.Unexpected) > 0 {
		out = append(out, fmt.Sprintf("%d tensors not used: %s", len(ck.Unexpected), strings.Join(ck.Unexpected, ", ")))
	}
	return out
}
