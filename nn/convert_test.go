package nn

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ad "ocm/autodiff"
	"ocm/nn/safetensors"
	"ocm/nn/torchfile"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// The goldens in testdata/ckpt_* come from testdata/gen_convert_golden.py: a small
// model of each checkpoint family with random weights, saved as its codebase saves
// it, and PyTorch's float64 outputs.

// smallIDDPM is the improved-DDPM golden's model: learned-variance output (6
// channels), two-head attention at 4×4, complex head out2.
func smallIDDPM() *Published {
	return &Published{Name: "test-iddpm", Schedule: "linear", N: 1000, Arch: Arch{Family: FamilyIDDPM, EmbedCosFirst: true, OutCh: 6,
		Head: HeadArch{Mode: "complex", ScaleShift: true, NormEps: 1e-5},
		Config: UNetConfig{InCh: 3, Ch: 32, Mult: []int{1, 1}, NumRes: 1, AttnRes: []int{4}, Resolution: 8,
			TembIn: 32, Variant: VariantIDDPM, Heads: 2}}}
}

// smallDDPM is the pytorch_diffusion golden's model, with the complex head
// before_out / norm_out2 / conv_out2.
func smallDDPM() *Published {
	return &Published{Name: "test-ddpm", Schedule: "linear", N: 1000, TimeShift: 1, Arch: Arch{Family: FamilyDDPM,
		EmbedShift: 1, PadDownRightBottom: true, Head: HeadArch{Mode: "complex", NormEps: UNetEps},
		Config: UNetConfig{InCh: 3, Ch: 32, Mult: []int{1, 1}, NumRes: 1, AttnRes: []int{4}, Resolution: 8,
			TembIn: 32, Variant: VariantDDPM}}}
}

type convertGolden struct {
	x, v, out, jvp, head *rt.Tensor
	t                    []float64
}

func readConvertGolden(t *testing.T, dev rt.Device, path string) *convertGolden {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) *rt.Tensor {
		st, ok := f.Get(name)
		if !ok {
			return nil
		}
		return rt.FromSlice(dev, st.Data, st.Shape...)
	}
	g := &convertGolden{x: get("input"), v: get("v"), out: get("output"), jvp: get("jvp"), head: get("head")}
	g.t = get("t").Float64s()
	return g
}

// compareCheckpoint checks the converted model's ε, head output and input-JVP
// against PyTorch's.
func compareCheckpoint(t *testing.T, ck *Checkpoint, g *convertGolden) {
	t.Helper()
	c := Eval()
	eps, feat := ck.Net.Forward(c, ad.Const(g.x), g.t)
	checkClose(t, "output", eps.Value, g.out, unetGoldenTol)
	if g.head != nil {
		if ck.Head == nil {
			t.Fatal("the golden has a head, the checkpoint loaded none")
		}
		h := ck.Head.Forward(c, feat, ck.Net.TimeEmbedding(c, g.t))
		checkClose(t, "head", h.Value, g.head, unetGoldenTol)
	}
	_, jv := ad.JVP(func(x *ad.Var) *ad.Var {
		e, _ := ck.Net.Forward(Eval(), x, g.t)
		return e
	}, g.x, g.v)
	checkClose(t, "jvp", jv, g.jvp, unetGoldenTol)
}

func convertFile(t *testing.T, dev rt.Device, p *Published, path string) *Checkpoint {
	t.Helper()
	src, err := ReadSource(path)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := Convert(dev, p, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Missing) != 0 || len(ck.Unexpected) != 0 {
		t.Errorf("missing %v, unexpected %v", ck.Missing, ck.Unexpected)
	}
	return ck
}

func TestConvertIDDPMGolden(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	ck := convertFile(t, dev, smallIDDPM(), "testdata/ckpt_iddpm_small/model.pt")
	if len(ck.Notes) != 1 || !strings.Contains(ck.Notes[0], "6 channels") {
		t.Errorf("notes %q", ck.Notes)
	}
	compareCheckpoint(t, ck, readConvertGolden(t, dev, "testdata/ckpt_iddpm_small/golden.safetensors"))
}

