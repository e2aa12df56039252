"""Model registry in the style of timm: ``@register_model`` on a factory, ``create_model(name)``.

The family modules (vit, mmfree, convnet) register their models when imported; the package's
``__init__`` imports them, so every import from ``quant_models`` sees all models.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

_MODELS: dict[str, Callable] = {}
_CONFIGS: dict[str, type | None] = {}


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
    return sorted(_MODELS)


def model_description(name: str) -> str:
    """First line of a registered model's docstring."""
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
    # quant_models.checkpoint builds its models with create_model, so it is imported only here.
    from quant_models.checkpoint import load_checkpoint, pretrained_checkpoint

    return load_checkpoint(pretrained_checkpoint(name, pretrained), name=name, **overrides)


def _require(name: str) -> None:
    """Raise UnknownModelError, listing the registered names, if ``name`` is not one."""
    if name not in _MODELS:
        raise UnknownModelError(f"unknown model {name!r}. Available models: {', '.join(sorted(_MODELS))}")
