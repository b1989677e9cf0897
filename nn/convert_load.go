package nn

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ocm/nn/safetensors"
	"ocm/nn/torchfile"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// SourceTensor is one tensor of a checkpoint, float32 in row-major order.
type SourceTensor struct {
	Shape []int
	Data  []float32
}

// Numel returns the number of values.
func (t *SourceTensor) Numel() int { return len(t.Data) }

// Source is a checkpoint's tensors by name, in file order.
type Source struct {
	Names   []string
	Tensors map[string]*SourceTensor
}

// SourceFromTorch returns the tensors of a torch.save file.
func SourceFromTorch(f *torchfile.File) *Source {
	s := &Source{Tensors: map[string]*SourceTensor{}}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		s.Names = append(s.Names, t.Name)
		s.Tensors[t.Name] = &SourceTensor{Shape: t.Shape, Data: t.Data}
	}
	return s
}

// SourceFromSafetensors returns the tensors of a safetensors file.
func SourceFromSafetensors(f *safetensors.File) *Source {
	s := &Source{Tensors: map[string]*SourceTensor{}}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		s.Names = append(s.Names, t.Name)
		s.Tensors[t.Name] = &SourceTensor{Shape: t.Shape, Data: t.Data}
	}
	return s
}

// Checkpoint is a published model loaded into ocm's UNet: the backbone, the
// checkpoint's covariance head when the file has one, and what did not match.
type Checkpoint struct {
	Model *Published // Arch.Config filled in (from config.json for diffusers)
	Net   *UNet
	// Head is the checkpoint's head (ocm's ConvHead named "head"), nil when the
	// file has no head tensors (a backbone without a fitted head).
	Head *ConvHead
	// Prefix is the wrapper stripped from every name ("module.", "model.", …; ""
	// for a bare state dict).
	Prefix string
	// Missing lists the head tensors the file lacks (a missing backbone tensor is
	// an error), under their names in the family's convention.
	Missing []string
	// Unexpected lists the file's tensors that nothing reads.
	Unexpected []string
	// Notes says what the conversion changed, one line each (e.g. the dropped
	// variance channels of a learned-variance output).
	Notes []string
}

// LoadPublished loads the checkpoint at path as the published model called name
// (see PublishedModels): a torch.save file (zip or legacy) or a safetensors file;
// for "diffusers", a directory holding config.json and
// diffusion_pytorch_model.safetensors (or .bin), or that weights file itself.
// Every error is a one-line *torchfile.Error naming the file.
func LoadPublished(dev rt.Device, path, name string) (*Checkpoint, error) {
	p, err := LookupPublished(name)
	if err != nil {
		return nil, &torchfile.Error{File: path, Reason: err.Error()}
	}
	return Load(dev, path, p)
}

// Load is LoadPublished for a model description the caller has adjusted (its
// Prefix, say); p is modified for a diffusers model (its Arch and schedule come
// from the files).
func Load(dev rt.Device, path string, p *Published) (*Checkpoint, error) {
	weights := path
	if p.Arch.Family == FamilyDiffusers {
		var err error
		if weights, err = loadDiffusersArch(p, path); err != nil {
			return nil, err
		}
	}
	src, err := ReadSource(weights)
	if err != nil {
		return nil, err
	}
	ck, err := Convert(dev, p, src)
	if err != nil {
		return nil, &torchfile.Error{File: weights, Reason: err.Error()}
	}
	return ck, nil
}

// ReadSource reads a torch.save file or a safetensors file (recognised by its
// bytes, not its name).
func ReadSource(path string) (*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &torchfile.Error{File: path, Reason: err.Error()}
	}
	if torchfile.Sniff(data) != "" {
		f, err := torchfile.Read(path, data)
		if err != nil {
			return nil, err
		}
		return SourceFromTorch(f), nil
	}
	f, err := safetensors.Decode(path, data)
	if err != nil {
		return nil, &torchfile.Error{File: path, Reason: "neither a torch.save file nor safetensors: " + err.Error()}
	}
	return SourceFromSafetensors(f), nil
}