func TestConvertDDPMGolden(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	ck := convertFile(t, dev, smallDDPM(), "testdata/ckpt_ddpm_small/model.pt")
	if ck.Net.Down[0].Downsample.Conv.W.Value.Shape()[2] != 4 {
		t.Error("pytorch_diffusion's downsampling is not the padded 4×4 kernel")
	}
	compareCheckpoint(t, ck, readConvertGolden(t, dev, "testdata/ckpt_ddpm_small/golden.safetensors"))
}

func TestConvertDiffusersGolden(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	ck, err := LoadPublished(dev, "testdata/ckpt_diffusers_small", "diffusers")
	if err != nil {
		t.Fatal(err)
	}
	if len(ck.Missing) != 0 || len(ck.Unexpected) != 0 || ck.Head != nil {
		t.Errorf("missing %v, unexpected %v, head %v", ck.Missing, ck.Unexpected, ck.Head)
	}
	a := ck.Model.Arch
	if a.EmbedShift != 1 || !a.EmbedCosFirst || !a.PadDownRightBottom || a.NormEps != 1e-6 || a.AttnHeadDim != 16 ||
		!slices.Equal(a.Config.AttnRes, []int{4}) || a.Config.Variant != VariantDDPM {
		t.Errorf("arch from config.json: %+v", a)
	}
	if mh, ok := ck.Net.MidAttn.(*MultiHeadAttnBlock); !ok || mh.Heads != 2 {
		t.Errorf("middle attention %T, want 2 heads", ck.Net.MidAttn)
	}
	g := readConvertGolden(t, dev, "testdata/ckpt_diffusers_small/golden.safetensors")
	compareCheckpoint(t, ck, g)

	// The same weights under the attention names of diffusers before 0.14.
	src, err := ReadSource("testdata/ckpt_diffusers_small/diffusion_pytorch_model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	old := &Source{Tensors: map[string]*SourceTensor{}}
	r := strings.NewReplacer(".to_q.", ".query.", ".to_k.", ".key.", ".to_v.", ".value.", ".to_out.0.", ".proj_attn.")
	for _, n := range src.Names {
		old.Names = append(old.Names, "module."+r.Replace(n))
		old.Tensors["module."+r.Replace(n)] = src.Tensors[n]
	}
	p := *ck.Model
	ck2, err := Convert(dev, &p, old)
	if err != nil {
		t.Fatal(err)
	}
	if ck2.Prefix != "module." || len(ck2.Unexpected) != 0 {
		t.Errorf("prefix %q, unexpected %v", ck2.Prefix, ck2.Unexpected)
	}
	compareCheckpoint(t, ck2, g)
}

// checkOneLine checks that err is a one-line *torchfile.Error containing want.
func checkOneLine(t *testing.T, err error, want string) {
	t.Helper()
	var te *torchfile.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want *torchfile.Error", err, err)
	}
	if msg := err.Error(); !strings.Contains(msg, want) || strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("error %q, want one line containing %q", msg, want)
	}
	t.Log(err)
}

