package nn

import (
	"fmt"
	"slices"
)

// A binding says where one ocm parameter comes from in a checkpoint: the source
// tensors (one, or q, k and v for a fused qkv) and how they become its values.
type binding struct {
	dst  *Param
	src  []string
	fill fillFunc // nil: the one source tensor, of the same shape up to trailing 1s
	head bool     // part of the covariance head
}

// fillFunc turns source tensors into the values of a parameter of shape dst.
type fillFunc func(dst []int, src []*SourceTensor) ([]float32, error)

// names of a residual block's six layers in a family's checkpoint.
type resNames struct{ norm1, conv1, temb, norm2, conv2, skip string }

func iddpmRes(p string) resNames {
	return resNames{p + ".in_layers.0", p + ".in_layers.2", p + ".emb_layers.1", p + ".out_layers.0", p + ".out_layers.3", p + ".skip_connection"}
}

func ddpmRes(p string) resNames {
	return resNames{p + ".norm1", p + ".conv1", p + ".temb_proj", p + ".norm2", p + ".conv2", p + ".nin_shortcut"}
}

func diffusersRes(p string) resNames {
	return resNames{p + ".norm1", p + ".conv1", p + ".time_emb_proj", p + ".norm2", p + ".conv2", p + ".conv_shortcut"}
}

// binder collects bindings.
type binder struct {
	out  []binding
	head bool // bindings added now belong to the head
}

// wb binds a layer's weight and bias (src.weight, src.bias).
func (b *binder) wb(w, bias *Param, src string, fill fillFunc) {
	b.out = append(b.out, binding{dst: w, src: []string{src + ".weight"}, fill: fill, head: b.head},
		binding{dst: bias, src: []string{src + ".bias"}, fill: fill, head: b.head})
}

func (b *binder) res(r *ResBlock, n resNames) {
	b.wb(r.Norm1.W, r.Norm1.B, n.norm1, nil)
	b.wb(r.Conv1.W, r.Conv1.B, n.conv1, nil)
	b.wb(r.TembProj.W, r.TembProj.B, n.temb, nil)
	b.wb(r.Norm2.W, r.Norm2.B, n.norm2, nil)
	b.wb(r.Conv2.W, r.Conv2.B, n.conv2, nil)
	if r.Shortcut != nil {
		b.wb(r.Shortcut.W, r.Shortcut.B, n.skip, nil)
	}
}

// attnNames are an attention layer's layers in a checkpoint: separate q, k and v
// (qkv empty) or one fused qkv (q, k, v empty).
type attnNames struct{ norm, q, k, v, qkv, proj string }

func (b *binder) attn(a AttnLayer, n attnNames) error {
	switch a := a.(type) {
	case *AttnBlock:
		if n.qkv != "" {
			return fmt.Errorf("a fused qkv attention (%s) cannot load into single-head attention", n.qkv)
		}
		b.wb(a.Norm.W, a.Norm.B, n.norm, nil)
		b.wb(a.Q.W, a.Q.B, n.q, nil)
		b.wb(a.K.W, a.K.B, n.k, nil)
		b.wb(a.V.W, a.V.B, n.v, nil)
		b.wb(a.Proj.W, a.Proj.B, n.proj, nil)
	case *MultiHeadAttnBlock:
		b.wb(a.Norm.W, a.Norm.B, n.norm, nil)
		if n.qkv != "" {
			b.wb(a.QKV.W, a.QKV.B, n.qkv, nil)
		} else {
			fill := fuseQKV(a.Heads)
			for _, s := range []string{".weight", ".bias"} {
				dst := a.QKV.W
				if s == ".bias" {
					dst = a.QKV.B
				}
				b.out = append(b.out, binding{dst: dst, src: []string{n.q + s, n.k + s, n.v + s}, fill: fill, head: b.head})
			}
		}
		b.wb(a.Proj.W, a.Proj.B, n.proj, nil)
	default:
		return fmt.Errorf("attention layer %T", a)
	}
	return nil
}

// head binds a ConvHead: its block (if any), norm and conv.
func (b *binder) convHead(h *ConvHead, block resNames, norm, conv string) {
	b.head = true
	if h.Block != nil {
		b.res(h.Block, block)
	}
	b.wb(h.Norm.W, h.Norm.B, norm, nil)
	b.wb(h.Conv.W, h.Conv.B, conv, nil)
	b.head = false
}