// Convert builds p's UNet (and head) and fills it from src. A backbone tensor
// that is missing or has the wrong shape is an error; so is a head that is only
// partly present.
func Convert(dev rt.Device, p *Published, src *Source) (*Checkpoint, error) {
	a := &p.Arch
	if err := a.Config.CheckVariant(); err != nil {
		return nil, fmt.Errorf("model %s: %w", p.Name, err)
	}
	if need, have := minParams(a.Config), src.values(); need > have {
		return nil, fmt.Errorf("model %s needs at least %d values, the file holds %d", p.Name, need, have)
	}
	key := philox.Key{Seed: 0x0c0ffee}
	ck := &Checkpoint{Model: p, Net: a.NewUNet(dev, key), Head: a.NewHead(dev, "head", key.Split(7))}
	bs, err := familyBindings(ck, src)
	if err != nil {
		return nil, err
	}
	ck.Prefix = p.Prefix
	if ck.Prefix == "" {
		if ck.Prefix, err = choosePrefix(bs, src); err != nil {
			return nil, err
		}
	}
	if err := ck.apply(bs, src); err != nil {
		return nil, fmt.Errorf("model %s (%s): %w", p.Name, a.Family, err)
	}
	if out := a.OutCh; out != 0 && out != a.Config.InCh {
		ck.Notes = append(ck.Notes, fmt.Sprintf("the output convolution has %d channels (learned variance): ocm keeps ε, the first %d", out, a.Config.InCh))
	}
	return ck, nil
}

// minParams is a lower bound on the parameters of cfg's UNet (the second 3×3
// convolution of every residual block), checked against the file before the
// network is allocated, so that a config describing a huge model fails at once.
func minParams(cfg UNetConfig) int64 {
	var n int64
	for _, m := range cfg.Mult {
		out := int64(cfg.Ch) * int64(m)
		n += int64(2*cfg.NumRes+1) * 9 * out * out
	}
	last := int64(cfg.Ch) * int64(cfg.Mult[len(cfg.Mult)-1])
	return n + 2*9*last*last
}

func (s *Source) values() int64 {
	var n int64
	for _, t := range s.Tensors {
		n += int64(t.Numel())
	}
	return n
}

// familyBindings returns the bindings of the checkpoint's family.
func familyBindings(ck *Checkpoint, src *Source) ([]binding, error) {
	a := &ck.Model.Arch
	out := a.OutCh
	if out == 0 {
		out = a.Config.InCh
	}
	switch a.Family {
	case FamilyIDDPM:
		return iddpmBindings(ck.Net, ck.Head, out)
	case FamilyDDPM:
		return ddpmBindings(ck.Net, ck.Head)
	case FamilyDiffusers:
		old := false
		for _, n := range src.Names {
			if strings.HasSuffix(n, ".attentions.0.query.weight") {
				old = true
			}
		}
		return diffusersBindings(ck.Net, out, old)
	}
	return nil, fmt.Errorf("unknown family %q", a.Family)
}

// choosePrefix finds the wrapper under which the file holds the backbone: the
// prefix (none, or the first one or two name components, as "module." or
// "model.ema.") under which most backbone tensors are found. Two prefixes that
// find equally many (a file with a model and its EMA, say) are an error.
func choosePrefix(bs []binding, src *Source) (string, error) {
	want := map[string]bool{}
	for _, b := range bs {
		if !b.head {
			for _, s := range b.src {
				want[s] = true
			}
		}
	}
	score := map[string]int{}
	for _, n := range src.Names {
		parts := strings.SplitN(n, ".", 3)
		for k := 0; k < len(parts) && k <= 2; k++ {
			p := strings.Join(parts[:k], ".")
			if k > 0 {
				p += "."
			}
			if want[strings.TrimPrefix(n, p)] {
				score[p]++
			}
		}
	}
	best := 0
	for _, s := range score {
		best = max(best, s)
	}
	var top []string
	for p, s := range score {
		if s == best && best > 0 {
			top = append(top, p)
		}
	}
	sort.Strings(top)
	switch len(top) {
	case 0:
		return "", nil // nothing matches: apply lists what is missing
	case 1:
		return top[0], nil
	}
	return "", fmt.Errorf("the file holds %d state dicts, under the prefixes %s; name the one to load",
		len(top), strings.Join(top, ", "))
}