func TestConvertBadCheckpoints(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A pickle that would run os.system("ls").
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "archive/data.pkl", Method: zip.Store})
	w.Write([]byte("\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."))
	zw.Close()
	_, err := LoadPublished(dev, write("evil.pt", zbuf.Bytes()), "ocm-cifar10-ls")
	checkOneLine(t, err, "pickle names os.system, which a state dict never needs")

	good, err := os.ReadFile("testdata/ckpt_iddpm_small/model.pt")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadPublished(dev, write("cut.pt", good[:len(good)*2/3]), "ocm-cifar10-ls")
	checkOneLine(t, err, "not a readable zip archive")

	// The small improved-DDPM file loaded as the CIFAR-10 model: far too small.
	_, err = LoadPublished(dev, "testdata/ckpt_iddpm_small/model.pt", "ocm-cifar10-ls")
	checkOneLine(t, err, "model ocm-cifar10-ls needs at least 14598144 values, the file holds 347369")
	// The same names at twice the width: wrong shapes.
	wide := smallIDDPM()
	wide.Arch.Config.Ch, wide.Arch.Config.TembIn = 64, 64
	src, _ := ReadSource("testdata/ckpt_iddpm_small/model.pt")
	_, err = Convert(dev, wide, src)
	if err == nil || err.Error() != "model test-iddpm (iddpm): tensor time_embed.0.weight (for ocm's temb.0.weight) has shape [128 32], ocm needs [256 64]" {
		t.Errorf("wide: %v", err)
	}
	// A pytorch_diffusion file loaded as an improved-DDPM model: nothing matches.
	dsrc, _ := ReadSource("testdata/ckpt_ddpm_small/model.pt")
	_, err = Convert(dev, smallIDDPM(), dsrc)
	if err == nil || !strings.Contains(err.Error(), "model test-iddpm (iddpm): 126 of the backbone's tensors are missing: time_embed.0.weight, ") ||
		!strings.Contains(err.Error(), "(the file's tensors begin temb.dense.0.weight, ") {
		t.Errorf("ddpm file as iddpm: %v", err)
	}
	_, err = LoadPublished(dev, "testdata/ckpt_ddpm_small/model.pt", "ocm-cifar100")
	checkOneLine(t, err, `unknown model "ocm-cifar100"`)

	// A head that is only partly there.
	src, _ = ReadSource("testdata/ckpt_iddpm_small/model.pt")
	delete(src.Tensors, "out2.3.bias")
	src.Names = slices.DeleteFunc(src.Names, func(n string) bool { return n == "out2.3.bias" })
	if _, err := Convert(dev, smallIDDPM(), src); err == nil || !strings.Contains(err.Error(), "head is incomplete: 1 tensors missing: out2.3.bias") {
		t.Errorf("partial head: %v", err)
	}
	// No head at all: loads, the head listed as missing.
	src, _ = ReadSource("testdata/ckpt_iddpm_small/model.pt")
	src.Names = slices.DeleteFunc(src.Names, func(n string) bool { return strings.HasPrefix(n, "out2.") })
	for n := range src.Tensors {
		if strings.HasPrefix(n, "out2.") {
			delete(src.Tensors, n)
		}
	}
	ck, err := Convert(dev, smallIDDPM(), src)
	if err != nil || ck.Head != nil || len(ck.Missing) != 14 || ck.Missing[0] != "out2.0.in_layers.0.weight" {
		t.Errorf("headless file: err %v, missing %v", err, ck.Missing)
	}
}

// TestConvertPrefixes loads a file holding a model and its EMA: the prefix must be
// named.
func TestConvertPrefixes(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	one, _ := ReadSource("testdata/ckpt_iddpm_small/model.pt")
	two := &Source{Tensors: map[string]*SourceTensor{}}
	for _, pre := range []string{"model.", "ema."} {
		for _, n := range one.Names {
			two.Names = append(two.Names, pre+n)
			two.Tensors[pre+n] = one.Tensors[n]
		}
	}
	if _, err := Convert(dev, smallIDDPM(), two); err == nil || err.Error() != "the file holds 2 state dicts, under the prefixes ema., model.; name the one to load" {
		t.Errorf("two state dicts: %v", err)
	}
	p := smallIDDPM()
	p.Prefix = "ema."
	ck, err := Convert(dev, p, two)
	// Through Load, with the prefix of a file's EMA weights.
	ema := smallIDDPM()
	ema.Prefix = "nope."
	if _, err := Load(dev, "testdata/ckpt_iddpm_small/model.pt", ema); err == nil || !strings.Contains(err.Error(), "tensors are missing") {
		t.Errorf("Load with a wrong prefix: %v", err)
	}
	if err != nil || ck.Head == nil || len(ck.Unexpected) != len(one.Names) || !strings.HasPrefix(ck.Unexpected[0], "model.") {
		t.Errorf("prefix ema.: %v, %d unexpected", err, len(ck.Unexpected))
	}
}

