package nn

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	ad "ocm/autodiff"
	"ocm/nn/safetensors"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Golden files come from testdata/gen_unet_golden.py: a PyTorch UNetS with random
// weights evaluated in float64. Errors are measured as max |got − want| / max |want|
// over the whole tensor.

const (
	unetSmallGolden = "testdata/unet_small.safetensors"
	unetIDDPMGolden = "testdata/unet_iddpm_small.safetensors"
	unetGoldenTol   = 1e-4
)

// goldenData holds the non-weight tensors of a golden file.
type goldenData struct {
	cfg                      UNetConfig
	x, v, out, features, jvp *rt.Tensor
	t                        []float64
	file                     *safetensors.File
}

func loadUNetGolden(t testing.TB, dev rt.Device, path string) (*UNet, *goldenData) {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "ocm-unet-golden" || f.Metadata["version"] != "1" {
		t.Fatalf("%s: format %q version %q", path, f.Metadata["format"], f.Metadata["version"])
	}
	g := &goldenData{file: f}
	if err := json.Unmarshal([]byte(f.Metadata["config"]), &g.cfg); err != nil {
		t.Fatalf("%s: config: %v", path, err)
	}
	get := func(name string) *rt.Tensor {
		st, ok := f.Get(name)
		if !ok {
			t.Fatalf("%s: no tensor %q", path, name)
		}
		return rt.FromSlice(dev, st.Data, st.Shape...)
	}
	g.x, g.v, g.out, g.features, g.jvp = get("input"), get("v"), get("output"), get("features"), get("jvp")
	g.t = get("t").Float64s()
	m := NewUNet(dev, g.cfg, philox.Key{Seed: 99})
	if err := m.LoadSafetensors(f); err != nil {
		t.Fatal(err)
	}
	return m, g
}

// maxRelErr returns max |a − b| / max |b|.
func maxRelErr(a, b *rt.Tensor) float64 {
	x, y := a.Data(), b.Data()
	var num, den float64
	for i := range y {
		num = math.Max(num, math.Abs(float64(x[i])-float64(y[i])))
		den = math.Max(den, math.Abs(float64(y[i])))
	}
	return num / den
}

func checkClose(t *testing.T, what string, got, want *rt.Tensor, tol float64) {
	t.Helper()
	if !rt.SameShape(got.Shape(), want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	e := maxRelErr(got, want)
	t.Logf("%s: max relative error %.3g", what, e)
	if e > tol || math.IsNaN(e) {
		t.Errorf("%s: max |got−want|/max |want| = %.3g > %.0e", what, e, tol)
	}
}

// compareUNetGolden checks the forward output, the features and the input-JVP.
func compareUNetGolden(t *testing.T, path string) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m, g := loadUNetGolden(t, dev, path)
	eps, feat := m.Forward(Eval(), ad.Const(g.x), g.t)
	checkClose(t, "output", eps.Value, g.out, unetGoldenTol)
	checkClose(t, "features", feat.Value, g.features, unetGoldenTol)
	f := func(x *ad.Var) *ad.Var {
		e, _ := m.Forward(Eval(), x, g.t)
		return e
	}
	y, jv := ad.JVP(f, g.x, g.v)
	checkClose(t, "jvp primal", y, g.out, unetGoldenTol)
	checkClose(t, "jvp", jv, g.jvp, unetGoldenTol)
}

func TestUNetSmallGolden(t *testing.T) { compareUNetGolden(t, unetSmallGolden) }

// TestUNetIDDPMGolden compares the improved-DDPM variant with nn/testdata/iddpm_ref.py.
func TestUNetIDDPMGolden(t *testing.T) { compareUNetGolden(t, unetIDDPMGolden) }

// TestUNetCIFARGolden compares unet-cifar (ocm-math Appendix B) with a golden file
// made outside the test suite:
//
//	/usr/bin/python3 nn/testdata/gen_unet_golden.py --config unet-cifar --out /tmp/unet_cifar.safetensors
//	OCM_UNET_CIFAR_GOLDEN=/tmp/unet_cifar.safetensors go test ./nn -run UNetCIFARGolden -v
func TestUNetCIFARGolden(t *testing.T) {
	path := os.Getenv("OCM_UNET_CIFAR_GOLDEN")
	if path == "" {
		t.Skip("OCM_UNET_CIFAR_GOLDEN not set")
	}
	compareUNetGolden(t, path)
}

// TestUNetSGolden compares unet-s with a golden file made outside the test suite:
//
//	/usr/bin/python3 nn/testdata/gen_unet_golden.py --config unet-s --out /tmp/unet_s.safetensors
//	OCM_UNET_S_GOLDEN=/tmp/unet_s.safetensors go test ./nn -run UNetSGolden -v
func TestUNetSGolden(t *testing.T) {
	path := os.Getenv("OCM_UNET_S_GOLDEN")
	if path == "" {
		t.Skip("OCM_UNET_S_GOLDEN not set")
	}
	compareUNetGolden(t, path)
}

