"""Model registry in the style of timm: ``@register_model`` on a factory, ``create_model(name)``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import torch

_MODELS: dict[str, Callable] = {}
_CONFIGS: dict[str, type | None] = {}
CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
BREVITAS_LATE_KEY = "scaling_impl.value"


class UnknownModelError(ValueError):
    """A model name that is not registered."""


def register_model(fn: Callable | None = None, *, config: type | None = None) -> Callable:
    """Register a factory ``fn(**overrides) -> nn.Module`` under its name with '_' -> '-'.

    Use it bare (``@register_model``) or naming the family's config dataclass
    (``@register_model(config=ViTConfig)``). A declared config lets the trainer set exactly the
    fields the model has (patch size, stochastic depth, dropout); an undeclared one gets only
    ``img_size``, ``in_chans`` and ``num_classes``.
    """
    if fn is None:
        return lambda f: register_model(f, config=config)
    name = fn.__name__.replace("_", "-")
    if name in _MODELS:
        raise ValueError(f"model {name!r} registered twice")
    _MODELS[name] = fn
    _CONFIGS[name] = config
    return fn


def config_fields(name: str) -> frozenset[str] | None:
    """Field names of a registered model's config dataclass, or None if it declared none."""
    _require(name)
    config = _CONFIGS[name]
    return None if config is None else frozenset(f.name for f in dataclasses.fields(config))


def configured(base, overrides: dict):
    """A model family's config dataclass ``base`` with ``overrides`` applied; a field the family
    does not have raises a TypeError that lists the ones it has."""
    names = {f.name for f in dataclasses.fields(base)}
    bad = sorted(set(overrides) - names)
    if bad:
        raise TypeError(f"unknown config fields {bad}; {type(base).__name__} has: {', '.join(sorted(names))}")
    return dataclasses.replace(base, **overrides)


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    _load_families()
    return sorted(_MODELS)


def model_description(name: str) -> str:
    """First line of a registered model's docstring."""
    _load_families()
    return (_MODELS[name].__doc__ or "").strip().split("\n")[0]


def create_model(name: str, pretrained: str | None = None, **overrides) -> torch.nn.Module:
    """Build a registered model.

    ``overrides`` replace fields of the model's config dataclass (e.g. ``img_size=28, in_chans=1``).
    ``pretrained`` names a shipped checkpoint by dataset (e.g. ``"fashion-mnist"``); the input size
    and class count then come from the checkpoint.
    """
    _require(name)
    if pretrained is None:
        model = _MODELS[name](**overrides)
        model.registry_name = name
        return model
    path = CHECKPOINT_DIR / f"{name}_{pretrained}.pt"
    if not path.exists():
        shipped = sorted(p.stem for p in CHECKPOINT_DIR.glob("*.pt"))
        raise FileNotFoundError(
            f"no shipped checkpoint for {name!r} on {pretrained!r} (looked for {path}). "
            f"Shipped checkpoints: {', '.join(shipped) or 'none yet'}; train one with `qvit train`."
        )
    return load_checkpoint(path, name=name, **overrides)


def load_checkpoint(path: str | Path, name: str | None = None, **overrides) -> torch.nn.Module:
    """Build the model recorded in a checkpoint file and load its weights.

    A checkpoint is a dict with ``model`` (registry name), ``config`` (overrides used to build it)
    and ``state_dict``. A file that does not fit the model gives a ``ValueError`` naming the
    mismatching tensors.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise ValueError(f"cannot read checkpoint {path}: {e}. Pass a file written by `qvit train`.") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a qvit checkpoint (no 'state_dict'); pass a file written by `qvit train`.")
    model_name = name or ckpt.get("model")
    if name is not None and ckpt.get("model") not in (None, name):
        raise ValueError(f"checkpoint {path} is for model {ckpt['model']!r}, not {name!r}; pass --model {ckpt['model']}.")
    config = {**ckpt.get("config", {}), **overrides}
    model = create_model(model_name, **config)
    load_state(model, ckpt["state_dict"], source=str(path))
    return model


def load_state(model: torch.nn.Module, state: dict, source: str) -> None:
    """Load a state dict strictly, explaining mismatches in one message."""
    own = model.state_dict()
    # Brevitas adds a learned activation scale ('...scaling_impl.value') to the state only once its
    # statistics have been collected; either side may lack it, so it is not counted as a mismatch.
    missing = [k for k in own if k not in state and not k.endswith(BREVITAS_LATE_KEY)]
    unexpected = [k for k in state if k not in own and not k.endswith(BREVITAS_LATE_KEY)]
    shapes = [f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:3])})")
        raise ValueError(f"checkpoint {source} does not match the model: {'; '.join(parts)}. "
                         "Use the --model and config the checkpoint was trained with.")
    result = model.load_state_dict(state, strict=False)
    leftover = [k for k in result.missing_keys + result.unexpected_keys if not k.endswith(BREVITAS_LATE_KEY)]
    if leftover:
        raise ValueError(f"checkpoint {source} does not match the model: {', '.join(leftover[:5])}")


def _require(name: str) -> None:
    """Load the model families; raise UnknownModelError, listing the registered names, if ``name`` is not one."""
    _load_families()
    if name not in _MODELS:
        raise UnknownModelError(f"unknown model {name!r}. Available models: {', '.join(sorted(_MODELS))}")


def _load_families() -> None:
    # Importing a family module runs its @register_model decorators.
    from quant_models import convnet, mmfree, vit  # noqa: F401
