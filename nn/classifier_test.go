package nn

import (
	"math"
	"slices"
	"strings"
	"testing"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

func TestClassifierParams(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m := NewClassifier(dev, 3, 10, philox.Key{Seed: 1})
	want := []struct {
		name  string
		shape []int
	}{
		{"classifier.conv1.weight", []int{32, 3, 3, 3}},
		{"classifier.conv1.bias", []int{32}},
		{"classifier.norm1.weight", []int{32}},
		{"classifier.norm1.bias", []int{32}},
		{"classifier.conv2.weight", []int{64, 32, 3, 3}},
		{"classifier.conv2.bias", []int{64}},
		{"classifier.norm2.weight", []int{64}},
		{"classifier.norm2.bias", []int{64}},
		{"classifier.conv3.weight", []int{64, 64, 3, 3}},
		{"classifier.conv3.bias", []int{64}},
		{"classifier.norm3.weight", []int{64}},
		{"classifier.norm3.bias", []int{64}},
		{"classifier.fc.weight", []int{10, 64}},
		{"classifier.fc.bias", []int{10}},
	}
	ps := m.Params()
	if len(ps) != len(want) {
		t.Fatalf("%d parameters, want %d", len(ps), len(want))
	}
	for i, p := range ps {
		if p.Name != want[i].name || !slices.Equal(p.Value.Shape(), want[i].shape) {
			t.Errorf("param %d: %s %v, want %s %v", i, p.Name, p.Value.Shape(), want[i].name, want[i].shape)
		}
	}
	// 3·32·9+32 + 64 + 32·64·9+64 + 128 + 64·64·9+64 + 128 + 64·10+10
	if n, w := CountParams(ps), 896+64+18496+128+36928+128+650; n != w {
		t.Errorf("CountParams = %d, want %d", n, w)
	}
	// The same key gives the same weights; another key different ones.
	same := NewClassifier(dev, 3, 10, philox.Key{Seed: 1}).Params()
	other := NewClassifier(dev, 3, 10, philox.Key{Seed: 2}).Params()
	if !slices.Equal(ps[0].Value.Data(), same[0].Value.Data()) {
		t.Error("same key gave different conv1 weights")
	}
	if slices.Equal(ps[0].Value.Data(), other[0].Value.Data()) {
		t.Error("different keys gave the same conv1 weights")
	}
}

func TestClassifierForwardShapes(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m := NewClassifier(dev, 1, 7, philox.Key{Seed: 3})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 4}, 0, 5, 1, 12, 8)
	logits, feats := m.Forward(Eval(), ad.Const(x))
	if !slices.Equal(logits.Shape(), []int{5, 7}) || !slices.Equal(feats.Shape(), []int{5, ClassifierFeatures}) {
		t.Fatalf("logits %v features %v, want [5 7] [5 %d]", logits.Shape(), feats.Shape(), ClassifierFeatures)
	}
	// The logits are the linear head applied to the features.
	f, l := feats.Value.Data(), logits.Value.Data()
	w, b := m.FC.W.Value.Data(), m.FC.B.Value.Data()
	for n := range 5 {
		for k := range 7 {
			s := float64(b[k])
			for j := range ClassifierFeatures {
				s += float64(w[k*ClassifierFeatures+j]) * float64(f[n*ClassifierFeatures+j])
			}
			if math.Abs(s-float64(l[n*7+k])) > 1e-4 {
				t.Fatalf("logit (%d, %d) = %g, head of features gives %g", n, k, l[n*7+k], s)
			}
		}
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "multiples of 4") {
			t.Errorf("bad input shape: panic %v", r)
		}
	}()
	m.Forward(Eval(), ad.Const(rt.New(dev, 1, 1, 10, 8)))
}