// TestUNetNames checks that the Go parameters are exactly the golden state_dicts.
func TestUNetNames(t *testing.T) {
	for _, path := range []string{unetSmallGolden, unetIDDPMGolden} {
		t.Run(path, func(t *testing.T) { testUNetNames(t, path) })
	}
}

func testUNetNames(t *testing.T, path string) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m, g := loadUNetGolden(t, dev, path)
	data := map[string]bool{"input": true, "t": true, "v": true, "output": true, "features": true, "jvp": true}
	names := map[string]bool{}
	for _, p := range m.Params() {
		names[p.Name] = true
	}
	for _, st := range g.file.Tensors {
		if !data[st.Name] && !names[st.Name] {
			t.Errorf("golden tensor %q is not a parameter", st.Name)
		}
	}
	if n := len(g.file.Tensors) - len(data); n != len(names) {
		t.Errorf("%d parameters, golden state_dict has %d", len(names), n)
	}
}

func TestUNetSParamCount(t *testing.T) {
	m := NewUNet(rt.NewCPU(rt.CPUOptions{}), UNetS(), philox.Key{Seed: 1})
	ps := m.Params()
	if n := CountParams(ps); n != UNetSParamCount {
		t.Errorf("unet-s has %d parameters, want %d", n, UNetSParamCount)
	}
	want := []string{"temb.0.weight", "conv_in.weight", "down.0.blocks.0.norm1.weight",
		"down.2.attns.1.q.weight", "mid_block1.conv1.bias", "mid_attn.proj_out.weight",
		"up.0.blocks.2.nin_shortcut.weight", "up.2.blocks.2.conv2.weight", "norm_out.weight", "conv_out.bias"}
	have := map[string]bool{}
	for _, p := range ps {
		have[p.Name] = true
	}
	for _, w := range want {
		if !have[w] {
			t.Errorf("no parameter %q", w)
		}
	}
	if ps[0].Name != "temb.0.weight" || ps[len(ps)-1].Name != "conv_out.bias" {
		t.Errorf("order: first %q, last %q", ps[0].Name, ps[len(ps)-1].Name)
	}
}

// TestUNetCIFARParamCount builds ocm-math Appendix B's CIFAR-10 UNet and checks its
// size against the PyTorch port's, and its improved-DDPM layers.
func TestUNetCIFARParamCount(t *testing.T) {
	m := NewUNet(rt.NewCPU(rt.CPUOptions{}), UNetCIFAR(), philox.Key{Seed: 1})
	if n := CountParams(m.Params()); n != UNetCIFARParamCount {
		t.Errorf("unet-cifar has %d parameters, want %d", n, UNetCIFARParamCount)
	}
	if _, ok := m.MidAttn.(*MultiHeadAttnBlock); !ok || len(m.Down) != 4 || len(m.Down[1].Blocks) != 3 ||
		m.Down[1].Attns[0] == nil || m.Down[0].Attns[0] != nil || !m.Down[0].Blocks[0].ScaleShift {
		t.Errorf("unet-cifar is not improved DDPM with attention at 16×16: %+v", m.Down[1])
	}
	for _, p := range []*Param{m.ConvOut.W, m.Down[0].Blocks[0].Conv2.W, m.MidAttn.(*MultiHeadAttnBlock).Proj.W} {
		if !allZero(p.Value.Data()) {
			t.Errorf("%s is not zero-initialised", p.Name)
		}
	}
}

func allZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return false
		}
	}
	return true
}

func TestUNetLoadErrors(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m, g := loadUNetGolden(t, dev, unetSmallGolden)
	f := &safetensors.File{}
	for _, st := range g.file.Tensors {
		if st.Name != "mid_attn.q.weight" {
			f.Tensors = append(f.Tensors, st)
		}
	}
	if err := m.LoadSafetensors(f); err == nil || !strings.Contains(err.Error(), `"mid_attn.q.weight" missing`) {
		t.Errorf("missing tensor: err = %v", err)
	}
	f.Tensors = append(f.Tensors, safetensors.Tensor{Name: "mid_attn.q.weight", Shape: []int{1}, Data: []float32{0}})
	if err := m.LoadSafetensors(f); err == nil || !strings.Contains(err.Error(), `"mid_attn.q.weight" has shape [1]`) {
		t.Errorf("wrong shape: err = %v", err)
	}
}

// TestUNetJVPVJP checks u·(J v) = (Jᵀ u)·v with respect to the input of the small UNet.
func TestUNetJVPVJP(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m, g := loadUNetGolden(t, dev, unetSmallGolden)
	f := func(x *ad.Var) *ad.Var {
		e, _ := m.Forward(Eval(), x, g.t)
		return e
	}
	u := rt.Random(dev, rt.Normal, philox.Key{Seed: 7}, 0, g.x.Shape()...)
	_, jv := ad.JVP(f, g.x, g.v)
	_, ju := ad.VJP(f, g.x, u)
	a, b := dot(u, jv), dot(ju, g.v)
	t.Logf("u·Jv = %.6g, Jᵀu·v = %.6g", a, b)
	if math.Abs(a-b) > 1e-4*math.Max(math.Abs(a), math.Abs(b)) {
		t.Errorf("u·Jv = %.8g, Jᵀu·v = %.8g", a, b)
	}
}

