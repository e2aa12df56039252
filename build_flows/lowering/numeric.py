"""Grid arithmetic and float-chain evaluation for the lowering: which values are integers on a
power-of-two grid, the datatypes that hold them, and the float32 value of a chain of elementwise
operations computed as QONNX execution computes it (onnxruntime where its arithmetic has no simple
closed form)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType

from build_flows.driver.host_steps import ELEMENTWISE, apply_chain
from build_flows.lowering.unmapped import Unmappable

if TYPE_CHECKING:
    from build_flows.lowering.core import Form

UNARY = ("Sigmoid", "Tanh", "Relu")
EXACT_BITS = 24  # float32 mantissa: integers times a power of two are exact up to this many bits


def pow2(x: np.ndarray) -> bool:
    x = np.abs(np.asarray(x, dtype=np.float64))
    m, _ = np.frexp(x)
    return bool(np.all((x > 0) & (m == 0.5)))


def grid_unit(x: np.ndarray) -> float:
    """The largest power of two of which every element of x is an integer multiple (inf for all-zero)."""
    x = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    x = x[x > 0]
    if not len(x):
        return np.inf
    unit = np.inf
    for v in np.unique(x):
        m, e = np.frexp(v)
        mant = int(m * 2**53)
        tz = (mant & -mant).bit_length() - 1
        unit = min(unit, 2.0 ** (e - 53 + tz))
    return unit


def per_channel(c, shape) -> np.ndarray:
    """A const broadcast over ``shape`` reduced to [C] (last axis); Unmappable if it varies elsewhere."""
    full = np.broadcast_to(np.asarray(c, dtype=np.float32), shape)
    flat = full.reshape(-1, shape[-1])
    if not np.all(flat == flat[:1]):
        raise Unmappable("a constant varies along a non-channel axis (per-token constant), so it cannot fold into "
                         "per-channel thresholds")
    return flat[0].copy()


def affine(form: Form):
    """(a, b) per channel with value = a * n + b computed exactly in float32, or None."""
    a = np.ones(form.shape[-1])
    b = np.zeros(form.shape[-1])
    for op, c in form.chain:
        if op not in ELEMENTWISE:
            return None
        try:
            c = per_channel(c, form.shape).astype(np.float64)
        except Unmappable:
            return None
        if op == "Mul" and pow2(c):
            a, b = a * c, b * c
        elif op == "Div" and pow2(c):
            a, b = a / c, b / c
        elif op in ("Add", "Sub"):
            b = b + c if op == "Add" else b - c
        else:
            return None
    lo, hi = form.dtype.min(), form.dtype.max()
    unit = min(np.abs(a).min(), grid_unit(b))
    peak = (np.abs(a) * max(abs(lo), abs(hi)) + np.abs(b)).max()
    if unit == 0 or peak / unit >= 2.0**EXACT_BITS or grid_unit(b) < unit:
        return None
    return a, b


def chain_const(op, c, shape):
    """A chain entry's constant as the thresholding search needs it: per channel (last axis)."""
    if op in UNARY:
        return None
    if op == "BatchNormalization":
        if c["axis"] != len(shape) - 1:
            raise Unmappable("BatchNormalization whose channel axis is not the stream's channel axis")
        return c
    return per_channel(c, shape)


def move_norm(params: dict, shape, fn) -> dict:
    """Follow a normalization's channel axis through a reorder ``fn``; Unmappable if channels mix."""
    axis = params["axis"]
    idx = np.arange(shape[axis]).reshape([-1 if i == axis else 1 for i in range(len(shape))])
    moved = fn(np.broadcast_to(idx, shape).copy())
    varying = [k for k in range(moved.ndim) if moved.shape[k] > 1 and not np.all(np.take(moved, [0], axis=k) == moved)]
    if len(varying) != 1:
        raise Unmappable("a reshape mixes a normalization's channels with other axes")
    return {**params, "axis": varying[0]}


def grid_chain(a: np.ndarray, b: np.ndarray) -> list:
    """The chain of value = a * (n + b / a): an integer n on the grid a with offset b."""
    return ([("Add", (b / a).astype(np.float32))] if np.any(b) else []) + [("Mul", a.astype(np.float32))]


