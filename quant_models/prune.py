"""Structured pruning of MLP dimensions, after "Visual Transformer Pruning" (Zhu et al.).

Train with ``prune_gates=True`` and an L1 penalty on the gates (``l1_penalty``); then ``prune``
keeps the dimensions with the largest gate magnitudes and returns a model that is really smaller:
its config lists the reduced per-block MLP widths, so its exported graph (and hardware) shrinks.
Fine-tune the pruned model afterwards (``qvit train --init``).
"""

from __future__ import annotations

import torch

from quant_models.checkpoint import load_state
from quant_models.registry import create_model
from quant_models.vit import Mlp, VisionTransformer


def gated_mlps(model) -> list[tuple[str, Mlp]]:
    """(name, Mlp) of every gated MLP in block order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, Mlp) and m.gate is not None]


def l1_penalty(model) -> torch.Tensor:
    """Sum of |gate| over all gated MLPs (zero when the model has none)."""
    terms = [m.gate.abs().sum() for _, m in gated_mlps(model)]
    return torch.stack(terms).sum() if terms else torch.zeros(())


# Per-MLP parameters indexed by the hidden dimension, and the axis they are indexed on.
_HIDDEN_AXIS = {"gate": 0, "fc1.weight": 0, "fc1.bias": 0, "norm1.weight": 0, "norm1.bias": 0,
                "norm1.running_mean": 0, "norm1.running_var": 0, "hidden_quant.shift": 0, "fc2.weight": 1,
                "act.gamma": 0, "act.zeta": 0, "act.prelu.weight": 0}


def prune(model: VisionTransformer, rate: float, min_width: int = 4) -> VisionTransformer:
    """Remove the fraction ``rate`` of gated MLP dimensions with the smallest |gate| (one global
    threshold, at least ``min_width`` kept per block). Gives a new, smaller model with the kept weights."""
    if not 0 <= rate < 1:
        raise ValueError(f"pruning rate must be in [0, 1), got {rate}")
    mlps = gated_mlps(model)
    if not mlps:
        raise ValueError("the model has no pruning gates: train it with --set prune_gates=true first")
    scores = torch.cat([m.gate.detach().abs() for _, m in mlps])
    n_drop = int(rate * len(scores))
    threshold = scores.sort().values[n_drop - 1] if n_drop else -1.0
    keep = {}
    for name, m in mlps:
        g = m.gate.detach().abs()
        idx = torch.nonzero(g > threshold).flatten()
        if len(idx) < min_width:
            idx = g.argsort(descending=True)[:min_width].sort().values
        keep[name] = idx
    overrides = dict(getattr(model, "config_overrides", {}))
    overrides["mlp_hidden"] = tuple(len(keep[n]) for n, _ in mlps)
    overrides["prune_gates"] = True
    name = model.registry_name
    small = create_model(name, **overrides)
    state = {}
    for key, value in model.state_dict().items():
        prefix = next((n for n in keep if key.startswith(n + ".")), None)
        suffix = key[len(prefix) + 1:] if prefix else None
        if prefix and suffix in _HIDDEN_AXIS:
            value = value.index_select(_HIDDEN_AXIS[suffix], keep[prefix])
        state[key] = value
    load_state(small, state, source="pruned model")
    return small

