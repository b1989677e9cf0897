package nn

import (
	"fmt"

	ad "ocm/autodiff"
	rt "ocm/runtime"
	"ocm/runtime/philox"
)

// Settings of the Classifier.
const (
	// ClassifierFeatures is the width of the Classifier's feature vector.
	ClassifierFeatures = 64
	// ClassifierGroups is the group count of the Classifier's group norms.
	ClassifierGroups = 8
	// ClassifierEps is the epsilon of the Classifier's group norms (PyTorch's default).
	ClassifierEps float32 = 1e-5
)

// Classifier is a small CNN for C×H×W images with H and W divisible by 4, used as
// the feature extractor of image sample-quality metrics:
//
//	conv3×3(C→32, pad 1)              GN(8) SiLU   (N, 32, H, W)
//	conv3×3(32→64, stride 2, pad 1)   GN(8) SiLU   (N, 64, H/2, W/2)
//	conv3×3(64→64, stride 2, pad 1)   GN(8) SiLU   (N, 64, H/4, W/4)
//	global average pool                            features (N, 64)
//	Linear(64→classes)                             logits (N, classes)
//
// Parameters are named classifier.conv1, classifier.norm1, …, classifier.fc.
type Classifier struct {
	InCh, Classes       int
	Conv1, Conv2, Conv3 *Conv2d
	Norm1, Norm2, Norm3 *GroupNorm
	FC                  *Linear
}

// NewClassifier returns a classifier from inCh image channels to classes logits,
// initialised from key. It panics unless inCh ≥ 1 and classes ≥ 2.
func NewClassifier(dev rt.Device, inCh, classes int, key philox.Key) *Classifier {
	if inCh < 1 || classes < 2 {
		panic(fmt.Sprintf("nn: classifier: need ≥ 1 input channel and ≥ 2 classes, got %d and %d", inCh, classes))
	}
	const p = "classifier"
	return &Classifier{
		InCh: inCh, Classes: classes,
		Conv1: NewConv2d(dev, p+".conv1", inCh, 32, 3, 1, 1, key.Split(0)),
		Norm1: NewGroupNorm(dev, p+".norm1", 32, ClassifierGroups, ClassifierEps),
		Conv2: NewConv2d(dev, p+".conv2", 32, ClassifierFeatures, 3, 2, 1, key.Split(1)),
		Norm2: NewGroupNorm(dev, p+".norm2", ClassifierFeatures, ClassifierGroups, ClassifierEps),
		Conv3: NewConv2d(dev, p+".conv3", ClassifierFeatures, ClassifierFeatures, 3, 2, 1, key.Split(2)),
		Norm3: NewGroupNorm(dev, p+".norm3", ClassifierFeatures, ClassifierGroups, ClassifierEps),
		FC:    NewLinear(dev, p+".fc", ClassifierFeatures, classes, key.Split(3)),
	}
}

// Forward maps images x (N, InCh, H, W) to logits (N, Classes) and the pooled
// features (N, ClassifierFeatures) they are computed from. It panics on a shape it
// cannot take (a programming error).
func (m *Classifier) Forward(c *Ctx, x *ad.Var) (logits, features *ad.Var) {
	s := x.Shape()
	if len(s) != 4 || s[1] != m.InCh || s[2]%4 != 0 || s[3]%4 != 0 || s[2] == 0 || s[3] == 0 {
		panic(fmt.Sprintf("nn: classifier: input shape %v, want (N, %d, H, W) with H, W positive multiples of 4", s, m.InCh))
	}
	h := ad.SiLU(m.Norm1.Forward(c, m.Conv1.Forward(c, x)))
	h = ad.SiLU(m.Norm2.Forward(c, m.Conv2.Forward(c, h)))
	h = ad.SiLU(m.Norm3.Forward(c, m.Conv3.Forward(c, h)))
	features = ad.Mean(h, false, 2, 3)
	return m.FC.Forward(c, features), features
}

// Params lists the parameters layer by layer: conv1, norm1, conv2, norm2, conv3,
// norm3, fc (each weight then bias).
func (m *Classifier) Params() []*Param {
	var ps []*Param
	for _, mod := range []Module{m.Conv1, m.Norm1, m.Conv2, m.Norm2, m.Conv3, m.Norm3, m.FC} {
		ps = append(ps, mod.Params()...)
	}
	checkUnique(ps)
	return ps
}

// CrossEntropy returns the softmax cross-entropy of logits (N, K) against labels
// (N values in [0, K)), averaged over the batch: −(1/N) Σ_n log softmax(logits_n)[y_n].
// The log-softmax is computed as z − log Σ exp z with z = logits − max(logits), the
// maximum taken as a constant (it cancels exactly, so the gradient is unchanged), so
// it neither overflows nor takes the log of an underflowed probability. It panics
// on a label count or value that does not fit the logits.
func CrossEntropy(logits *ad.Var, labels []int) *ad.Var {
	s := logits.Shape()
	if len(s) != 2 || s[0] != len(labels) || s[0] == 0 {
		panic(fmt.Sprintf("nn: cross-entropy: logits %v for %d labels", s, len(labels)))
	}
	n, k := s[0], s[1]
	onehot := make([]float32, n*k)
	for i, y := range labels {
		if y < 0 || y >= k {
			panic(fmt.Sprintf("nn: cross-entropy: label %d of sample %d outside [0, %d)", y, i, k))
		}
		onehot[i*k+y] = 1
	}
	dev := logits.Value.Device()
	z := ad.Sub(logits, ad.Const(rt.MaxOver(logits.Value, true, 1)))
	logp := ad.Sub(z, ad.Log(ad.Sum(ad.Exp(z), true, 1)))
	picked := ad.Sum(ad.Mul(logp, ad.Const(rt.FromSlice(dev, onehot, n, k))), false)
	return ad.Scale(picked, -1/float32(n))
}