// hostCrossEntropy computes the mean cross-entropy and its gradient with respect
// to the logits, (softmax − onehot)/N, in float64.
func hostCrossEntropy(logits []float32, n, k int, labels []int) (float64, []float64) {
	loss := 0.0
	grad := make([]float64, n*k)
	for i := range n {
		row := logits[i*k : (i+1)*k]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		sum := 0.0
		for _, v := range row {
			sum += math.Exp(float64(v) - mx)
		}
		loss -= float64(row[labels[i]]) - mx - math.Log(sum)
		for j, v := range row {
			grad[i*k+j] = math.Exp(float64(v)-mx) / sum / float64(n)
		}
		grad[i*k+labels[i]] -= 1 / float64(n)
	}
	return loss / float64(n), grad
}

func TestCrossEntropy(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	const n, k = 4, 5
	// Large logits: a naive log(softmax) would overflow exp or underflow to log 0.
	vals := []float32{
		1, 2, 3, 4, 5,
		-3, 0.5, 0, 2, 1,
		500, -500, 0, 10, 499,
		-200, -300, -250, -201, -400,
	}
	labels := []int{4, 0, 1, 2}
	want, wantGrad := hostCrossEntropy(vals, n, k, labels)
	x := ad.Leaf(rt.FromSlice(dev, vals, n, k))
	loss := CrossEntropy(x, labels)
	got := float64(loss.Value.Item())
	if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
		t.Errorf("loss %g, want %g", got, want)
	}
	g := ad.Grad(loss, nil, x)[0].Data()
	for i := range g {
		if math.Abs(float64(g[i])-wantGrad[i]) > 1e-6 {
			t.Errorf("grad[%d] = %g, want %g", i, g[i], wantGrad[i])
		}
	}
}

func TestClassifierGradient(t *testing.T) {
	dev := rt.NewCPU(rt.CPUOptions{})
	m := NewClassifier(dev, 1, 10, philox.Key{Seed: 5})
	x := rt.Random(dev, rt.Normal, philox.Key{Seed: 6}, 0, 6, 1, 8, 8)
	labels := []int{0, 3, 9, 3, 1, 7}
	ps := m.Params()
	lossAt := func() (*Ctx, *ad.Var) {
		c := NewCtx(true, true, philox.Key{})
		logits, _ := m.Forward(c, ad.Const(x))
		return c, CrossEntropy(logits, labels)
	}
	c, loss := lossAt()
	l0 := float64(loss.Value.Item())
	// Ten classes, small random logits: the loss starts near log 10.
	if math.IsNaN(l0) || math.Abs(l0-math.Log(10)) > 1 {
		t.Fatalf("initial loss %g, want about log 10 = %.3f", l0, math.Log(10))
	}
	grads := c.Grads(loss, ps)
	for i, p := range ps {
		g := grads[i]
		if g == nil || !slices.Equal(g.Shape(), p.Value.Shape()) {
			t.Fatalf("%s: gradient %v for shape %v", p.Name, g, p.Value.Shape())
		}
		if !Finite(g) {
			t.Errorf("%s: non-finite gradient", p.Name)
		}
		norm := 0.0
		for _, v := range g.Data() {
			norm += float64(v) * float64(v)
		}
		if norm == 0 {
			t.Errorf("%s: zero gradient", p.Name)
		}
	}
	// Directional check on the fc bias (linear in the loss's input, so float32
	// central differences are accurate): d loss / d b = Σ_n (softmax − onehot)/N.
	b := m.FC.B
	gb := grads[len(ps)-1].Data()
	dir := make([]float32, 10)
	dd := 0.0
	for i := range dir {
		dir[i] = float32(i%3) - 1
		dd += float64(dir[i]) * float64(gb[i])
	}
	const h = 1e-2
	orig := b.Value
	b.Value = rt.Add(orig, rt.Scale(rt.FromSlice(dev, dir, 10), h))
	_, lp := lossAt()
	b.Value = rt.Add(orig, rt.Scale(rt.FromSlice(dev, dir, 10), -h))
	_, lm := lossAt()
	b.Value = orig
	fd := (float64(lp.Value.Item()) - float64(lm.Value.Item())) / (2 * h)
	if math.Abs(fd-dd) > 1e-3+1e-2*math.Abs(dd) {
		t.Errorf("directional derivative along fc bias: autodiff %g, finite differences %g", dd, fd)
	}
}
