"""The model checkpoint format, written and read only here.

A checkpoint is a ``torch.save``'d dict::

    {"model": registry name, "config": the overrides the model was built with,
     "state_dict": its weights, ...optional metadata: "dataset", "test_top1"}

``qvit train`` writes one as ``OUT/model.pt``, ``qvit prune`` as ``--out``, and the shipped ones live in
:data:`CHECKPOINT_DIR` as ``<model>_<dataset>.pt`` (beside a ``.json`` with the training metrics).
A training run's resumable state (``OUT/checkpoint.pt``: the same three keys plus optimizer, RNG
state and metrics) is written through :func:`atomic_save` too and also loads as a checkpoint.
"""

from __future__ import annotations

from pathlib import Path

import torch

from quant_models.registry import create_model

CHECKPOINT_DIR = Path(__file__).parent / "checkpoints"
METADATA = ("dataset", "test_top1")  # the optional keys a checkpoint may carry besides the required three
BREVITAS_LATE_KEY = "scaling_impl.value"


def atomic_save(path: str | Path, obj) -> Path:
    """``torch.save`` ``obj`` to ``path`` through a temporary file beside it, so that an interrupted
    save never leaves a broken file. Returns the path."""
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)
    return path


def save_checkpoint(path: str | Path, model: torch.nn.Module | str, config: dict | None = None,
                    state_dict: dict | None = None, **meta) -> Path:
    """Write a model checkpoint to ``path`` (atomically) and return the path.

    ``model`` is either a model made by ``create_model``/``load_checkpoint`` (its ``registry_name``,
    ``config_overrides`` and ``state_dict()`` are recorded unless ``config``/``state_dict`` are given),
    or a registry name, in which case ``config`` and ``state_dict`` are required. ``meta`` takes the
    optional metadata keys of :data:`METADATA` (``dataset``, ``test_top1``), stored in the order given.
    """
    unknown = sorted(set(meta) - set(METADATA))
    if unknown:
        raise TypeError(f"unknown checkpoint metadata {unknown}; a checkpoint records only {', '.join(METADATA)}")
    if isinstance(model, str):
        if config is None or state_dict is None:
            raise TypeError("save_checkpoint with a model name needs its config and state_dict")
        name = model
    else:
        name = model.registry_name
        config = dict(getattr(model, "config_overrides", {})) if config is None else config
        state_dict = model.state_dict() if state_dict is None else state_dict
    return atomic_save(path, {"model": name, "config": config, "state_dict": state_dict, **meta})


def load_failure(e: Exception) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, in words: a file holding objects other than
    tensors and plain data is refused as such (torch's own message suggests loading it unsafely)."""
    import pickle

    if isinstance(e, pickle.UnpicklingError) and "weights_only" in str(e):
        return "it holds Python objects other than tensors and plain data; refused, since loading it could run code"
    why = str(e).splitlines()[0][:160] if str(e) else ""
    return f"{type(e).__name__}: {why}" if why else type(e).__name__


def read_checkpoint(path: str | Path) -> dict:
    """The dict stored in a checkpoint file (tensors on the CPU; read with ``weights_only=True``).

    Raises a ``ValueError`` when the file cannot be read or holds no ``state_dict``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {path} does not exist; pass a file written by `qvit train`.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise ValueError(f"{path} is not a torch checkpoint ({load_failure(e)}); pass a file written by "
                         "`qvit train`.") from e
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{path} is not a qvit checkpoint (no 'state_dict'); pass a file written by `qvit train`.")
    return ckpt


def load_checkpoint(path: str | Path, name: str | None = None, **overrides) -> torch.nn.Module:
    """Build the model recorded in a checkpoint file and load its weights.

    ``name``, if given, must match the recorded model; ``overrides`` replace fields of the recorded
    config. A file that does not fit the model gives a ``ValueError`` naming the mismatching tensors.
    """
    ckpt = read_checkpoint(path)
    if name is not None and ckpt.get("model") not in (None, name):
        raise ValueError(f"checkpoint {path} is for model {ckpt['model']!r}, not {name!r}; pass --model {ckpt['model']}.")
    model = create_model(name or ckpt.get("model"), **{**ckpt.get("config", {}), **overrides})
    load_state(model, ckpt["state_dict"], source=str(path))
    return model


def shipped_checkpoints(name: str | None = None) -> list[Path]:
    """The shipped checkpoint files (of model ``name``, or all of them), sorted."""
    return sorted(CHECKPOINT_DIR.glob(f"{name}_*.pt" if name else "*.pt"))


def pretrained_checkpoint(name: str, dataset: str) -> Path:
    """The shipped checkpoint of model ``name`` trained on ``dataset`` (what ``create_model(name,
    pretrained=dataset)`` loads); a ``FileNotFoundError`` listing the shipped ones if there is none."""
    path = CHECKPOINT_DIR / f"{name}_{dataset}.pt"
    if not path.exists():
        shipped = [p.stem for p in shipped_checkpoints()]
        raise FileNotFoundError(
            f"no shipped checkpoint for {name!r} on {dataset!r} (looked for {path}). "
            f"Shipped checkpoints: {', '.join(shipped) or 'none yet'}; train one with `qvit train`."
        )
    return path


def find_shipped_checkpoint(name: str, overrides: dict) -> Path | None:
    """The first shipped checkpoint of model ``name`` whose config agrees with ``overrides`` on every field
    (e.g. the input size; a field the checkpoint does not record has the model's default value there, so a
    structural option such as ``class_attention=1`` matches no checkpoint trained without it), or None."""
    paths = shipped_checkpoints(name)
    if not paths:
        return None
    from quant_models.registry import create_model

    defaults = getattr(create_model(name), "cfg", None)
    for path in paths:
        config = read_checkpoint(path).get("config", {})
        if all(_same(config[k] if k in config else getattr(defaults, k, v), v) for k, v in overrides.items()):
            return path
    return None


def _same(a, b) -> bool:
    """Config values equal, tuples and lists alike (JSON keeps tuples as lists)."""
    norm = (lambda x: list(x) if isinstance(x, tuple | list) else x)  # noqa: E731
    return norm(a) == norm(b)


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
