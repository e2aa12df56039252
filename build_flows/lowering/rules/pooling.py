"""Pooling: an average pool over the token grid becomes ``GridPoolSum`` and a mean over the tokens
(or a global average pool) becomes ``TokenSum``; the division joins the chain, to fold into the next
quantizer's thresholds."""

from __future__ import annotations

import numpy as np
from onnx import helper

from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import affine, dtype_for


@rule("AveragePool")
def average_pool(low: Lowering, node):
    f = low.pending(node.input[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    kh, kw = attrs["kernel_shape"]
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if list(attrs.get("strides", [1, 1])) != [1, 1] or pads[0] != pads[2] or pads[1] != pads[3]:
        raise Unmappable("average pool other than stride 1 with symmetric padding")
    if pads != [0, 0, 0, 0] and not attrs.get("count_include_pad", 0):
        raise Unmappable("average pool that excludes padding from its count")
    n, c, h, w = f.shape
    g = low.to_nhwc(f)
    ab = affine(g) if g.is_int else None
    if ab is None or np.any(ab[1]):
        raise Unmappable("average pool of a stream that is not a zero-offset integer-grid value")
    tokens = low.realize(low.layout(g, lambda x: x.reshape(n, h * w, c), (n, h * w, c)))
    k = kh * kw
    odt = dtype_for(k * f.dtype.min(), k * f.dtype.max())
    out = low.emit("GridPoolSum", [tokens.name], tokens.shape, odt, in_shape=list(tokens.shape),
                   out_shape=list(tokens.shape), inputDataType=f.dtype.name, outputDataType=odt.name,
                   grid=[h, w], kernel=[kh, kw], pads=[pads[0], pads[1]])
    pooled = Form(out, odt, tokens.shape, [("Mul", ab[0].astype(np.float32)), ("Div", np.float32(k))])
    grid = low.layout(pooled, lambda x: x.reshape(n, h, w, c), (n, h, w, c))
    low.forms[node.output[0]] = low.to_nchw(grid)


@rule("ReduceMean")
def reduce_mean(low: Lowering, node):
    f = low.pending(node.input[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    axes = list(attrs.get("axes", []))
    if len(node.input) > 1 and node.input[1]:
        axes = [int(a) for a in low.const(node.input[1])]
    if len(f.shape) == 4 and sorted(a % 4 for a in axes) == [2, 3]:  # global average pool of NCHW
        n, c, h, w = f.shape
        f = low.layout(low.to_nhwc(f), lambda x: x.reshape(n, h * w, c), (n, h * w, c))
    elif len(f.shape) != 3 or [a % 3 for a in axes] != [1]:
        raise Unmappable("mean over other axes than the tokens of [N, T, C] or the grid of [N, C, H, W]")
    f = low.realize(f)
    ab = affine(f) if f.is_int else None
    if ab is None:
        raise Unmappable("mean of a stream that is not an integer-grid value")
    n, t, c = f.shape
    odt = dtype_for(t * f.dtype.min(), t * f.dtype.max())
    out_shape = tuple(low.src.get_tensor_shape(node.output[0]))
    out = low.emit("TokenSum", [f.name], (n, c), odt, in_shape=list(f.shape), out_shape=[n, c],
                   inputDataType=f.dtype.name, outputDataType=odt.name)
    chain = [("Mul", ab[0].astype(np.float32))]
    if np.any(ab[1]):
        chain.append(("Add", (t * ab[1]).astype(np.float32)))
    chain.append(("Div", np.float32(t)))
    form = Form(out, odt, (n, c), chain)
    low.forms[node.output[0]] = form if out_shape == (n, c) else low.layout(form, lambda x: x.reshape(out_shape), out_shape)
