"""Layout nodes: every reshape/transpose run collapses into one pending reorder (a ``StreamLayout``
layer when it is emitted, or none when it cancels), and constant padding becomes ``PadStream``."""

from __future__ import annotations

import numpy as np
from onnx import helper

from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import affine


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


@rule("Pad")
def pad(low: Lowering, node):
    f = low.stream(node.input[0])
    pads = [int(p) for p in low.const(node.input[1])]
    value = float(low.const(node.input[2])) if len(node.input) > 2 and node.input[2] else 0.0
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("mode", b"constant") not in (b"constant", "constant"):
        raise Unmappable("padding other than constant")
    # the pad value in the integer domain: the n whose chain value is the pad value
    if f.is_int:
        ab = affine(f)
        if ab is None or not np.all(ab[0] == ab[0][0]) or not np.all(ab[1] == ab[1][0]):
            raise Unmappable("padding a stream whose scale is per-channel")
        n0 = (value - ab[1][0]) / ab[0][0]
        if n0 != round(n0) or not (f.dtype.min() <= n0 <= f.dtype.max()):
            raise Unmappable("the pad value is not on the stream's integer grid")
    else:
        if f.chain:
            raise Unmappable("padding a float value with a pending chain")
        n0 = value
    rank = len(f.shape)
    width = [(pads[i], pads[i + rank]) for i in range(rank)]
    out_shape = tuple(s + a + b for s, (a, b) in zip(f.shape, width))
    out = low.emit("PadStream", [f.name], out_shape, f.dtype, in_shape=list(f.shape), out_shape=list(out_shape),
                   inputDataType=f.dtype.name, outputDataType=f.dtype.name, pads=[p for w in width for p in w],
                   value=float(n0))
    low.forms[node.output[0]] = Form(out, f.dtype, out_shape, f.chain)
