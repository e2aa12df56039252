"""Linear layers (``MatMul``/``Gemm`` with weights, ``Conv``: padded, strided, grouped) become FINN's
``MVAU`` (with FINN's ``ConvolutionInputGenerator`` for convolutions, after a ``PadStream`` for built-in
padding) on integer weights, when their input is an exact affine function of the integer tensor
(power-of-two scales: see README); the scales move behind the layer into the chain. A ``MatMul`` of two
streams goes to :mod:`.transformer`."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType

from build_flows.layers import FINN_HW_DOMAIN
from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import EXACT_BITS, acc_range, affine, dtype_for, grid_unit, int_dtype, per_channel, pow2
from build_flows.lowering.rules.layout import grid_code, pad_grid
from build_flows.lowering.rules.transformer import stream_matmul


@rule("MatMul")
def matmul_node(low: Lowering, node):
    w = low.const(node.input[1])
    if w is None:
        return stream_matmul(low, node)
    f = low.stream(node.input[0])
    w_int, w_scale = int_weights(w, 1)
    low.forms[node.output[0]] = matmul(low, f, w_int, w_scale, node.name)


@rule("Gemm")
def gemm(low: Lowering, node):
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
        raise Unmappable("Gemm with transA, alpha or beta")
    w = low.const(node.input[1])
    if w is None:
        raise Unmappable("Gemm with non-constant weights")
    w = w.T if attrs.get("transB", 0) else w
    f = low.stream(node.input[0])
    w_int, w_scale = int_weights(w, 1)
    out = matmul(low, f, w_int, w_scale, node.name)
    if len(node.input) > 2 and node.input[2]:
        bias = low.const(node.input[2])
        out = Form(out.name, out.dtype, out.shape, out.chain + [("Add", np.asarray(bias, dtype=np.float32))])
    low.forms[node.output[0]] = out


@rule("Conv")
def conv(low: Lowering, node):
    f = low.pending(node.input[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise Unmappable("dilated convolution")
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise Unmappable("convolution with auto_pad (export explicit pads)")
    w = low.const(node.input[1])
    if w is None:
        raise Unmappable("convolution with non-constant weights")
    w = block_diagonal(w, int(attrs.get("group", 1)))
    oc, ic, kh, kw = w.shape
    sh, sw = attrs.get("strides", [1, 1])
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    g = low.realize(low.to_nhwc(f), exact=True)
    ab = affine(g) if g.is_int else None
    if ab is None:
        raise Unmappable("its input is not an exact integer-grid value")
    if any(pads):  # zero padding: the code whose value is 0
        g = pad_grid(low, g, pads, grid_code(g, 0.0))
    n, h, wd, c = g.shape
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    swg_shape = (n, oh, ow, kh * kw * ic)
    cols = low.emit("ConvolutionInputGenerator", [g.name], swg_shape, g.dtype, domain=FINN_HW_DOMAIN,
                    ConvKernelDim=[kh, kw], IFMChannels=ic, IFMDim=[h, wd], OFMDim=[oh, ow], SIMD=1,
                    Stride=[sh, sw], Dilation=[1, 1], inputDataType=g.dtype.name, outputDataType=g.dtype.name,
                    depthwise=0)
    # column order of the generator: (kh, kw, ic) -- the weights follow it
    chain = [(op, np.tile(per_channel(c_, g.shape), kh * kw)) if np.asarray(c_).size > 1 else (op, c_)
             for op, c_ in g.chain]
    colform = Form(cols, g.dtype, swg_shape, chain)
    w_mat = w.transpose(0, 2, 3, 1).reshape(oc, -1).T
    w_int, w_scale = int_weights(w_mat, 1)
    out = matmul(low, colform, w_int, w_scale, node.name)
    if len(node.input) > 2 and node.input[2]:
        bias = np.asarray(low.const(node.input[2]), np.float32)
        out = Form(out.name, out.dtype, out.shape, out.chain + [("Add", bias)])
    low.forms[node.output[0]] = low.to_nchw(out)


def block_diagonal(w: np.ndarray, groups: int) -> np.ndarray:
    """A grouped convolution's weights [OC, IC/groups, kh, kw] as the dense [OC, IC, kh, kw] with zeros outside
    each group's block: one MVAU computes it exactly (depthwise at the cost of the zeros' LUTs)."""
    if groups == 1:
        return w
    oc, icg, kh, kw = w.shape
    if oc % groups:
        raise Unmappable(f"grouped convolution: {oc} output channels do not split into {groups} groups")
    dense = np.zeros((oc, icg * groups, kh, kw), dtype=w.dtype)
    per = oc // groups
    for k in range(groups):
        dense[k * per:(k + 1) * per, k * icg:(k + 1) * icg] = w[k * per:(k + 1) * per]
    return dense


def int_weights(w: np.ndarray, axis_out: int):
    """Split float weights into (integers, power-of-two scale per output channel along ``axis_out``)."""
    w = np.asarray(w, dtype=np.float64)
    moved = np.moveaxis(w, axis_out, 0).reshape(w.shape[axis_out], -1)
    scales = np.array([grid_unit(r) if np.any(r) else 1.0 for r in moved])
    ints = moved / scales[:, None]
    if np.abs(ints).max() >= 2**EXACT_BITS:
        raise Unmappable("weights are not on a power-of-two grid (float weights; quantize them)")
    ints = np.moveaxis(ints.reshape(np.moveaxis(w, axis_out, 0).shape), 0, axis_out)
    return ints, scales


def matmul(low: Lowering, form: Form, w_int: np.ndarray, w_scale: np.ndarray, name: str) -> Form:
    """MVAU: x [..., K] @ w_int [K, N] on the integer tensor; output chain carries the scales."""
    ab = affine(form) if form.is_int else None
    if ab is None:
        raise Unmappable("its input is not an exact integer-grid value (a float operation or a non-power-of-two "
                         "scale sits between the quantizer and this layer)")
    a, b = ab
    amin = np.abs(a).min()
    ratio = a / amin
    if not pow2(ratio) and not np.all(np.abs(ratio) == 1):
        raise Unmappable("input scales differ per channel by non-power-of-two factors")
    w_eff = w_int * ratio[:, None]  # exact: powers of two times integers
    bias = (b / (amin)) @ w_int  # in units of amin * w_scale
    k, n = w_eff.shape
    idt = form.dtype
    wdt = int_dtype(w_eff)
    bipolar = idt == DataType["BIPOLAR"] and wdt == DataType["BIPOLAR"]
    if bipolar:
        acc_dt = DataType.get_smallest_possible(k)
    else:
        lo, hi = acc_range(idt, w_eff)
        acc_dt = dtype_for(lo, hi)
    w_name = low.init(w_eff.astype(np.float32), wdt, "weights")
    lead = list(form.shape[:-1])
    out = low.emit("MVAU", [form.name, w_name], tuple(lead) + (n,), acc_dt, domain=FINN_HW_DOMAIN, name=name,
                   MW=k, MH=n, SIMD=1, PE=1, inputDataType=idt.name, weightDataType=wdt.name,
                   outputDataType=acc_dt.name, accDataType=acc_dt.name, noActivation=1,
                   numInputVectors=lead, mem_mode="internal_decoupled", ram_style="auto")
    chain = []
    scale = (amin * w_scale).astype(np.float32)
    if bipolar:  # FINN's MVAU gives the popcount p of agreements: dot = 2p - K
        chain += [("Mul", np.float32(2)), ("Add", np.float32(-k))]
    if np.any(bias != 0):
        chain.append(("Add", bias.astype(np.float32)))
    chain.append(("Mul", scale))
    return Form(out, acc_dt, tuple(lead) + (n,), chain)
