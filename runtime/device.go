package runtime

import "ocm/runtime/philox"

// Buffer is a block of float32 values in one device's memory. Only the device that
// allocated it reads or writes its contents; callers see its length and nothing else.
type Buffer interface {
	Len() int
}

// Device runs the kernels the models need. Every method works on buffers of the
// device itself, so an accelerator can queue the work and copy back only when a
// value is read with Download. Shapes are checked by the package-level functions
// before a device is called; a device may assume valid arguments.
type Device interface {
	// Name says what the device is, for logs ("cpu (avx512, 2 threads)").
	Name() string
	// Alloc returns a buffer of n values, zero-filled when zero is set (otherwise its
	// contents are undefined and the caller overwrites every value).
	Alloc(n int, zero bool) Buffer
	// Upload copies src into dst (len(src) == dst.Len()).
	Upload(dst Buffer, src []float32)
	// Download copies src into dst, waiting for queued work that writes src.
	Download(dst []float32, src Buffer)
	// Fill sets every value of dst to v.
	Fill(dst Buffer, v float32)
	// CopyBlocks copies nBlocks blocks of blockLen values:
	// dst[dstOff + i*dstStride + j] = src[srcOff + i*srcStride + j]. Concat and slice use it.
	CopyBlocks(dst Buffer, dstOff, dstStride int, src Buffer, srcOff, srcStride, blockLen, nBlocks int)

	// Unary computes dst[i] = op(src[i]; p0, p1) for i < dst.Len().
	Unary(op UnaryOp, dst, src Buffer, p0, p1 float32)
	// Binary computes dst = op(x, y) elementwise with broadcasting described by l.
	Binary(op BinaryOp, dst, x, y Buffer, l *Broadcast)
	// Expand broadcasts src to dst as described by l (l.YStrides unused).
	Expand(dst, src Buffer, l *Broadcast)
	// Reduce applies op over the axes of shape marked in reduced; dst holds the kept axes.
	Reduce(op ReduceOp, dst, src Buffer, shape []int, reduced []bool)
	// Permute writes the transpose of src (shape) with axis i of dst = axis perm[i] of src.
	Permute(dst, src Buffer, shape, perm []int)

	// Gemm computes batched C = alpha·op(A)·op(B) + beta·C (see GemmArgs).
	Gemm(c, a, b Buffer, g *GemmArgs)
	// Conv2d computes y = conv(x, w): x (N, C, H, W), w (Cout, C, KH, KW), y (N, Cout, OH, OW).
	Conv2d(y, x, w Buffer, c *ConvArgs)
	// Conv2dInputGrad computes dx (overwritten) from dy and w.
	Conv2dInputGrad(dx, dy, w Buffer, c *ConvArgs)
	// Conv2dWeightGrad computes dw (overwritten) from dy and x.
	Conv2dWeightGrad(dw, dy, x Buffer, c *ConvArgs)
	// Upsample2x repeats each value of nc planes of h×w into a 2×2 block.
	Upsample2x(dst, src Buffer, nc, h, w int)
	// Upsample2xBackward sums each 2×2 block of ddst into dsrc (the adjoint).
	Upsample2xBackward(dsrc, ddst Buffer, nc, h, w int)
	// GroupNorm normalises x (N, C, HW) over groups; writes y and per-(n, group) mean and rstd.
	// gamma and beta may be nil.
	GroupNorm(y, mean, rstd, x, gamma, beta Buffer, g *GroupNormArgs)
	// GroupNormBackward writes dx and accumulates dgamma, dbeta when they are not nil.
	GroupNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma Buffer, g *GroupNormArgs)
	// GroupNormTangent writes the forward-mode tangent ty for input tangent tx and
	// parameter tangents tgamma, tbeta (nil when zero).
	GroupNormTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma Buffer, g *GroupNormArgs)
	// Softmax normalises the last axis of rows×cols values.
	Softmax(y, x Buffer, rows, cols int)
	// SoftmaxBackward writes dx = y·(g − Σ g·y) per row; with g a tangent it is the JVP.
	SoftmaxBackward(dx, y, g Buffer, rows, cols int)
	// Adam applies one Adam step in place to p with gradient g and moments m, v.
	Adam(p, g, m, v Buffer, a *AdamArgs)
	// Random fills dst with values of the given distribution drawn from key at element
	// offset (the Philox stream layout of package philox).
	Random(dst Buffer, dist Distribution, key philox.Key, offset uint64)
}

