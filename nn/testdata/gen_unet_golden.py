#!/usr/bin/python3
"""Golden data for ocm's UNet (nn/unet.go): a PyTorch reference model with random
weights, a fixed input batch, its output and its input-JVP, in one safetensors file.

Run with Debian's interpreter (python3-torch 1.13), from the repository root:

    /usr/bin/python3 nn/testdata/gen_unet_golden.py               # -> nn/testdata/unet_small.safetensors
    /usr/bin/python3 nn/testdata/gen_unet_golden.py --config unet-s --out /tmp/unet_s.safetensors
    /usr/bin/python3 nn/testdata/gen_unet_golden.py --config iddpm-small   # -> nn/testdata/unet_iddpm_small.safetensors
    /usr/bin/python3 nn/testdata/gen_unet_golden.py --config unet-cifar --out /tmp/unet_cifar.safetensors

The DDPM models are UNetS from shared/bench/torch_ref.py (imported, not copied); the
improved-DDPM ones (variant "iddpm": iddpm-small, unet-cifar) are UNet from
nn/testdata/iddpm_ref.py, written from ocm-math Appendix B. Weights are the PyTorch
default initialisation from a fixed seed, except that every GroupNorm weight and bias is
randomised (1 + 0.1 z, 0.1 z) and every zero-initialised layer is given PyTorch's default
initialisation, so that every parameter is exercised; with
--f16-weights (the default for the small config, to keep the file under 1 MB) every weight
is rounded to float16 before evaluation and stored as F16, which is lossless.

The reference is evaluated in float64 (eval mode: no dropout), with the timestep
embedding computed in float64 too (ocm computes it in float64 and rounds once), so the
golden output is the exact function of the stored float32/float16 inputs and weights
up to float64 rounding. Stored tensors, besides the state_dict:
  input (N, C, R, R), t (N), v (N, C, R, R) Rademacher, output = eps(input, t),
  features = the input of norm_out (N, ch, R, R), jvp = d eps(input + s v, t)/ds at s = 0
  (forward mode, torch.autograd.forward_ad), all F32.
Metadata: format "ocm-unet-golden", version "1", config (JSON of UNetS's arguments).
"""
import argparse
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "bench"))
if not os.path.isdir(BENCH):
    BENCH = "/work/shared/bench"
sys.path.insert(0, BENCH)
import torch_ref as R  # noqa: E402  (its argparse main only runs under __main__)

FORMAT, VERSION = "ocm-unet-golden", "1"

CONFIGS = {
    # 8x8, channels 32 everywhere (64 at the skip concatenations), attention at 4x4 and
    # in the middle, one res block per level: down 8->4, up 4->8, NIN shortcuts on the up
    # path, 2 image channels. 285,090 parameters (about 600 kB with F16 weights).
    "small": dict(in_ch=2, ch=32, ch_mult=[1, 1], num_res_blocks=1, attn_resolutions=[4],
                  resolution=8, dropout=0.1, temb_in=32),
    "unet-s": dict(in_ch=1, ch=64, ch_mult=[1, 2, 2], num_res_blocks=2, attn_resolutions=[7],
                   resolution=28, dropout=0.1, temb_in=64),
    # improved DDPM at 8x8: 3 image channels, 32 channels everywhere (64 at the skips),
    # two-head attention at 4x4 and in the middle, one res block per level.
    "iddpm-small": dict(in_ch=3, ch=32, ch_mult=[1, 1], num_res_blocks=1, attn_resolutions=[4],
                        resolution=8, dropout=0.1, temb_in=32, variant="iddpm", num_heads=2),
    # ocm-math Appendix B (nn.UNetCIFAR).
    "unet-cifar": dict(in_ch=3, ch=128, ch_mult=[1, 2, 2, 2], num_res_blocks=3, attn_resolutions=[16, 8],
                       resolution=32, dropout=0.3, temb_in=128, variant="iddpm", num_heads=4),
}
OUT = {"small": "unet_small.safetensors", "iddpm-small": "unet_iddpm_small.safetensors"}


