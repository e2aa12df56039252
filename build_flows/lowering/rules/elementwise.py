"""Elementwise nodes. With a per-channel constant (``Mul``, ``Div``, ``Sub``, ``Add``), a unary
function (``Sigmoid``, ``Tanh``, ``Relu``) or ``BatchNormalization`` they join the stream's float
chain, to fold into the next quantizer's thresholds. On integer grids they become our layers: the add
of two streams or of a per-token constant (``AddStreams``) and the product of two streams
(``MulStreams``)."""

from __future__ import annotations

import dataclasses

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType

from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import ELEMENTWISE, add_range, affine, dtype_for, foldable, grid_chain


def _by_constant(low: Lowering, node, op) -> bool:
    """Join a stream-by-constant ``op`` to the stream's chain; False when both inputs are streams."""
    a, b = node.input
    ca, cb = low.const(a), low.const(b)
    if ca is None and cb is None:
        return False
    if cb is None and op in ("Mul", "Add"):
        a, b, ca, cb = b, a, cb, ca
    if ca is not None:
        raise Unmappable(f"{op} of a constant by a stream in this order")
    f = low.pending(a)
    shape = tuple(low.src.get_tensor_shape(node.output[0]))
    if shape != f.shape:
        raise Unmappable("a constant that broadcasts the stream to a larger shape")
    low.forms[node.output[0]] = dataclasses.replace(f, chain=f.chain + [(op, np.asarray(cb, dtype=np.float32))])
    return True


@rule("Mul")
def mul(low: Lowering, node):
    if not _by_constant(low, node, "Mul"):
        _stream_product(low, node)


@rule("Div")
def div(low: Lowering, node):
    if not _by_constant(low, node, "Div"):
        raise Unmappable("division of two streams")


@rule("Sub")
def sub(low: Lowering, node):
    if not _by_constant(low, node, "Sub"):
        raise Unmappable("difference of two streams (not supported yet)")


@rule("Add")
def add(low: Lowering, node):
    if _const_tensor_add(low, node) or _by_constant(low, node, "Add"):
        return
    fa, fb = low.stream(node.input[0]), low.stream(node.input[1])
    if fa.shape != fb.shape:
        raise Unmappable("add of streams of different shapes (broadcast)")
    aa, ab = (affine(fa) if fa.is_int else None), (affine(fb) if fb.is_int else None)
    if aa is None or ab is None or not np.array_equal(np.abs(aa[0]), np.abs(ab[0])):
        if _float_sum_at_the_end(low, node, fa, fb):
            return
        if aa is None or ab is None:
            raise Unmappable("add of two streams that are not both on an integer grid")
        raise Unmappable("add of two streams with different scales (give both one quantizer, as ResidualAdd does)")
    lo, hi = add_range(fa.dtype, fb.dtype)
    odt = dtype_for(lo, hi)
    mag = np.abs(aa[0])
    signs = {f"signs{k}": [int(v) for v in np.sign(a)] for k, a in enumerate((aa[0], ab[0])) if np.any(a < 0)}
    out = low.emit("AddStreams", [fa.name, fb.name], fa.shape, odt, in_shape=list(fa.shape), out_shape=list(fa.shape),
                   inputDataType=fa.dtype.name, inputDataType1=fb.dtype.name, outputDataType=odt.name, **signs)
    chain = grid_chain(mag, aa[1] + ab[1])
    low.forms[node.output[0]] = Form(out, odt, fa.shape, chain)


def _float_sum_at_the_end(low: Lowering, node, fa: Form, fb: Form) -> bool:
    """Two integer streams whose float values (their chains) are added, where nothing but float arithmetic with
    constants follows up to the graph's output (two heads averaged, as DeiT's class and distillation heads): the
    streams leave the accelerator side by side (``ConcatStreams``), and the host applies both float scales
    (``ChannelFloat``) and adds them (``SumParts``). False when this does not apply."""
    if not (fa.is_int and fb.is_int) or fa.shape != fb.shape or not _only_float_ops_follow(low, node.output[0]):
        return False
    if [op for op, _ in fa.chain] != [op for op, _ in fb.chain] or any(op not in ELEMENTWISE for op, _ in fa.chain):
        return False
    from build_flows.lowering.rules.layout import join_streams

    joined = join_streams(low, [fa, fb], -1)
    scaled = low.float_tensor(joined)
    shape = fa.shape
    out = low.emit("SumParts", [scaled], shape, DataType["FLOAT32"], in_shape=list(joined.shape),
                   out_shape=list(shape), parts=2, inputDataType="FLOAT32", outputDataType="FLOAT32")
    low.forms[node.output[0]] = Form(out, DataType["FLOAT32"], shape)
    return True