// iddpmBindings maps improved DDPM's UNetModel (and its head out2) onto m and h.
func iddpmBindings(m *UNet, h *ConvHead, outCh int) ([]binding, error) {
	b := &binder{}
	b.wb(m.Temb0.W, m.Temb0.B, "time_embed.0", nil)
	b.wb(m.Temb1.W, m.Temb1.B, "time_embed.2", nil)
	b.wb(m.ConvIn.W, m.ConvIn.B, "input_blocks.0.0", nil)
	attn := func(p string) attnNames { return attnNames{norm: p + ".norm", qkv: p + ".qkv", proj: p + ".proj_out"} }
	k := 1
	for _, l := range m.Down {
		for j, blk := range l.Blocks {
			p := fmt.Sprintf("input_blocks.%d", k)
			b.res(blk, iddpmRes(p+".0"))
			if l.Attns[j] != nil {
				if err := b.attn(l.Attns[j], attn(p+".1")); err != nil {
					return nil, err
				}
			}
			k++
		}
		if l.Downsample != nil {
			b.wb(l.Downsample.Conv.W, l.Downsample.Conv.B, fmt.Sprintf("input_blocks.%d.0.op", k), nil)
			k++
		}
	}
	b.res(m.MidBlock1, iddpmRes("middle_block.0"))
	if err := b.attn(m.MidAttn, attn("middle_block.1")); err != nil {
		return nil, err
	}
	b.res(m.MidBlock2, iddpmRes("middle_block.2"))
	k = 0
	for _, l := range m.Up {
		for j, blk := range l.Blocks {
			p := fmt.Sprintf("output_blocks.%d", k)
			b.res(blk, iddpmRes(p+".0"))
			next := 1
			if l.Attns[j] != nil {
				if err := b.attn(l.Attns[j], attn(p+".1")); err != nil {
					return nil, err
				}
				next = 2
			}
			if j == len(l.Blocks)-1 && l.Upsample != nil {
				b.wb(l.Upsample.Conv.W, l.Upsample.Conv.B, fmt.Sprintf("%s.%d.conv", p, next), nil)
			}
			k++
		}
	}
	b.wb(m.NormOut.W, m.NormOut.B, "out.0", nil)
	b.wb(m.ConvOut.W, m.ConvOut.B, "out.2", firstChannels(outCh))
	if h != nil {
		if h.Block != nil {
			b.convHead(h, iddpmRes("out2.0"), "out2.1", "out2.3")
		} else {
			b.convHead(h, resNames{}, "out2.0", "out2.2")
		}
	}
	return b.out, nil
}

// ddpmBindings maps pytorch_diffusion's Model (and the heads norm_out2, conv_out2,
// before_out) onto m and h. Its up levels are stored by resolution level, highest
// resolution first: ocm's up.k is its up.(L−1−k).
func ddpmBindings(m *UNet, h *ConvHead) ([]binding, error) {
	b := &binder{}
	b.wb(m.Temb0.W, m.Temb0.B, "temb.dense.0", nil)
	b.wb(m.Temb1.W, m.Temb1.B, "temb.dense.1", nil)
	b.wb(m.ConvIn.W, m.ConvIn.B, "conv_in", nil)
	attn := func(p string) attnNames {
		return attnNames{norm: p + ".norm", q: p + ".q", k: p + ".k", v: p + ".v", proj: p + ".proj_out"}
	}
	level := func(l *UNetLevel, p string) error {
		for j, blk := range l.Blocks {
			b.res(blk, ddpmRes(fmt.Sprintf("%s.block.%d", p, j)))
			if l.Attns[j] != nil {
				if err := b.attn(l.Attns[j], attn(fmt.Sprintf("%s.attn.%d", p, j))); err != nil {
					return err
				}
			}
		}
		if l.Downsample != nil {
			b.wb(l.Downsample.Conv.W, l.Downsample.Conv.B, p+".downsample.conv", padRightBottom)
		}
		if l.Upsample != nil {
			b.wb(l.Upsample.Conv.W, l.Upsample.Conv.B, p+".upsample.conv", nil)
		}
		return nil
	}
	for i, l := range m.Down {
		if err := level(l, fmt.Sprintf("down.%d", i)); err != nil {
			return nil, err
		}
	}
	b.res(m.MidBlock1, ddpmRes("mid.block_1"))
	if err := b.attn(m.MidAttn, attn("mid.attn_1")); err != nil {
		return nil, err
	}
	b.res(m.MidBlock2, ddpmRes("mid.block_2"))
	for k, l := range m.Up {
		if err := level(l, fmt.Sprintf("up.%d", len(m.Up)-1-k)); err != nil {
			return nil, err
		}
	}
	b.wb(m.NormOut.W, m.NormOut.B, "norm_out", nil)
	b.wb(m.ConvOut.W, m.ConvOut.B, "conv_out", nil)
	if h != nil {
		b.convHead(h, ddpmRes("before_out"), "norm_out2", "conv_out2")
	}
	return b.out, nil
}