def timestep_embedding64(t, dim=R.TEMB_DIM, max_period=10000.0):
    """torch_ref.timestep_embedding in float64 (same layout and frequencies)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t.to(torch.float64)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=1)


def build(cfg, seed, f16):
    torch.manual_seed(seed)
    if cfg.get("variant") == "iddpm":
        sys.path.insert(0, HERE)
        import iddpm_ref
        m = iddpm_ref.UNet(**cfg)
    else:
        m = R.UNetS(**cfg)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.weight.copy_(1 + 0.1 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))
            elif isinstance(mod, torch.nn.Conv2d) and not mod.weight.any():
                mod.reset_parameters()
        if f16:
            for p in m.parameters():
                p.copy_(p.half().float())
    return m.eval()


def rademacher(shape, g):
    return torch.randint(0, 2, shape, generator=g).to(torch.float32).mul_(2).sub_(1)


def evaluate(m, x, t, v):
    """Output, features and J v in float64."""
    m64 = m.double()
    feats = {}

    def grab(mod, inp, out):
        feats.setdefault("h", inp[0])  # the first (plain) forward's; returns None

    hook = m64.norm_out.register_forward_hook(grab)
    R.timestep_embedding = timestep_embedding64
    import torch.autograd.forward_ad as fwAD
    with torch.no_grad():
        out = m64(x.double(), t)
        with fwAD.dual_level():
            y = m64(fwAD.make_dual(x.double(), v.double()), t)
            jvp = fwAD.unpack_dual(y).tangent
    hook.remove()
    return out, feats["h"], jvp


def write_safetensors(path, tensors, meta):
    """Minimal safetensors writer: tensors is a list of (name, float tensor, dtype)."""
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, t, dt in sorted(tensors, key=lambda e: e[0]):
        t = t.detach().contiguous()
        raw = (t.to(torch.float16) if dt == "F16" else t.to(torch.float32)).numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="small", choices=sorted(CONFIGS))
    ap.add_argument("--out", help="output file (default: nn/testdata/%s)" % " or ".join(sorted(OUT.values())))
    ap.add_argument("--seed", type=int, default=20260127)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--f16-weights", choices=["auto", "yes", "no"], default="auto",
                    help="round weights to float16 and store them as F16 (auto: the committed configs only)")
    args = ap.parse_args()
    cfg = CONFIGS[args.config]
    if args.out is None:
        if args.config not in OUT:
            ap.error("--config %s needs --out (only %s are committed)" % (args.config, ", ".join(sorted(OUT))))
        args.out = os.path.join(HERE, OUT[args.config])
    f16 = args.f16_weights == "yes" or (args.f16_weights == "auto" and args.config in OUT)
    torch.set_num_threads(2)

    m = build(cfg, args.seed, f16)
    weights = [(k, p.clone(), "F16" if f16 else "F32") for k, p in m.state_dict().items()]
    g = torch.Generator().manual_seed(args.seed + 2)
    shape = (args.batch, cfg["in_ch"], cfg["resolution"], cfg["resolution"])
    x = torch.randn(shape, generator=g)
    v = rademacher(shape, g)
    t = torch.tensor([3.0, 517.0, 999.0, 64.0][:args.batch] + [float(10 * i) for i in range(max(0, args.batch - 4))])
    out, feats, jvp = evaluate(m, x, t, v)

    data = [("input", x, "F32"), ("t", t, "F32"), ("v", v, "F32"), ("output", out, "F32"),
            ("features", feats, "F32"), ("jvp", jvp, "F32")]
    meta = {"format": FORMAT, "version": VERSION, "config": json.dumps(cfg),
            "model": "nn/testdata/iddpm_ref.py UNet" if cfg.get("variant") == "iddpm" else "shared/bench/torch_ref.py UNetS",
            "torch": torch.__version__,
            "seed": str(args.seed), "reference_dtype": "float64",
            "weights_dtype": "F16" if f16 else "F32"}
    write_safetensors(args.out, weights + data, meta)
    n = sum(p.numel() for p in m.parameters())
    print("wrote %s: %s, %d parameters, %d bytes; |output|max %.3g |jvp|max %.3g" % (
        args.out, args.config, n, os.path.getsize(args.out), out.abs().max(), jvp.abs().max()))


if __name__ == "__main__":
    main()
