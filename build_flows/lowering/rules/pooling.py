"""Pooling: an average pool over the token grid becomes ``GridPoolSum`` and a mean over the tokens
(or a global average pool) becomes ``TokenSum``; the division joins the chain, to fold into the next
quantizer's thresholds. A max pool becomes FINN's sliding-window generator and ``WindowMax``, on the
integer codes (the max commutes with a positive scale)."""

from __future__ import annotations

import numpy as np
from onnx import helper

from build_flows.layers import FINN_HW_DOMAIN
from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import affine, dtype_for, per_channel
from build_flows.lowering.rules.layout import pad_grid


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


@rule("MaxPool")
def max_pool(low: Lowering, node):
    f = low.pending(node.input[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if len(node.output) > 1 and node.output[1]:
        raise Unmappable("max pool with an indices output")
    if len(f.shape) != 4:
        raise Unmappable(f"max pool of a {len(f.shape)}-d tensor (the hardware pools NCHW images)")
    kh, kw = attrs["kernel_shape"]
    sh, sw = attrs.get("strides", [1, 1])
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise Unmappable("dilated max pool")
    n, c, h, w = f.shape
    oh, ow = tuple(low.src.get_tensor_shape(node.output[0]))[2:]
    if (h + pads[0] + pads[2] - kh) // sh + 1 != oh or (w + pads[1] + pads[3] - kw) // sw + 1 != ow:
        raise Unmappable("max pool with ceil_mode (windows that run past the padded image)")
    g = low.realize(low.to_nhwc(f), exact=True)
    ab = affine(g) if g.is_int else None
    if ab is None:
        raise Unmappable("max pool of a stream that is not an exact integer-grid value")
    if np.any(ab[0] <= 0):
        raise Unmappable("max pool of channels with a negative scale (their maximum would be the codes' minimum)")
    # ONNX pads with -inf: the lowest code never wins a window (pads are smaller than the kernel)
    g = pad_grid(low, g, pads, int(g.dtype.min()))
    ph, pw = g.shape[1:3]
    swg_shape = (n, oh, ow, kh * kw * c)
    cols = low.emit("ConvolutionInputGenerator", [g.name], swg_shape, g.dtype, domain=FINN_HW_DOMAIN,
                    ConvKernelDim=[kh, kw], IFMChannels=c, IFMDim=[ph, pw], OFMDim=[oh, ow], SIMD=1,
                    Stride=[sh, sw], Dilation=[1, 1], inputDataType=g.dtype.name, outputDataType=g.dtype.name,
                    depthwise=0)
    out_shape = (n, oh, ow, c)
    out = low.emit("WindowMax", [cols], out_shape, g.dtype, in_shape=list(swg_shape), out_shape=list(out_shape),
                   inputDataType=g.dtype.name, outputDataType=g.dtype.name, kernel_elems=kh * kw)
    chain = [(op, per_channel(k, g.shape)) for op, k in g.chain]  # per channel: valid on the pooled grid
    low.forms[node.output[0]] = low.to_nchw(Form(out, g.dtype, out_shape, chain))


@rule("TopK")
def top_k(low: Lowering, node):
    """Label selection at the graph's end (FINN's InsertTopK adds it): ``TopKLabels`` on the float outputs, a host
    step; only the indices may be used."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    k = low.const(node.input[1])
    if k is None or int(attrs.get("largest", 1)) != 1 or int(attrs.get("sorted", 1)) != 1:
        raise Unmappable("TopK other than the k largest, sorted, with a constant k")
    values_used = low.src.find_consumers(node.output[0]) or node.output[0] in [o.name for o in low.src.graph.output]
    if values_used:
        raise Unmappable("TopK whose values (not only its indices) are used")
    f = low.stream(node.input[0], exact=True)
    if len(f.shape) != 2 or int(attrs.get("axis", -1)) % 2 != 1:
        raise Unmappable("TopK other than over the classes of [N, classes]")
    x = low.float_tensor(f)
    n, c = f.shape
    k = int(np.asarray(k).ravel()[0])
    odt = dtype_for(0, c - 1)
    out = low.emit("TopKLabels", [x], (n, k), odt, in_shape=[n, c], out_shape=[n, k],
                   inputDataType=low.dtypes[x].name, outputDataType=odt.name, K=k)
    low.forms[node.output[1]] = Form(out, odt, (n, k))
