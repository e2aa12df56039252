"""Parameter and operation counts of a model, by forward hooks on one input.

Each Linear / Conv2d / MatMul made by :mod:`quant_models.layers` carries ``qvit_bits =
(weight_bits, input_bits)`` (32 = float). A MAC is *binary* when both operands are 1-bit,
*ternary* when the weight is ternary (2-bit), otherwise *other* (k-bit integer or float).
Operations follow BinaryViT / Bi-Real: OPs = BOPs / 64 + FLOPs. A MAC whose operands are both at
most 8 bits wide costs b_w * b_a BOPs (1 for binary, 8 for binary weights on 8-bit pixels); a MAC
with a float operand is one FLOP.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass
class Complexity:
    """Counts for one image."""

    params: int
    binary_macs: int
    ternary_macs: int
    other_macs: int
    bops: int
    flops: int

    @property
    def ops(self) -> float:
        return self.bops / 64 + self.flops

    def to_dict(self):
        return {**asdict(self), "ops": self.ops}


def _kind(bits) -> str:
    w, a = bits
    if w == 1 and a == 1:
        return "binary"
    if w == 2 and a <= 8:
        return "ternary"
    return "other"


def count(model: nn.Module, input_shape: tuple) -> Complexity:
    """Counts for one input of ``input_shape`` (batch 1) in eval mode."""
    totals = {"binary": 0, "ternary": 0, "other": 0, "bops": 0, "flops": 0}
    hooks = []

    def add(bits, macs):
        totals[_kind(bits)] += macs
        if max(bits) <= 8:
            totals["bops"] += macs * bits[0] * bits[1]
        else:
            totals["flops"] += macs

    def linear_hook(mod, inp, out):
        add(mod.qvit_bits, out.numel() * mod.in_features)

    def conv_hook(mod, inp, out):
        k = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        add(mod.qvit_bits, out.numel() * k)

    def matmul_hook(mod, inp, out):
        add(mod.qvit_bits, out.numel() * inp[0].shape[-1])

    for m in model.modules():
        if not hasattr(m, "qvit_bits"):
            continue
        if isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
        elif isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        else:
            hooks.append(m.register_forward_hook(matmul_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Complexity(params, totals["binary"], totals["ternary"], totals["other"], totals["bops"], totals["flops"])
