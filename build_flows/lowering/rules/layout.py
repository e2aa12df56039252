"""Layout nodes: every reshape/transpose run, with constant slices and gathers (token selection), collapses
into one pending reorder (a ``StreamLayout`` layer when it is emitted, or none when it cancels), and
constant padding becomes ``PadStream`` (also the
padding built into convolutions and max pooling: :func:`pad_grid`)."""

from __future__ import annotations

import numpy as np
from onnx import helper

from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import affine, compress, dtype_for


@rule("Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity")
def reshape_like(low: Lowering, node):
    f = low.pending(node.input[0])
    out_shape = tuple(low.src.get_tensor_shape(node.output[0]))
    if node.op_type == "Transpose":
        perm = [a.ints for a in node.attribute if a.name == "perm"][0]
        fn = lambda x: x.transpose(list(perm))  # noqa: E731
    else:
        fn = lambda x: x.reshape(out_shape)  # noqa: E731
    low.forms[node.output[0]] = low.layout(f, fn, out_shape)


@rule("Slice")
def slice_(low: Lowering, node):
    """A slice with constant bounds (the patch tokens after the class token) is a pending selection."""
    f = low.pending(node.input[0])
    consts = [low.const(i) if i else None for i in node.input[1:5]]
    if any(c is None for c in consts[:2]) or any(i and c is None for i, c in zip(node.input[3:5], consts[2:])):
        raise Unmappable("slice with bounds that are not constant")
    starts, ends = consts[0], consts[1]
    axes = consts[2] if consts[2] is not None else np.arange(len(starts))
    steps = consts[3] if consts[3] is not None else np.ones(len(starts), dtype=np.int64)
    index = [slice(None)] * len(f.shape)
    for a, lo, hi, st in zip(axes, starts, ends, steps):
        index[int(a) % len(f.shape)] = slice(int(lo), int(hi), int(st))
    out_shape = tuple(low.src.get_tensor_shape(node.output[0]))
    low.forms[node.output[0]] = low.layout(f, lambda x: x[tuple(index)], out_shape)


@rule("Gather")
def gather(low: Lowering, node):
    """A gather of constant indices (the class token: index 0 of the token axis) is a pending selection."""
    f = low.pending(node.input[0])
    idx = low.const(node.input[1])
    if idx is None:
        raise Unmappable("gather with indices that are not constant")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axis = int(attrs.get("axis", 0)) % len(f.shape)
    if axis == 0:
        raise Unmappable("gather along the batch axis")
    idx = np.where(idx < 0, idx + f.shape[axis], idx).astype(np.int64)
    out_shape = tuple(low.src.get_tensor_shape(node.output[0]))
    low.forms[node.output[0]] = low.layout(f, lambda x: np.take(x, idx, axis=axis), out_shape)


