#!/usr/bin/python3
"""Checkpoints for nn/torchfile's tests, written by PyTorch's own torch.save.

Run from the repository root with Debian's interpreter (python3-torch):

    /usr/bin/python3 nn/torchfile/testdata/gen_torchfile.py

Writes, next to this script:
  state_zip.pt     torch.save(sd) in the default zip format
  state_legacy.pt  the same with _use_new_zipfile_serialization=False
  nested_zip.pt    {"model": sd, "epoch": 3, "name": "x"} (a training checkpoint)
  expected.json    every tensor of sd: shape and values (float64), row-major
  evil_system.pt   a dict whose value unpickles by calling os.system (posix.system)
  evil_eval.pt     the same with builtins.eval, in the legacy format
  whole_module.pt  torch.save of an nn.Linear itself (its class, not a state dict)

sd holds F32, F16, BF16, F64 and I64 tensors, a transposed view and a narrowed view
of one storage (strides and storage offsets), an nn.Parameter, a scalar, an empty
tensor, and the _metadata a module's state_dict carries.
"""
import collections
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def state():
    torch.manual_seed(7)  # nn.Linear's own initialisation
    g = torch.Generator().manual_seed(7)
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(2, 3, generator=g))
    sd = lin.state_dict()  # an OrderedDict with _metadata
    base = torch.randn(4, 5, generator=g)
    sd["view.t"] = base.t()                 # stride (1, 5)
    sd["view.rows"] = base[1:3]             # storage offset 5
    sd["view.col"] = base[:, 2]             # offset 2, stride 5
    sd["half"] = torch.randn(3, 2, generator=g).half()
    sd["bf16"] = torch.randn(5, generator=g).bfloat16()
    sd["f64"] = torch.randn(2, 2, generator=g).double()
    sd["long"] = torch.tensor([1, -2, 3 << 40])
    sd["scalar"] = torch.tensor(2.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(2, generator=g))
    return sd


class CallsSystem:
    def __reduce__(self):
        return (os.system, ("true",))


class CallsEval:
    def __reduce__(self):
        return (eval, ("1",))


def main():
    sd = state()
    torch.save(sd, os.path.join(HERE, "state_zip.pt"))
    torch.save(sd, os.path.join(HERE, "state_legacy.pt"), _use_new_zipfile_serialization=False)
    torch.save({"model": sd, "epoch": 3, "name": "x"}, os.path.join(HERE, "nested_zip.pt"))
    torch.save({"w": CallsSystem()}, os.path.join(HERE, "evil_system.pt"))
    torch.save({"w": CallsEval()}, os.path.join(HERE, "evil_eval.pt"), _use_new_zipfile_serialization=False)
    torch.save(torch.nn.Linear(2, 2), os.path.join(HERE, "whole_module.pt"))
    exp = collections.OrderedDict()
    for k, v in sd.items():
        exp[k] = {"shape": list(v.shape), "values": v.detach().double().flatten().tolist()}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(exp, f, indent=0)
    print("wrote", ", ".join(sorted(os.listdir(HERE))))


if __name__ == "__main__":
    main()