def _only_float_ops_follow(low: Lowering, tensor: str) -> bool:
    """Whether ``tensor`` reaches the graph's output through arithmetic with constants only (or a final TopK)."""
    src = low.src
    outputs = {o.name for o in src.graph.output}
    while tensor not in outputs:
        consumers = src.find_consumers(tensor)
        if len(consumers) != 1:
            return False
        nxt = consumers[0]
        others = [i for i in nxt.input if i and i != tensor]
        constant = all(src.get_initializer(i) is not None or getattr(src.find_producer(i), "op_type", "") == "Constant"
                       for i in others)
        if not ((nxt.op_type in ("Mul", "Div", "Add", "Sub") and constant) or nxt.op_type == "TopK"):
            return False
        tensor = nxt.output[0]
    return True


def _const_tensor_add(low: Lowering, node) -> bool:
    """Add of a per-token constant (a position embedding) on the stream's integer grid: an integer
    add of a constant tensor (the constant in a ROM of the AddStreams layer)."""
    consts = [low.const(i) for i in node.input]
    if sum(c is not None for c in consts) != 1:
        return False
    s_in, c = (node.input[1], consts[0]) if consts[0] is not None else (node.input[0], consts[1])
    f = low.stream(s_in)
    if foldable(c, f.shape):
        return False  # per-channel constants fold into the chain
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), f.shape)
    ab = affine(f) if f.is_int else None
    if ab is None:
        raise Unmappable("add of a per-token constant to a stream that is not on an integer grid")
    ints = c / ab[0]  # per channel (last axis)
    if not np.array_equal(ints, np.round(ints)):
        raise Unmappable("add of a per-token constant that is not on the stream's integer grid")
    cdt = dtype_for(ints.min(), ints.max())
    cname = low.init(ints.astype(np.float32), cdt, "const_tensor")
    odt = dtype_for(f.dtype.min() + ints.min(), f.dtype.max() + ints.max())
    out = low.emit("AddStreams", [f.name, cname], f.shape, odt, in_shape=list(f.shape), out_shape=list(f.shape),
                   inputDataType=f.dtype.name, inputDataType1=cdt.name, outputDataType=odt.name)
    chain = grid_chain(ab[0], ab[1])
    low.forms[node.output[0]] = Form(out, odt, f.shape, chain)
    return True


def _stream_product(low: Lowering, node):
    fa, fb = low.stream(node.input[0]), low.stream(node.input[1])
    if fa.shape != fb.shape:
        raise Unmappable("product of streams of different shapes")
    aa, ab = (affine(fa) if fa.is_int else None), (affine(fb) if fb.is_int else None)
    if aa is None or ab is None or np.any(aa[1]) or np.any(ab[1]):
        raise Unmappable("product of two streams that are not both zero-offset integer-grid values")
    vals = [fa.dtype.min() * fb.dtype.min(), fa.dtype.min() * fb.dtype.max(), fa.dtype.max() * fb.dtype.min(),
            fa.dtype.max() * fb.dtype.max()]
    odt = dtype_for(min(vals), max(vals))
    out = low.emit("MulStreams", [fa.name, fb.name], fa.shape, odt, in_shape=list(fa.shape), out_shape=list(fa.shape),
                   inputDataType=fa.dtype.name, inputDataType1=fb.dtype.name, outputDataType=odt.name)
    low.forms[node.output[0]] = Form(out, odt, fa.shape, [("Mul", (aa[0] * ab[0]).astype(np.float32))])


@rule("Sigmoid", "Tanh", "Relu")
def unary(low: Lowering, node):
    f = low.pending(node.input[0])
    low.forms[node.output[0]] = dataclasses.replace(f, chain=f.chain + [(node.op_type, None)])


@rule("BatchNormalization")
def batch_norm(low: Lowering, node):
    f = low.pending(node.input[0])
    vals = [low.const(i) for i in node.input[1:5]]
    if any(v is None for v in vals) or len(node.output) > 1:
        raise Unmappable("BatchNormalization in training mode or with non-constant statistics")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    params = {"scale": vals[0], "bias": vals[1], "mean": vals[2], "var": vals[3],
              "epsilon": float(attrs.get("epsilon", 1e-5)), "axis": 1 if len(f.shape) > 1 else 0}
    low.forms[node.output[0]] = dataclasses.replace(f, chain=f.chain + [("BatchNormalization", params)])