def compress(c: np.ndarray) -> np.ndarray:
    """The smallest broadcastable form of a full-shape constant: a scalar, a last-axis vector, or itself."""
    flat = c.reshape(-1)
    if np.all(flat == flat[0]):
        return np.asarray(flat[0], dtype=c.dtype)
    rows = c.reshape(-1, c.shape[-1])
    if np.all(rows == rows[:1]):
        return rows[0].copy()
    return c


def foldable(c, shape) -> bool:
    """A constant that varies along the channel axis only (last, or axis 1 of NCHW) folds into a chain."""
    c = np.asarray(c)
    full = (1,) * (len(shape) - c.ndim) + c.shape
    varying = [i for i, n in enumerate(full) if n > 1]
    return len(varying) == 0 or (len(varying) == 1 and (varying[0] == len(shape) - 1 or (len(shape) == 4 and varying[0] == 1)))


def add_range(da: DataType, db: DataType):
    """Bounds of +-a +-b (either side may be subtracted per channel)."""
    ma, mb = max(abs(da.min()), abs(da.max())), max(abs(db.min()), abs(db.max()))
    if da.min() >= 0 and db.min() >= 0:
        return -max(da.max(), db.max()), da.max() + db.max()
    return -(ma + mb), ma + mb


def int_dtype(w: np.ndarray) -> DataType:
    vals = np.unique(w)
    if set(vals.tolist()) <= {-1.0, 1.0}:
        return DataType["BIPOLAR"]
    if set(vals.tolist()) <= {-1.0, 0.0, 1.0}:
        return DataType["TERNARY"]
    return dtype_for(w.min(), w.max())


def dtype_for(lo, hi) -> DataType:
    lo, hi = int(np.floor(lo)), int(np.ceil(hi))
    if lo >= 0:
        return DataType.get_smallest_possible(hi)
    bits = max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1
    return DataType[f"INT{bits}"]


def acc_range(idt: DataType, w: np.ndarray):
    pos = np.where(w > 0, w, 0).sum(0)
    neg = np.where(w < 0, w, 0).sum(0)
    lo = (pos * idt.min() + neg * idt.max()).min()
    hi = (pos * idt.max() + neg * idt.min()).max()
    return lo, hi


def rounding(mode):
    """qonnx's rounding function for a Quant node's rounding_mode (the one its execution uses)."""
    from qonnx.custom_op.general.intquant import resolve_rounding_mode

    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    try:
        return resolve_rounding_mode(mode)
    except ValueError as e:
        raise Unmappable(f"quantizer rounding mode {mode} ({e})") from e


def chain_eval(x, consts):
    """The chain's float32 value at x, as QONNX execution computes it."""
    x = np.asarray(x, dtype=np.float32)
    for op, c in consts:
        if op in ELEMENTWISE:
            x = apply_chain(x, [op], [c])
        elif op == "BatchNormalization":
            x = _ort_batchnorm(x, c)
        else:
            x = _ort_unary(op, x)
    return x


_ORT_CACHE: dict = {}


def _ort_batchnorm(x: np.ndarray, p: dict) -> np.ndarray:
    """BatchNormalization over the last axis with onnxruntime, as QONNX execution does: onnxruntime's
    arithmetic for it has no simple closed form, and it is the same for any rank and batch size."""
    import onnxruntime as ort
    from onnx import numpy_helper

    key = ("bn", id(p["scale"]))
    if key not in _ORT_CACHE:
        inits = [numpy_helper.from_array(np.asarray(p[k], dtype=np.float32), k) for k in ("scale", "bias", "mean", "var")]
        g = helper.make_graph([helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"],
                                                epsilon=p["epsilon"])], "bn",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        _ORT_CACHE[key] = (p["scale"], ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]))
    x = np.asarray(x, dtype=np.float32)
    flat = np.ascontiguousarray(np.broadcast_to(x, x.shape).reshape(-1, x.shape[-1]))
    return _ORT_CACHE[key][1].run(None, {"x": flat})[0].reshape(x.shape)


def _ort_unary(op: str, x: np.ndarray) -> np.ndarray:
    """Evaluate a unary ONNX op with onnxruntime, as QONNX execution does (bit-identical)."""
    import onnxruntime as ort

    if op not in _ORT_CACHE:
        g = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "u",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        _ORT_CACHE[op] = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return _ORT_CACHE[op].run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]