func TestDiffusersConfigsThatDoNotFit(t *testing.T) {
	base, err := os.ReadFile("testdata/ckpt_diffusers_small/config.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DiffusersArch(base); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ from, to, want string }{
		{`"UNet2DModel"`, `"UNet2DConditionModel"`, `_class_name is "UNet2DConditionModel", want "UNet2DModel"`},
		{`"AttnDownBlock2D"`, `"CrossAttnDownBlock2D"`, `"CrossAttnDownBlock2D" is neither DownBlock2D nor AttnDownBlock2D`},
		{`"AttnUpBlock2D"`, `"UpBlock2D"`, "differ in attention"},
		{`"norm_num_groups": 32`, `"norm_num_groups": 16`, "norm_num_groups (or attn_norm_num_groups) is not 32"},
		{`"num_class_embeds": null`, `"num_class_embeds": 10`, "class-conditional"},
		{`"block_out_channels": [
    32,
    32
  ]`, `"block_out_channels": [32, 48]`, "48 is not a multiple of 32"},
		{`"time_embedding_type": "positional"`, `"time_embedding_type": "fourier"`, `time_embedding_type is "fourier"`},
		{`"out_channels": 3`, `"out_channels": 4`, "out_channels 4 is neither in_channels 3 nor twice it"},
		{`"sample_size": 8`, `"sample_size": [8, 16]`, "sample_size is [8, 16]"},
		{`"attention_head_dim": 16`, `"attention_head_dim": 24`, "attention_head_dim 24 does not divide 32"},
		{`"mid_block_scale_factor": 1`, `"mid_block_scale_factor": 1.4142`, "mid_block_scale_factor is 1.4142"},
		{`{`, `[`, "is not a JSON object"},
	}
	for _, c := range cases {
		raw := strings.Replace(string(base), c.from, c.to, 1)
		if raw == string(base) {
			t.Fatalf("case %q does not change the config", c.from)
		}
		_, err := DiffusersArch([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s → %s: error %v, want %q", c.from, c.to, err, c.want)
		}
	}
	// A config describing a far larger model than the weights: refused before the
	// network is built.
	dir0 := t.TempDir()
	huge := strings.Replace(string(base), `"block_out_channels": [
    32,
    32
  ]`, `"block_out_channels": [32, 32768]`, 1)
	os.WriteFile(filepath.Join(dir0, "config.json"), []byte(huge), 0o644)
	w0, _ := os.ReadFile("testdata/ckpt_diffusers_small/diffusion_pytorch_model.safetensors")
	os.WriteFile(filepath.Join(dir0, "diffusion_pytorch_model.safetensors"), w0, 0o644)
	_, err = LoadPublished(rt.NewCPU(rt.CPUOptions{}), dir0, "diffusers")
	checkOneLine(t, err, "model diffusers needs at least 48318409728 values, the file holds 285667")
	// Through LoadPublished: one line naming config.json.
	dir := t.TempDir()
	bad := strings.Replace(string(base), `"norm_num_groups": 32`, `"norm_num_groups": 16`, 1)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(bad), 0o644)
	w, _ := os.ReadFile("testdata/ckpt_diffusers_small/diffusion_pytorch_model.safetensors")
	os.WriteFile(filepath.Join(dir, "diffusion_pytorch_model.safetensors"), w, 0o644)
	_, err = LoadPublished(rt.NewCPU(rt.CPUOptions{}), dir, "diffusers")
	checkOneLine(t, err, "config.json: does not fit ocm's UNet: norm_num_groups")
}