func dot(a, b *rt.Tensor) float64 {
	x, y := a.Float64s(), b.Float64s()
	s := 0.0
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

// TestUNetTrainStep runs one training step with dropout and checks every parameter
// gets a finite gradient.
func TestUNetTrainStep(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m, g := loadUNetGolden(t, dev, unetSmallGolden)
	c := NewCtx(true, true, philox.Key{Seed: 5})
	eps, _ := m.Forward(c, ad.Const(g.x), g.t)
	loss := ad.Mean(ad.Square(ad.Sub(eps, ad.Const(g.v))), false)
	params := m.Params()
	for i, gr := range c.Grads(loss, params) {
		if gr == nil {
			t.Errorf("%s: no gradient", params[i].Name)
			continue
		}
		if s := dot(gr, gr); math.IsNaN(s) || math.IsInf(s, 0) {
			t.Errorf("%s: gradient not finite", params[i].Name)
		}
	}
}

// The unet-s timings at batch 4 (shared/bench/torch_ref.py measures 16 and 32).

const unetBenchBatch = 4

func unetBenchSetup() (rt.Device, *UNet, *rt.Tensor, []float64) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m := NewUNet(dev, UNetS(), philox.Key{Seed: 1})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, unetBenchBatch, 1, 28, 28)
	t := make([]float64, unetBenchBatch)
	for i := range t {
		t[i] = float64(1 + 250*i)
	}
	return dev, m, x, t
}

func reportMs(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
}

func BenchmarkUNetSForward(b *testing.B) {
	_, m, x, t := unetBenchSetup()
	for b.Loop() {
		m.Forward(Eval(), ad.Const(x), t)
	}
	reportMs(b)
}

func BenchmarkUNetSJVP(b *testing.B) {
	dev, m, x, t := unetBenchSetup()
	v := rt.Random(dev, rt.Rademacher, philox.Key{Seed: 3}, 0, x.Shape()...)
	f := func(x *ad.Var) *ad.Var {
		e, _ := m.Forward(Eval(), x, t)
		return e
	}
	for b.Loop() {
		ad.JVP(f, x, v)
	}
	reportMs(b)
}

func BenchmarkUNetSTrainStep(b *testing.B) {
	dev, m, x, t := unetBenchSetup()
	eps := rt.Random(dev, rt.Normal, philox.Key{Seed: 3}, 0, x.Shape()...)
	opt := NewAdam(1e-4)
	params := m.Params()
	for b.Loop() {
		c := NewCtx(true, true, philox.Key{Seed: 4})
		out, _ := m.Forward(c, ad.Const(x), t)
		loss := ad.Mean(ad.Square(ad.Sub(out, ad.Const(eps))), false)
		opt.Update(params, c.Grads(loss, params))
	}
	reportMs(b)
}

// TestUNetReleaseKeepsValues checks that the forward pass's releases of its
// intermediate values (recycled on a plain CPU device, not on a pooled one) change no
// output bit, in eval and in forward mode, and that they recycle something.
func TestUNetReleaseKeepsValues(t *testing.T) {
	outs := map[bool][][]float32{}
	for _, pooled := range []bool{false, true} {
		dev := rt.NewCPU(rt.CPUOptions{Pool: pooled})
		m := NewUNet(dev, UNetConfig{InCh: 1, Ch: 32, Mult: []int{1, 2}, NumRes: 1, AttnRes: []int{8}, Resolution: 16,
			Dropout: 0.1, TembIn: 32}, philox.Key{Seed: 1})
		x := rt.Random(dev, rt.Normal, philox.Key{Seed: 2}, 0, 2, 1, 16, 16)
		v := rt.Random(dev, rt.Normal, philox.Key{Seed: 3}, 0, 2, 1, 16, 16)
		ts := []float64{10, 500}
		eps, feat := m.Forward(Eval(), ad.Const(x), ts)
		y, jv := ad.JVP(func(x *ad.Var) *ad.Var { e, _ := m.Forward(Eval(), x, ts); return e }, x, v)
		for _, r := range []*rt.Tensor{eps.Value, feat.Value, y, jv} {
			outs[pooled] = append(outs[pooled], r.Data())
		}
		if st := dev.RecycleStats(); !pooled && st.Recycled == 0 {
			t.Errorf("the forward passes recycled nothing: %+v", st)
		}
	}
	for i, o := range outs[false] {
		for k, v := range o {
			if math.Float32bits(v) != math.Float32bits(outs[true][i][k]) {
				t.Fatalf("output %d value %d: %v with releases, %v without", i, k, v, outs[true][i][k])
			}
		}
	}
}