// BiasConvDevice is a Device that adds a convolution's bias in the pass that stores
// its output (runtime.Conv2dBias uses it when the device has it, and adds the bias
// as a separate broadcast otherwise).
type BiasConvDevice interface {
	// Conv2dBias computes y = conv(x, w) + b, with b of Cout values (one per output
	// channel) or N·Cout (one per image and channel).
	Conv2dBias(y, x, w, b Buffer, c *ConvArgs)
}

// ResidualConvDevice is a Device that adds a residual, as well as the bias, in the
// pass that stores a convolution's output (runtime.Conv2dBiasAdd uses it when the
// device has it, and adds the residual as a separate op otherwise).
type ResidualConvDevice interface {
	// Conv2dBiasAdd computes y = (conv(x, w) + b) + r: b as Conv2dBias takes it, or
	// nil for no bias; r of y's shape, not overlapping y.
	Conv2dBiasAdd(y, x, w, b, r Buffer, c *ConvArgs)
}

// GroupNormSiLUDevice is a Device with GroupNorm and SiLU fused into one pass
// (runtime.GroupNormSiLU uses it when the device has it, and composes the two ops,
// keeping GroupNorm's output, otherwise). The output z of GroupNorm is not stored:
// the derivatives recompute it from x, the statistics, gamma and beta.
type GroupNormSiLUDevice interface {
	// GroupNormSiLU writes y = silu(GroupNorm(x)) and the statistics as GroupNorm does.
	GroupNormSiLU(y, mean, rstd, x, gamma, beta Buffer, g *GroupNormArgs)
	// GroupNormSiLUBackward writes dx, and accumulates dgamma, dbeta when they are not
	// nil, for the output gradient dy.
	GroupNormSiLUBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, beta Buffer, g *GroupNormArgs)
	// GroupNormSiLUTangent writes the forward-mode tangent ty for the tangents tx,
	// tgamma, tbeta (the last two nil when zero).
	GroupNormSiLUTangent(ty, tx, tgamma, tbeta, x, mean, rstd, gamma, beta Buffer, g *GroupNormArgs)
}

// MaskDevice is a Device that draws a dropout mask in one pass (runtime.DropoutMask
// uses it when the device has it, and thresholds a Uniform draw otherwise).
type MaskDevice interface {
	// DropoutMask fills dst with scale where the Uniform value of key's element
	// (from element 0) is at least p, else 0.
	DropoutMask(dst Buffer, key philox.Key, p, scale float32)
}

// GemmArgs describes a batched row-major matrix product C = alpha·op(A)·op(B) + beta·C.
// op(A) is M×K (A stored K×M when TransA), op(B) is K×N (B stored N×K when TransB), C is
// M×N; every matrix is contiguous. Matrix i of A starts at i·StrideA (0 shares one
// matrix across the batch); likewise B and C.
type GemmArgs struct {
	TransA, TransB            bool
	Batch, M, N, K            int
	Alpha, Beta               float32
	StrideA, StrideB, StrideC int
}

// ConvArgs describes a 2-D convolution with zero padding over NCHW tensors.
type ConvArgs struct {
	N, C, H, W   int // input batch, channels, height, width
	Cout, KH, KW int // output channels and kernel size
	Stride, Pad  int
	OutH, OutW   int // derived: (H+2·Pad−KH)/Stride+1, likewise W
}

// GroupNormArgs describes GroupNorm over x of shape (N, C, HW) with Groups groups.
type GroupNormArgs struct {
	N, C, HW, Groups int
	Eps              float32
}

// AdamArgs holds the hyper-parameters of one Adam step (PyTorch's torch.optim.Adam).
type AdamArgs struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int // 1 for the first step
}

// Broadcast describes an elementwise op whose output is contiguous with shape Shape and
// whose inputs are read with strides XStrides and YStrides (0 on broadcast axes).
type Broadcast struct {
	Shape              []int
	XStrides, YStrides []int
}