func TestPublishedTable(t *testing.T) {
	cases := []struct {
		name       string
		n, shift   int
		sched      string
		t1, tN     float64
		family     string
		head       string
		paramCount int
	}{
		{"ocm-cifar10-ls", 1000, 0, "linear", 1, 1000, FamilyIDDPM, "simple", UNetCIFARParamCount},
		{"ocm-cifar10-cs", 1000, 0, "cosine", 1, 1000, FamilyIDDPM, "simple", UNetCIFARParamCount},
		// Parameter counts of the PyTorch structures in testdata/gen_convert_golden.py
		// (ImageNet64's less the variance half of its output convolution).
		{"ocm-celeba64", 1000, 1, "linear", 0, 999, FamilyDDPM, "simple", 78700803},
		{"ocm-imagenet64", 4000, 1, "cosine", 0, 999.75, FamilyIDDPM, "complex", 121063942 - 3*128*9 - 3},
		{"ddpm-cifar10", 1000, 1, "linear", 0, 999, FamilyDDPM, "", 35746307},
		{"ocm-lsun-bedroom", 1000, 1, "linear", 0, 999, FamilyDDPM, "complex", 0},
	}
	for _, c := range cases {
		p, err := LookupPublished(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if p.N != c.n || p.TimeShift != c.shift || p.Schedule != c.sched || p.Arch.Family != c.family || p.Arch.Head.Mode != c.head {
			t.Errorf("%s: %+v", c.name, p)
		}
		if p.TimeInput(1) != c.t1 || p.TimeInput(p.N) != c.tN {
			t.Errorf("%s: time input %g at n = 1, %g at n = N, want %g and %g", c.name, p.TimeInput(1), p.TimeInput(p.N), c.t1, c.tN)
		}
		if plain := p.Arch.Plain(); plain != (c.family == FamilyIDDPM) {
			t.Errorf("%s: Plain() = %v", c.name, plain)
		}
		if err := p.Arch.Config.CheckVariant(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if c.paramCount != 0 && (!testing.Short() || c.paramCount == UNetCIFARParamCount) {
			m := p.Arch.NewUNet(rt.NewCPU(rt.CPUOptions{}), philox.Key{Seed: 1})
			n := CountParams(m.Params())
			for _, l := range m.Down {
				if l.Downsample != nil && p.Arch.PadDownRightBottom {
					n -= l.Downsample.Conv.W.Value.Len() * 7 / 16 // the 4×4 kernel's zero row and column
				}
			}
			if n != c.paramCount {
				t.Errorf("%s: %d parameters, want %d", c.name, n, c.paramCount)
			}
		}
	}
}

// TestConvertCIFARFromTorch loads the full CIFAR-10 improved-DDPM model (with a simple
// head) from a torch.save file made by PyTorch in a temporary directory, checks its
// 52,542,979 backbone parameters and compares ε, the head and the JVP with PyTorch.
func TestConvertCIFARFromTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the 52.5M-parameter model")
	}
	if exec.Command("/usr/bin/python3", "-c", "import torch").Run() != nil {
		t.Skip("python3-torch is not installed: skipping the full CIFAR-10 checkpoint")
	}
	dir := t.TempDir()
	cmd := exec.Command("/usr/bin/python3", "testdata/gen_convert_golden.py", "--family", "iddpm", "--config", "cifar",
		"--head", "simple", "--f32", "--batch", "1", "--out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen_convert_golden.py: %v\n%s", err, out)
	}
	dev := rt.NewCPU(rt.CPUOptions{})
	ck, err := LoadPublished(dev, filepath.Join(dir, "model.pt"), "ocm-cifar10-ls")
	if err != nil {
		t.Fatal(err)
	}
	if n := CountParams(ck.Net.Params()); n != UNetCIFARParamCount {
		t.Errorf("%d backbone parameters, want %d", n, UNetCIFARParamCount)
	}
	if ck.Head == nil || ck.Head.Block != nil || len(ck.Unexpected) != 0 || len(ck.Missing) != 0 {
		t.Errorf("head %v, unexpected %v, missing %v", ck.Head, ck.Unexpected, ck.Missing)
	}
	compareCheckpoint(t, ck, readConvertGolden(t, dev, filepath.Join(dir, "golden.safetensors")))
}
