#!/usr/bin/python3
"""Golden checkpoints for ocm's checkpoint conversion (nn/convert_*.go): one small
model of each family the authors' and the public DDPM checkpoints use, with random
weights, saved as those codebases save them, and PyTorch's outputs.

Run with Debian's interpreter (python3-torch), from the repository root:

    /usr/bin/python3 nn/testdata/gen_convert_golden.py            # the committed goldens
    /usr/bin/python3 nn/testdata/gen_convert_golden.py --family iddpm --config cifar --head simple \\
        --out /tmp/ocm_cifar_ckpt          # the full CIFAR-10 model (52,542,979 parameters; ~210 MB)

Families (each written here from the structure of its codebase, with its module names):
  iddpm      improved DDPM's UNetModel (openai/improved-diffusion; J-zin/OCM_DPM's
             UNetModel4Pretrained with head out2): time_embed, input_blocks, middle_block,
             output_blocks, out, out2. Written with torch.save (zip).
  ddpm       pytorch_diffusion's Model (pesser/pytorch_diffusion; OCM_DPM's Model4Pretrained
             with heads before_out, norm_out2, conv_out2). Written with torch.save in the
             legacy format (_use_new_zipfile_serialization=False).
  diffusers  diffusers' UNet2DModel: config.json and diffusion_pytorch_model.safetensors.

Each output directory DIR gets the checkpoint (DIR/model.pt, or config.json and
diffusion_pytorch_model.safetensors) and DIR/golden.safetensors with input (N, C, R, R),
t (N), v (N, C, R, R) Rademacher, output = eps(input, t), head = the head's output (when
there is a head), jvp = d eps(input + s v, t)/ds at s = 0 (torch.autograd.forward_ad),
all evaluated in float64 with the stored weights. The committed goldens store their
weights as float16 (lossless: the reference uses the rounded values), to stay small.
"""
import argparse
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def sinusoid(t, dim, shift, cos_first):
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / (half - shift))
    args = t.to(torch.float64)[:, None] * freqs[None, :]
    parts = [torch.cos(args), torch.sin(args)] if cos_first else [torch.sin(args), torch.cos(args)]
    return torch.cat(parts, dim=1)


# ---------------------------------------------------------------- improved DDPM

class Seq(nn.Sequential):
    """TimestepEmbedSequential: children that take the embedding get it."""

    def forward(self, x, emb):
        for m in self:
            x = m(x, emb) if isinstance(m, IResBlock) else m(x)
        return x