@rule("Concat")
def concat(low: Lowering, node):
    """Constant tokens joined to an integer stream along the token axis (a class or distillation token after
    the stream's quantizer, where :class:`MoveConcatPastConstOps` moved the Concat): ``InsertTokens`` with
    the constants' codes on the stream's grid."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    consts = [low.const(i) for i in node.input]
    streams = [k for k, c in enumerate(consts) if c is None]
    if len(streams) == len(node.input):
        return concat_streams(low, node, int(attrs["axis"]))
    if len(streams) != 1:
        raise Unmappable("constants joined to two or more streams (constants join one stream, or streams join "
                         "each other)")
    f = low.stream(node.input[streams[0]], exact=True)
    axis = int(attrs["axis"]) % len(f.shape)
    if len(f.shape) != 3 or axis != 1:
        raise Unmappable("concatenation other than along the token axis of [N, tokens, channels]")
    ab = affine(f) if f.is_int else None
    if ab is None:
        raise Unmappable("constant tokens joined to a stream that is not an exact integer-grid value (join them "
                         "after a quantizer)")
    codes = []
    for c in consts:
        if c is None:
            continue
        n = (np.asarray(c, dtype=np.float64).reshape(c.shape[1], -1) - ab[1]) / ab[0]
        if not np.all(np.vectorize(f.dtype.allowed)(n)):
            raise Unmappable(f"a constant token is not on the {f.dtype.name} stream's grid")
        codes.append(n.astype(np.int64))
    k = streams[0]
    before = np.concatenate(codes[:k]) if k else np.zeros((0, f.shape[2]), np.int64)
    after = np.concatenate(codes[k:]) if k < len(codes) else np.zeros((0, f.shape[2]), np.int64)
    out_shape = tuple(low.src.get_tensor_shape(node.output[0]))
    sides = {name: [int(v) for v in t.ravel()] for name, t in (("before", before), ("after", after)) if t.size}
    out = low.emit("InsertTokens", [f.name], out_shape, f.dtype, in_shape=list(f.shape), out_shape=list(out_shape),
                   inputDataType=f.dtype.name, outputDataType=f.dtype.name, **sides)
    low.forms[node.output[0]] = Form(out, f.dtype, out_shape, f.chain)


def concat_streams(low: Lowering, node, axis: int):
    """Integer streams joined along ``axis`` (:func:`join_streams`)."""
    low.forms[node.output[0]] = join_streams(low, [low.pending(i) for i in node.input], axis)


def join_streams(low: Lowering, forms: list[Form], axis: int) -> Form:
    """The forms' integer streams joined along ``axis``: ``ConcatStreams`` layers (one per further input). The
    forms' chains must be the same operations (their constants are joined along the axis too); NCHW views of
    NHWC streams joined on channels are joined on their NHWC channels, the view kept pending."""
    if not all(f.is_int for f in forms):
        raise Unmappable("concatenation of a stream that is not an exact integer-grid value (join streams after "
                         "their quantizers)")
    ops = [op for op, _ in forms[0].chain]
    if any([op for op, _ in f.chain] != ops for f in forms) or "BatchNormalization" in ops:
        raise Unmappable("concatenation of streams whose scales are different operations (quantize them alike)")
    axis %= len(forms[0].shape)
    if axis == 0:
        raise Unmappable("concatenation along the batch axis")
    chain = [(op, compress(np.concatenate([np.broadcast_to(np.asarray(f.chain[k][1]), f.shape) for f in forms],
                                          axis=axis))) for k, op in enumerate(ops)]
    nhwc = axis == 1 and all(nchw_view_of_nhwc(low, f) for f in forms)
    if nhwc:  # join the stored NHWC tensors on their channels
        parts, phys_axis = [Form(f.name, f.dtype, low.shapes[f.name]) for f in forms], 3
    else:
        parts, phys_axis = [low.realize(f, exact=True) for f in forms], axis
    cur = parts[0]
    for nxt in parts[1:]:
        dt = cur.dtype if cur.dtype == nxt.dtype else dtype_for(min(cur.dtype.min(), nxt.dtype.min()),
                                                                 max(cur.dtype.max(), nxt.dtype.max()))
        shape = list(cur.shape)
        shape[phys_axis] += nxt.shape[phys_axis]
        out = low.emit("ConcatStreams", [cur.name, nxt.name], shape, dt, in_shape=list(cur.shape),
                       in_shape1=list(nxt.shape), out_shape=shape, axis=phys_axis, inputDataType=cur.dtype.name,
                       inputDataType1=nxt.dtype.name, outputDataType=dt.name)
        cur = Form(out, dt, tuple(shape))
    joined = low.to_nchw(cur) if nhwc else cur
    joined.chain = chain
    return joined


def nchw_view_of_nhwc(low: Lowering, f: Form) -> bool:
    """Whether ``f`` is an NCHW view (pending transpose) of an NHWC tensor of the new graph."""
    stored = low.shapes.get(f.name)
    if f.gather is None or len(f.shape) != 4 or stored is None or len(stored) != 4:
        return False
    n, h, w, c = stored
    return tuple(f.shape) == (n, c, h, w) and np.array_equal(
        f.gather, np.arange(f.gather.size).reshape(stored).transpose(0, 3, 1, 2).ravel())


@rule("Pad")
def pad(low: Lowering, node):
    f = low.stream(node.input[0])
    pads = [int(p) for p in low.const(node.input[1])]
    value = float(low.const(node.input[2])) if len(node.input) > 2 and node.input[2] else 0.0
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("mode", b"constant") not in (b"constant", "constant"):
        raise Unmappable("padding other than constant")
    n0 = grid_code(f, value) if f.is_int else value
    if not f.is_int and f.chain:
        raise Unmappable("padding a float value with a pending chain")
    rank = len(f.shape)
    width = [(pads[i], pads[i + rank]) for i in range(rank)]
    out_shape = tuple(s + a + b for s, (a, b) in zip(f.shape, width))
    out = low.emit("PadStream", [f.name], out_shape, f.dtype, in_shape=list(f.shape), out_shape=list(out_shape),
                   inputDataType=f.dtype.name, outputDataType=f.dtype.name, pads=[p for w in width for p in w],
                   value=float(n0))
    low.forms[node.output[0]] = Form(out, f.dtype, out_shape, f.chain)


def grid_code(f: Form, value: float) -> int:
    """The integer code ``n`` of the stream ``f`` whose value (its affine chain) is ``value`` in every channel;
    Unmappable when there is none (the value is off the grid, outside the datatype, or differs per channel)."""
    if value == 0 and f.dtype.allowed(0) and all((op == "Mul" or (op == "Div" and np.all(c != 0)))
                                                  and np.all(np.isfinite(c)) for op, c in f.chain):
        return 0  # products with finite constants (divisions by non-zero ones) keep zero at zero, exactly
    ab = affine(f)
    if ab is None:
        raise Unmappable("padding a stream that is not an exact integer-grid value")
    codes = (value - ab[1]) / ab[0]
    if not np.all(codes == codes[0]):
        raise Unmappable(f"the pad value {value} is a different code in each channel (per-channel scales or offsets)")
    n0 = float(codes[0])
    if not f.dtype.allowed(n0):
        raise Unmappable(f"the pad value {value} is not on the {f.dtype.name} stream's grid (a bipolar stream has no "
                         "zero: pad before its quantizer or use a ternary/integer activation)")
    return int(n0)


def pad_grid(low: Lowering, g: Form, pads: list[int], code: int) -> Form:
    """Pad an NHWC stream form ``g`` on its height and width by ONNX ``pads`` (top, left, bottom, right) with
    the integer ``code``: a ``PadStream`` layer (none when the pads are all zero)."""
    if not any(pads):
        return g
    top, left, bottom, right = pads
    n, h, w, c = g.shape
    out_shape = (n, h + top + bottom, w + left + right, c)
    width = [(0, 0), (top, bottom), (left, right), (0, 0)]
    out = low.emit("PadStream", [g.name], out_shape, g.dtype, in_shape=list(g.shape), out_shape=list(out_shape),
                   inputDataType=g.dtype.name, outputDataType=g.dtype.name, pads=[p for wd in width for p in wd],
                   value=float(code))
    return Form(out, g.dtype, out_shape, g.chain)