// apply fills the parameters from src under the prefix.
func (ck *Checkpoint) apply(bs []binding, src *Source) error {
	used := map[string]bool{}
	var missing, headMissing []string
	headFound := 0
	for _, b := range bs {
		for _, s := range b.src {
			if _, ok := src.Tensors[ck.Prefix+s]; !ok {
				if b.head {
					headMissing = append(headMissing, s)
				} else {
					missing = append(missing, s)
				}
			} else if b.head {
				headFound++
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d of the backbone's tensors are missing: %s (the file's tensors begin %s)",
			len(missing), list(missing, 4), list(src.Names, 3))
	}
	if headFound > 0 && len(headMissing) > 0 {
		return fmt.Errorf("the head is incomplete: %d tensors missing: %s", len(headMissing), list(headMissing, 4))
	}
	if headFound == 0 && ck.Head != nil {
		ck.Missing, ck.Head = headMissing, nil
	}
	for _, b := range bs {
		if b.head && ck.Head == nil {
			continue
		}
		vals, err := fillBinding(b, ck.Prefix, src)
		if err != nil {
			return err
		}
		for _, s := range b.src {
			used[ck.Prefix+s] = true
		}
		b.dst.Value = rt.FromSlice(b.dst.Value.Device(), vals, b.dst.Value.Shape()...)
	}
	for _, n := range src.Names {
		if !used[n] {
			ck.Unexpected = append(ck.Unexpected, n)
		}
	}
	return nil
}

// fillBinding computes one parameter's values.
func fillBinding(b binding, prefix string, src *Source) ([]float32, error) {
	ts := make([]*SourceTensor, len(b.src))
	for i, s := range b.src {
		ts[i] = src.Tensors[prefix+s]
	}
	fill := b.fill
	if fill == nil {
		fill = copyFill
	}
	dst := b.dst.Value.Shape()
	vals, err := fill(dst, ts)
	if err == nil && len(vals) != b.dst.Value.Len() {
		err = fmt.Errorf("gives %d values, ocm needs %d", len(vals), b.dst.Value.Len())
	}
	if err != nil {
		return nil, fmt.Errorf("tensor %s (for ocm's %s) %w", prefix+strings.Join(b.src, "+"), b.dst.Name, err)
	}
	return vals, nil
}

// list names up to n items, with a count of the rest.
func list(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// diffusersFiles are the weight files a diffusers model directory may hold, in
// order of preference.
var diffusersFiles = []string{"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"}

// loadDiffusersArch reads config.json beside (or in) path into p.Arch and
// returns the weights file.
func loadDiffusersArch(p *Published, path string) (string, error) {
	dir, weights := path, ""
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		dir, weights = filepath.Dir(path), path
	}
	if weights == "" {
		for _, f := range diffusersFiles {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				weights = filepath.Join(dir, f)
				break
			}
		}
		if weights == "" {
			return "", &torchfile.Error{File: path, Reason: "holds neither " + strings.Join(diffusersFiles, " nor ")}
		}
	}
	cfgPath := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", &torchfile.Error{File: cfgPath, Reason: "a diffusers model needs its config.json: " + err.Error()}
	}
	a, err := DiffusersArch(raw)
	if err != nil {
		return "", &torchfile.Error{File: cfgPath, Reason: err.Error()}
	}
	p.Arch = a
	if err := diffusersSchedule(p, dir); err != nil {
		return "", err
	}
	return weights, nil
}
