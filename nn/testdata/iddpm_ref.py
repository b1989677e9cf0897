"""The improved-DDPM UNet of the paper's CIFAR-10 backbone, in PyTorch, written from
ocm-math Appendix B (openai/improved-diffusion's unet.py with use_scale_shift_norm,
num_heads attention and learn_sigma off). Module names follow ocm's Go UNet
(nn/unet.go), which in turn follows shared/bench/torch_ref.py, so one state_dict
loads in both; the structure is improved DDPM's:

  ResBlock:  h = conv1(SiLU(GN(x)));  (scale, shift) = temb_proj(SiLU(emb)).chunk(2)
             h = GN(h)·(1 + scale) + shift;  h = conv2(dropout(SiLU(h)))   [conv2 zero-init]
             out = skip(x) + h, skip = 1×1 conv when the width changes
  Attention: qkv = 1×1 conv C→3C of GN(x), viewed (B·heads, 3C/heads, HW), split q, k, v;
             w = softmax((q·c^-1/4)ᵀ (k·c^-1/4)), c = C/heads; h = v wᵀ; x + proj_out(h) [zero-init]
  Embedding: [cos(t f), sin(t f)], f_j = exp(−ln(10000) j / half)
  GroupNorm: 32 groups, eps 1e-5 (PyTorch's default), computed as given.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

GROUPS = 32


def timestep_embedding(t, dim, max_period=10000.0):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def zero(m):
    for p in m.parameters():
        nn.init.zeros_(p)
    return m


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, temb_ch, dropout):
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.temb_proj = nn.Linear(temb_ch, 2 * out_ch)
        self.norm2 = nn.GroupNorm(GROUPS, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = zero(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        if in_ch != out_ch:
            self.nin_shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.temb_proj(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        skip = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return skip + h


class AttnBlock(nn.Module):
    def __init__(self, ch, heads):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(GROUPS, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj_out = zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x):
        b, c, hh, ww = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b * self.heads, 3 * c // self.heads, hh * ww)
        d = c // self.heads
        q, k, v = torch.split(qkv, d, dim=1)
        s = 1 / math.sqrt(math.sqrt(d))
        w = torch.softmax(torch.einsum("bct,bcs->bts", q * s, k * s), dim=-1)
        h = torch.einsum("bts,bcs->bct", w, v).reshape(b, c, hh, ww)
        return x + self.proj_out(h)


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """Arguments as ocm's UNetConfig JSON (variant "iddpm")."""

    def __init__(self, in_ch=3, ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=3,
                 attn_resolutions=(16, 8), resolution=32, dropout=0.3, temb_in=128,
                 variant="iddpm", num_heads=4):
        super().__init__()
        assert variant == "iddpm"
        self.temb_in = temb_in
        temb_ch = 4 * ch
        self.temb = nn.Sequential(nn.Linear(temb_in, temb_ch), nn.SiLU(), nn.Linear(temb_ch, temb_ch))
        self.conv_in = nn.Conv2d(in_ch, ch, 3, padding=1)

        def attn(c, res):
            return AttnBlock(c, num_heads) if res in attn_resolutions else nn.Identity()

        hs, cur, res = [ch], ch, resolution
        self.down = nn.ModuleList()
        for i, mult in enumerate(ch_mult):
            level = nn.Module()
            level.blocks, level.attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks):
                level.blocks.append(ResBlock(cur, ch * mult, temb_ch, dropout))
                cur = ch * mult
                level.attns.append(attn(cur, res))
                hs.append(cur)
            if i != len(ch_mult) - 1:
                level.downsample = Downsample(cur)
                hs.append(cur)
                res //= 2
            self.down.append(level)
        self.mid_block1 = ResBlock(cur, cur, temb_ch, dropout)
        self.mid_attn = AttnBlock(cur, num_heads)
        self.mid_block2 = ResBlock(cur, cur, temb_ch, dropout)
        self.up = nn.ModuleList()
        for i, mult in reversed(list(enumerate(ch_mult))):
            level = nn.Module()
            level.blocks, level.attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(num_res_blocks + 1):
                level.blocks.append(ResBlock(cur + hs.pop(), ch * mult, temb_ch, dropout))
                cur = ch * mult
                level.attns.append(attn(cur, res))
            if i != 0:
                level.upsample = Upsample(cur)
                res *= 2
            self.up.append(level)
        self.norm_out = nn.GroupNorm(GROUPS, cur)
        self.conv_out = zero(nn.Conv2d(cur, in_ch, 3, padding=1))

    def forward(self, x, t):
        emb = self.temb(timestep_embedding(t, self.temb_in).to(x.dtype))
        hs = [self.conv_in(x)]
        for level in self.down:
            for blk, attn in zip(level.blocks, level.attns):
                hs.append(attn(blk(hs[-1], emb)))
            if hasattr(level, "downsample"):
                hs.append(level.downsample(hs[-1]))
        h = self.mid_block2(self.mid_attn(self.mid_block1(hs[-1], emb)), emb)
        for level in self.up:
            for blk, attn in zip(level.blocks, level.attns):
                h = attn(blk(torch.cat([h, hs.pop()], dim=1), emb))
            if hasattr(level, "upsample"):
                h = level.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h)))