// diffusersBindings maps diffusers' UNet2DModel onto m. Attention layers use
// to_q/to_k/to_v/to_out.0, or query/key/value/proj_attn in files written before
// diffusers 0.14 (oldNames).
func diffusersBindings(m *UNet, outCh int, oldNames bool) ([]binding, error) {
	b := &binder{}
	b.wb(m.Temb0.W, m.Temb0.B, "time_embedding.linear_1", nil)
	b.wb(m.Temb1.W, m.Temb1.B, "time_embedding.linear_2", nil)
	b.wb(m.ConvIn.W, m.ConvIn.B, "conv_in", nil)
	attn := func(p string) attnNames {
		if oldNames {
			return attnNames{norm: p + ".group_norm", q: p + ".query", k: p + ".key", v: p + ".value", proj: p + ".proj_attn"}
		}
		return attnNames{norm: p + ".group_norm", q: p + ".to_q", k: p + ".to_k", v: p + ".to_v", proj: p + ".to_out.0"}
	}
	level := func(l *UNetLevel, p string) error {
		for j, blk := range l.Blocks {
			b.res(blk, diffusersRes(fmt.Sprintf("%s.resnets.%d", p, j)))
			if l.Attns[j] != nil {
				if err := b.attn(l.Attns[j], attn(fmt.Sprintf("%s.attentions.%d", p, j))); err != nil {
					return err
				}
			}
		}
		if l.Downsample != nil {
			b.wb(l.Downsample.Conv.W, l.Downsample.Conv.B, p+".downsamplers.0.conv", padRightBottom)
		}
		if l.Upsample != nil {
			b.wb(l.Upsample.Conv.W, l.Upsample.Conv.B, p+".upsamplers.0.conv", nil)
		}
		return nil
	}
	for i, l := range m.Down {
		if err := level(l, fmt.Sprintf("down_blocks.%d", i)); err != nil {
			return nil, err
		}
	}
	b.res(m.MidBlock1, diffusersRes("mid_block.resnets.0"))
	if err := b.attn(m.MidAttn, attn("mid_block.attentions.0")); err != nil {
		return nil, err
	}
	b.res(m.MidBlock2, diffusersRes("mid_block.resnets.1"))
	for k, l := range m.Up {
		if err := level(l, fmt.Sprintf("up_blocks.%d", k)); err != nil {
			return nil, err
		}
	}
	b.wb(m.NormOut.W, m.NormOut.B, "conv_norm_out", nil)
	b.wb(m.ConvOut.W, m.ConvOut.B, "conv_out", firstChannels(outCh))
	return b.out, nil
}

// trimOnes drops trailing size-1 dimensions: a Conv1d's (out, in, 1) and a
// Linear's (out, in) weights load into a 1×1 Conv2d's (out, in, 1, 1).
func trimOnes(s []int) []int {
	for len(s) > 0 && s[len(s)-1] == 1 {
		s = s[:len(s)-1]
	}
	return s
}

// copyFill is the default: the source of the same shape up to trailing 1s.
func copyFill(dst []int, src []*SourceTensor) ([]float32, error) {
	if !slices.Equal(trimOnes(src[0].Shape), trimOnes(dst)) {
		return nil, fmt.Errorf("has shape %v, ocm needs %v", src[0].Shape, dst)
	}
	return src[0].Data, nil
}

// firstChannels loads an output convolution of outCh channels (2·InCh when the
// model also predicts its variance) into one of InCh, keeping the first InCh (ε).
func firstChannels(outCh int) fillFunc {
	return func(dst []int, src []*SourceTensor) ([]float32, error) {
		s := src[0].Shape
		if len(s) == 0 || s[0] == dst[0] || s[0] != outCh || !slices.Equal(trimOnes(s[1:]), trimOnes(dst[1:])) {
			return copyFill(dst, src)
		}
		n := src[0].Numel() / s[0] * dst[0]
		return src[0].Data[:n], nil
	}
}

// padRightBottom loads a 3×3 stride-2 convolution applied after padding one zero
// row and column at the bottom and right into ocm's 4×4 kernel with padding 1:
// w4[., ., 1+i, 1+j] = w3[., ., i, j], the first row and column zero. A bias, or a
// 3×3 destination (symmetric padding), is copied as it is.
func padRightBottom(dst []int, src []*SourceTensor) ([]float32, error) {
	if len(dst) != 4 || dst[2] != 4 {
		return copyFill(dst, src)
	}
	s := src[0].Shape
	if len(s) != 4 || s[0] != dst[0] || s[1] != dst[1] || s[2] != 3 || s[3] != 3 {
		return nil, fmt.Errorf("has shape %v, ocm needs [%d %d 3 3]", s, dst[0], dst[1])
	}
	out := make([]float32, dst[0]*dst[1]*16)
	for oc := range dst[0] * dst[1] {
		for i := range 3 {
			copy(out[oc*16+(1+i)*4+1:oc*16+(1+i)*4+4], src[0].Data[oc*9+i*3:oc*9+i*3+3])
		}
	}
	return out, nil
}

// fuseQKV builds improved DDPM's fused qkv convolution, laid out
// [head][q | k | v][c], from separate q, k and v projections (Linear or 1×1 conv,
// heads laid out [head][c] within each).
func fuseQKV(heads int) fillFunc {
	return func(dst []int, src []*SourceTensor) ([]float32, error) {
		ch := dst[0] / 3
		d := ch / heads
		per := 1 // values per output channel
		for _, n := range dst[1:] {
			per *= n
		}
		for _, s := range src {
			if s.Numel() != ch*per || s.Shape[0] != ch {
				return nil, fmt.Errorf("has shape %v, ocm needs %d·%d values", s.Shape, ch, per)
			}
		}
		out := make([]float32, 0, 3*ch*per)
		for h := range heads {
			for _, s := range src {
				out = append(out, s.Data[h*d*per:(h+1)*d*per]...)
			}
		}
		return out, nil
	}
}
