"""The steps the host runs around the accelerator, in numpy (board-side): fixed reorders at the graph's ends
(NCHW <-> NHWC, the class token's selection), the float output scale and bias (``channel_float``), the sum of a
distillation model's two heads (``sum_parts``) and top-k labels. The hardware layers' python execution calls
the same functions, so host and golden model agree bit for bit.

A step is a dict: ``{"kind": ..., parameters}``; :func:`apply` runs one on [n, ...] and gives [n, values].
"""

from __future__ import annotations

import numpy as np

ELEMENTWISE = ("Mul", "Add", "Div", "Sub")


def apply_chain(x: np.ndarray, ops, consts) -> np.ndarray:
    """Apply elementwise float32 operations in order, as onnxruntime does (x op c, broadcast)."""
    x = np.asarray(x, dtype=np.float32)
    for op, c in zip(ops, consts):
        c = np.asarray(c, dtype=np.float32)
        if op == "Mul":
            x = x * c
        elif op == "Add":
            x = x + c
        elif op == "Div":
            x = x / c
        elif op == "Sub":
            x = x - c
        else:
            raise ValueError(f"unsupported elementwise op {op}; one of {', '.join(ELEMENTWISE)}")
        x = x.astype(np.float32)
    return x


def sum_parts(x: np.ndarray, parts: int) -> np.ndarray:
    """``x`` [..., parts * C] -> [..., C]: part 0 + part 1 + ... in float32, left to right (as ONNX adds them)."""
    x = np.asarray(x, dtype=np.float32)
    cut = x.reshape(*x.shape[:-1], parts, x.shape[-1] // parts)
    total = cut[..., 0, :]
    for k in range(1, parts):
        total = total + cut[..., k, :]
    return total


def top_k_indices(x: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest values of each row of ``x`` [n, C], the largest first and equal values in
    index order (ONNX TopK with largest=1, sorted=1)."""
    return np.argsort(-np.asarray(x, dtype=np.float32), axis=1, kind="stable")[:, :k]


def apply(step: dict, x: np.ndarray) -> np.ndarray:
    """Run one host step on [n, ...]; gives [n, values]."""
    x = np.asarray(x)
    n, kind = len(x), step["kind"]
    if kind == "reorder":
        return x.reshape(n, -1)[:, np.asarray(step["gather"], dtype=np.int64)]
    if kind == "channel_float":
        shape = tuple(step["shape"])
        return apply_chain(x.reshape(n, *shape), step["ops"], step["consts"]).reshape(n, -1)
    if kind == "sum_parts":
        return sum_parts(x.reshape(n, -1, step["parts"] * step["channels"]), step["parts"]).reshape(n, -1)
    if kind == "top_k":
        return top_k_indices(x.reshape(n, -1), step["k"]).astype(np.float32)
    raise ValueError(f"unknown host step {kind!r} (reorder, channel_float, sum_parts, top_k)")


def jsonable(step: dict) -> dict:
    """A step with its arrays as lists (float32 values survive JSON exactly: a double holds each one)."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, (list, tuple)):
            return [plain(u) for u in v]
        if isinstance(v, np.generic):
            return v.item()
        return v

    return {k: plain(v) for k, v in step.items()}