class IResBlock(nn.Module):
    def __init__(self, ch, emb_ch, out_ch=None):
        super().__init__()
        out_ch = out_ch or ch
        self.in_layers = nn.Sequential(nn.GroupNorm(32, ch), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_ch, 2 * out_ch))
        self.out_layers = nn.Sequential(nn.GroupNorm(32, out_ch), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip_connection = nn.Identity() if out_ch == ch else nn.Conv2d(ch, out_ch, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        scale, shift = self.emb_layers(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_layers[0](h) * (1 + scale) + shift
        return self.skip_connection(x) + self.out_layers[1:](h)


class IAttention(nn.Module):
    def __init__(self, ch, heads):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(32, ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        x = x.reshape(b, c, -1)
        qkv = self.qkv(self.norm(x)).reshape(b * self.heads, -1, hh * ww)
        d = qkv.shape[1] // 3
        q, k, v = torch.split(qkv, d, dim=1)
        s = 1 / math.sqrt(math.sqrt(d))
        w = torch.softmax(torch.einsum("bct,bcs->bts", q * s, k * s), dim=-1)
        h = torch.einsum("bts,bcs->bct", w, v).reshape(b, -1, hh * ww)
        return (x + self.proj_out(h)).reshape(b, c, hh, ww)


class IDown(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Up(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class IUNet(nn.Module):
    def __init__(self, in_ch, ch, mult, num_res, attn_ds, heads, out_ch, head):
        super().__init__()
        self.ch = ch
        emb = 4 * ch
        self.time_embed = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([Seq(nn.Conv2d(in_ch, ch, 3, padding=1))])
        chans, cur, ds = [ch], ch, 1
        for level, m in enumerate(mult):
            for _ in range(num_res):
                layers = [IResBlock(cur, emb, m * ch)]
                cur = m * ch
                if ds in attn_ds:
                    layers.append(IAttention(cur, heads))
                self.input_blocks.append(Seq(*layers))
                chans.append(cur)
            if level != len(mult) - 1:
                self.input_blocks.append(Seq(IDown(cur)))
                chans.append(cur)
                ds *= 2
        self.middle_block = Seq(IResBlock(cur, emb), IAttention(cur, heads), IResBlock(cur, emb))
        self.output_blocks = nn.ModuleList()
        for level, m in list(enumerate(mult))[::-1]:
            for i in range(num_res + 1):
                layers = [IResBlock(cur + chans.pop(), emb, m * ch)]
                cur = m * ch
                if ds in attn_ds:
                    layers.append(IAttention(cur, heads))
                if level and i == num_res:
                    layers.append(Up(cur))
                    ds //= 2
                self.output_blocks.append(Seq(*layers))
        self.out = nn.Sequential(nn.GroupNorm(32, cur), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))
        self.in_ch = in_ch
        if head == "simple":
            self.out2 = nn.Sequential(nn.GroupNorm(32, cur), nn.SiLU(), nn.Conv2d(ch, in_ch, 3, padding=1))
        elif head == "complex":
            self.out2 = Seq(IResBlock(cur, emb), nn.GroupNorm(32, cur), nn.SiLU(), nn.Conv2d(ch, in_ch, 3, padding=1))
        self.head = head

    def forward(self, x, t):
        emb = self.time_embed(sinusoid(t, self.ch, 0, True).to(x.dtype))
        hs, h = [], x
        for m in self.input_blocks:
            h = m(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for m in self.output_blocks:
            h = m(torch.cat([h, hs.pop()], dim=1), emb)
        eps = self.out(h)[:, :self.in_ch]
        if self.head == "simple":
            return eps, self.out2(h)
        if self.head == "complex":
            return eps, self.out2(h, emb)
        return eps, None


# ---------------------------------------------------------------- pytorch_diffusion

def norm6(ch):
    return nn.GroupNorm(32, ch, eps=1e-6)


class DResBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1 = norm6(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.temb_proj = nn.Linear(temb, cout)
        self.norm2 = norm6(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.nin_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x) + h


class DAttn(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.norm = norm6(ch)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(ch, ch, 1) for _ in range(4))

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(b, c, -1).permute(0, 2, 1)
        k = self.k(h).reshape(b, c, -1)
        w = torch.softmax(torch.bmm(q, k) * c ** -0.5, dim=2)
        h = torch.bmm(self.v(h).reshape(b, c, -1), w.permute(0, 2, 1)).reshape(b, c, hh, ww)
        return x + self.proj_out(h)


class DDown(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class DModel(nn.Module):
    def __init__(self, in_ch, ch, mult, num_res, attn_res, res, head):
        super().__init__()
        self.ch, temb = ch, 4 * ch
        self.temb = nn.Module()
        self.temb.dense = nn.ModuleList([nn.Linear(ch, temb), nn.Linear(temb, temb)])
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)
        in_mult, cur_res = (1,) + tuple(mult), res
        self.down = nn.ModuleList()
        for i, m in enumerate(mult):
            lv = nn.Module()
            lv.block, lv.attn = nn.ModuleList(), nn.ModuleList()
            bin_ = ch * in_mult[i]
            for _ in range(num_res):
                lv.block.append(DResBlock(bin_, ch * m, temb))
                bin_ = ch * m
                if cur_res in attn_res:
                    lv.attn.append(DAttn(bin_))
            if i != len(mult) - 1:
                lv.downsample = DDown(bin_)
                cur_res //= 2
            self.down.append(lv)
        self.mid = nn.Module()
        self.mid.block_1, self.mid.attn_1, self.mid.block_2 = DResBlock(bin_, bin_, temb), DAttn(bin_), DResBlock(bin_, bin_, temb)
        self.up = nn.ModuleList()
        for i in reversed(range(len(mult))):
            lv = nn.Module()
            lv.block, lv.attn = nn.ModuleList(), nn.ModuleList()
            out, skip = ch * mult[i], ch * mult[i]
            for j in range(num_res + 1):
                if j == num_res:
                    skip = ch * in_mult[i]
                lv.block.append(DResBlock(bin_ + skip, out, temb))
                bin_ = out
                if cur_res in attn_res:
                    lv.attn.append(DAttn(bin_))
            if i != 0:
                lv.upsample = Up(bin_)
                cur_res *= 2
            self.up.insert(0, lv)
        self.norm_out = norm6(bin_)
        self.conv_out = nn.Conv2d(bin_, in_ch, 3, padding=1)
        self.head = head
        if head:
            if head == "complex":
                self.before_out = DResBlock(bin_, bin_, temb)
            self.norm_out2 = norm6(bin_)
            self.conv_out2 = nn.Conv2d(bin_, in_ch, 3, padding=1)
        self.nres = num_res

    def forward(self, x, t):
        temb = self.temb.dense[1](F.silu(self.temb.dense[0](sinusoid(t, self.ch, 1, False).to(x.dtype))))
        hs = [self.conv_in(x)]
        for lv in self.down:
            for j, blk in enumerate(lv.block):
                h = blk(hs[-1], temb)
                if len(lv.attn):
                    h = lv.attn[j](h)
                hs.append(h)
            if hasattr(lv, "downsample"):
                hs.append(lv.downsample(hs[-1]))
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(hs[-1], temb)), temb)
        for i in reversed(range(len(self.up))):
            lv = self.up[i]
            for j, blk in enumerate(lv.block):
                h = blk(torch.cat([h, hs.pop()], dim=1), temb)
                if len(lv.attn):
                    h = lv.attn[j](h)
            if i != 0:
                h = lv.upsample(h)
        eps = self.conv_out(F.silu(self.norm_out(h)))
        if not self.head:
            return eps, None
        g = self.before_out(h, temb) if self.head == "complex" else h
        return eps, self.conv_out2(F.silu(self.norm_out2(g)))


# ---------------------------------------------------------------- diffusers

class XResnet(nn.Module):
    def __init__(self, cin, cout, temb, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(32, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2 = nn.GroupNorm(32, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.conv_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.conv_shortcut(x) if hasattr(self, "conv_shortcut") else x) + h


class XAttention(nn.Module):
    def __init__(self, ch, head_dim, eps):
        super().__init__()
        self.heads = ch // head_dim
        self.group_norm = nn.GroupNorm(32, ch, eps=eps)
        self.to_q, self.to_k, self.to_v = nn.Linear(ch, ch), nn.Linear(ch, ch), nn.Linear(ch, ch)
        self.to_out = nn.ModuleList([nn.Linear(ch, ch), nn.Dropout(0.0)])

    def forward(self, x):
        b, c, hh, ww = x.shape
        h = self.group_norm(x).reshape(b, c, -1).transpose(1, 2)  # (B, HW, C)
        d = c // self.heads

        def split(z):
            return z.reshape(b, -1, self.heads, d).transpose(1, 2)  # (B, heads, HW, d)

        q, k, v = split(self.to_q(h)), split(self.to_k(h)), split(self.to_v(h))
        w = torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, dim=-1)
        o = (w @ v).transpose(1, 2).reshape(b, -1, c)
        o = self.to_out[0](o).transpose(1, 2).reshape(b, c, hh, ww)
        return x + o


class XDown(nn.Module):
    def __init__(self, ch, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class XUNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        outs, eps, L = cfg["block_out_channels"], cfg["norm_eps"], len(cfg["block_out_channels"])
        ch, temb, hd = outs[0], 4 * outs[0], cfg["attention_head_dim"]
        self.time_embedding = nn.Module()
        self.time_embedding.linear_1, self.time_embedding.linear_2 = nn.Linear(ch, temb), nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch, 3, padding=1)
        self.down_blocks, cur = nn.ModuleList(), ch
        for i, typ in enumerate(cfg["down_block_types"]):
            blk = nn.Module()
            blk.resnets = nn.ModuleList()
            if typ.startswith("Attn"):
                blk.attentions = nn.ModuleList()
            for _ in range(cfg["layers_per_block"]):
                blk.resnets.append(XResnet(cur, outs[i], temb, eps))
                cur = outs[i]
                if typ.startswith("Attn"):
                    blk.attentions.append(XAttention(cur, hd, eps))
            if i < L - 1:
                blk.downsamplers = nn.ModuleList([XDown(cur, cfg["downsample_padding"])])
            self.down_blocks.append(blk)
        self.mid_block = nn.Module()
        self.mid_block.resnets = nn.ModuleList([XResnet(cur, cur, temb, eps), XResnet(cur, cur, temb, eps)])
        self.mid_block.attentions = nn.ModuleList([XAttention(cur, hd, eps)])
        rev = list(reversed(outs))
        self.up_blocks, chans = nn.ModuleList(), None
        skips = [ch] + [o for i, o in enumerate(outs) for _ in range(cfg["layers_per_block"] + (i < L - 1))]
        for i, typ in enumerate(cfg["up_block_types"]):
            blk = nn.Module()
            blk.resnets = nn.ModuleList()
            if typ.startswith("Attn"):
                blk.attentions = nn.ModuleList()
            for _ in range(cfg["layers_per_block"] + 1):
                blk.resnets.append(XResnet(cur + skips.pop(), rev[i], temb, eps))
                cur = rev[i]
                if typ.startswith("Attn"):
                    blk.attentions.append(XAttention(cur, hd, eps))
            if i < L - 1:
                blk.upsamplers = nn.ModuleList([Up(cur)])
            self.up_blocks.append(blk)
        self.conv_norm_out = nn.GroupNorm(32, cur, eps=eps)
        self.conv_out = nn.Conv2d(cur, cfg["out_channels"], 3, padding=1)

    @staticmethod
    def run(blk, h, temb):
        out = []
        for j, r in enumerate(blk.resnets):
            h = r(h, temb)
            if hasattr(blk, "attentions"):
                h = blk.attentions[j](h)
            out.append(h)
        return h, out

    def forward(self, x, t):
        cfg = self.cfg
        e = sinusoid(t, cfg["block_out_channels"][0], cfg["freq_shift"], cfg["flip_sin_to_cos"]).to(x.dtype)
        temb = self.time_embedding.linear_2(F.silu(self.time_embedding.linear_1(e)))
        h = self.conv_in(x)
        res = [h]
        for blk in self.down_blocks:
            h, out = self.run(blk, h, temb)
            res += out
            if hasattr(blk, "downsamplers"):
                h = blk.downsamplers[0](h)
                res.append(h)
        mb = self.mid_block
        h = mb.resnets[1](mb.attentions[0](mb.resnets[0](h, temb)), temb)
        for blk in self.up_blocks:
            for j, r in enumerate(blk.resnets):
                h = r(torch.cat([h, res.pop()], dim=1), temb)
                if hasattr(blk, "attentions"):
                    h = blk.attentions[j](h)
            if hasattr(blk, "upsamplers"):
                h = blk.upsamplers[0](h)
        return self.conv_out(F.silu(self.conv_norm_out(h)))[:, :cfg["in_channels"]], None


# ---------------------------------------------------------------- configs and I/O

CONFIGS = {
    # 8x8, 32 channels, one res block per level, 2-head attention at 4x4 (ds 2) and in the
    # middle, learned-variance output (6 channels: eps is the first 3), complex head.
    ("iddpm", "small"): dict(in_ch=3, ch=32, mult=(1, 1), num_res=1, attn_ds=(2,), heads=2, out_ch=6),
    # ocm-math Appendix B: the paper's CIFAR-10 backbone.
    ("iddpm", "cifar"): dict(in_ch=3, ch=128, mult=(1, 2, 2, 2), num_res=3, attn_ds=(2, 4), heads=4, out_ch=3),
    # 8x8, 32 channels, attention at 4x4 and in the middle, complex head.
    ("ddpm", "small"): dict(in_ch=3, ch=32, mult=(1, 1), num_res=1, attn_res=(4,), res=8),
    # 8x8: attention in the down block 1 / up block 0 (4x4) and the middle, two heads
    # of 16, [cos, sin] with freq_shift 1, right/bottom padding, norm_eps 1e-6.
    ("diffusers", "small"): {
        "_class_name": "UNet2DModel", "_diffusers_version": "0.21.4", "sample_size": 8,
        "in_channels": 3, "out_channels": 3, "center_input_sample": False,
        "time_embedding_type": "positional", "freq_shift": 1, "flip_sin_to_cos": True,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"],
        "block_out_channels": [32, 32], "layers_per_block": 1, "mid_block_scale_factor": 1,
        "downsample_padding": 0, "downsample_type": "conv", "upsample_type": "conv", "dropout": 0.0,
        "act_fn": "silu", "attention_head_dim": 16, "norm_num_groups": 32, "attn_norm_num_groups": None,
        "norm_eps": 1e-06, "resnet_time_scale_shift": "default", "add_attention": True,
        "class_embed_type": None, "num_class_embeds": None, "num_train_timesteps": None},
}
DEFAULT_OUT = {"iddpm": "ckpt_iddpm_small", "ddpm": "ckpt_ddpm_small", "diffusers": "ckpt_diffusers_small"}


def build(family, config, head, seed):
    torch.manual_seed(seed)
    cfg = CONFIGS[(family, config)]
    if family == "iddpm":
        m = IUNet(head=head, **cfg)
    elif family == "ddpm":
        m = DModel(head=head, **cfg)
    else:
        m = XUNet(cfg)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # exercise every parameter: no zero convs, random norms
        for mod in m.modules():
            if isinstance(mod, nn.GroupNorm):
                mod.weight.copy_(1 + 0.1 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))
    return m.eval()


def write_safetensors(path, tensors, meta=None, dtype="F32"):
    header, blobs, off = {}, [], 0
    if meta:
        header["__metadata__"] = meta
    for name, t in tensors:
        t = t.detach().contiguous()
        raw = (t.to(torch.float16) if dtype == "F16" else t.to(torch.float32)).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=["iddpm", "ddpm", "diffusers", "all"], default="all")
    ap.add_argument("--config", default="small")
    ap.add_argument("--head", choices=["none", "simple", "complex"], default="complex")
    ap.add_argument("--out", help="output directory (default nn/testdata/ckpt_FAMILY_small)")
    ap.add_argument("--f32", action="store_true", help="store float32 weights (default: float16 for small configs)")
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--batch", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(2)
    fams = ["iddpm", "ddpm", "diffusers"] if args.family == "all" else [args.family]
    for fam in fams:
        head = None if fam == "diffusers" or args.head == "none" else args.head
        out = args.out or os.path.join(HERE, DEFAULT_OUT[fam])
        os.makedirs(out, exist_ok=True)
        half = not args.f32 and args.config == "small"
        m = build(fam, args.config, head, args.seed)
        if half:
            with torch.no_grad():
                for p in m.parameters():
                    p.copy_(p.half().float())
        sd = m.state_dict()
        if half:
            sd = type(sd)((k, v.half()) for k, v in sd.items())
        if fam == "iddpm":
            torch.save(sd, os.path.join(out, "model.pt"))
        elif fam == "ddpm":
            torch.save(sd, os.path.join(out, "model.pt"), _use_new_zipfile_serialization=False)
        else:
            with open(os.path.join(out, "config.json"), "w") as f:
                json.dump(CONFIGS[(fam, args.config)], f, indent=2)
            write_safetensors(os.path.join(out, "diffusion_pytorch_model.safetensors"), list(sd.items()),
                              {"format": "pt"}, "F16" if half else "F32")
        in_ch, res = (3, 8) if args.config == "small" else (3, 32)
        g = torch.Generator().manual_seed(args.seed + 2)
        x = torch.randn(args.batch, in_ch, res, res, generator=g)
        v = torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1
        t = torch.tensor([3.0, 517.0, 999.0, 64.0][:args.batch])
        m64 = m.double()
        import torch.autograd.forward_ad as fwAD
        with torch.no_grad():
            eps, hd = m64(x.double(), t)
            with fwAD.dual_level():
                y, _ = m64(fwAD.make_dual(x.double(), v.double()), t)
                jvp = fwAD.unpack_dual(y).tangent
        data = [("input", x), ("t", t), ("v", v), ("output", eps), ("jvp", jvp)]
        if hd is not None:
            data.append(("head", hd))
        write_safetensors(os.path.join(out, "golden.safetensors"), data,
                          {"family": fam, "config": args.config, "head": head or "", "torch": torch.__version__})
        n = sum(p.numel() for k, p in m.named_parameters() if not k.startswith(("out2", "before_out", "norm_out2", "conv_out2")))
        print("wrote %s: %s %s, %d backbone parameters, |output|max %.3g |jvp|max %.3g" % (
            out, fam, args.config, n, eps.abs().max(), jvp.abs().max()))


if __name__ == "__main__":
    main()
