"""Quantizers (``Quant``, ``BipolarQuant``) become FINN's ``Thresholding`` layer on the integer
tensor, its thresholds found on the chain itself (:mod:`build_flows.lowering.thresholds`), or one
of our requantizers when one reproduces the thresholds exactly: ``ShiftRequant`` (a power-of-two
rescale of an integer-grid value) or ``ChannelRequant`` (a fixed-point multiply-add per channel)."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType

from build_flows.layers import FINN_HW_DOMAIN
from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import EXACT_BITS, affine, chain_const, chain_eval, dtype_for, pow2, rounding
from build_flows.lowering.thresholds import find_steps, fit_fixed_point

FIXED_POINT_MIN_LEVELS = 31  # quantizers with this many steps or more try a fixed-point requantizer first


@rule("Quant")
def quant(low: Lowering, node):
    f = low.pending(node.input[0])
    p = {"scale": low.const(node.input[1]), "zeropt": low.const(node.input[2]), "bitwidth": low.const(node.input[3])}
    if any(v is None for v in p.values()):
        raise Unmappable("quantizer parameters are not constant")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    p.update(signed=bool(attrs.get("signed", 1)), narrow=bool(attrs.get("narrow", 0)),
             rounding_mode=attrs.get("rounding_mode", b"ROUND"))
    if int(p["bitwidth"]) == 1 and p["signed"]:
        low.forms[node.output[0]] = quantizer(low, f, "bipolar", p)
    else:
        low.forms[node.output[0]] = quantizer(low, f, "int", p)


@rule("BipolarQuant")
def bipolar_quant(low: Lowering, node):
    f = low.pending(node.input[0])
    scale = low.const(node.input[1])
    if scale is None or np.asarray(scale).size > 1:
        raise Unmappable("bipolar quantizer with a non-constant or per-channel scale")
    low.forms[node.output[0]] = quantizer(low, f, "bipolar", {"scale": np.asarray(scale).reshape(())})


def quantizer(low: Lowering, form: Form, kind: str, params: dict, channels_last: bool = False) -> Form:
    """Thresholding layer for a quantizer on ``form``; the output form is scale * code. A 4-D
    (NCHW) form with per-channel constants is thresholded channels-last between two reorders."""
    if not channels_last and len(form.shape) == 4 and any(op == "BatchNormalization" or np.asarray(c).size > 1
                                                          for op, c in form.chain):
        return low.to_nchw(quantizer(low, low.to_nhwc(form), kind, params, True))
    form = low.realize(form, exact=True)
    channels = form.shape[-1]
    consts = [(op, chain_const(op, c, form.shape)) for op, c in form.chain]
    if kind == "bipolar":
        qmin, qmax = 0, 1

        def code(x):
            return (chain_eval(x, consts) >= 0).astype(np.int64)
    else:
        scale, zp, bits = params["scale"], params["zeropt"], int(params["bitwidth"])
        signed, narrow = params["signed"], params["narrow"]
        if np.asarray(scale).size > 1 or np.asarray(zp).size > 1:
            raise Unmappable("a per-channel activation quantizer scale (not supported yet)")
        qmin = (-(2 ** (bits - 1)) + int(narrow)) if signed else 0
        qmax = (2 ** (bits - 1) - 1) if signed else 2**bits - 1 - int(narrow)
        s32, z32 = np.float32(scale), np.float32(zp)
        rnd = rounding(params["rounding_mode"])

        def code(x):
            y = chain_eval(x, consts) / s32 + z32
            return rnd(np.clip(y, qmin, qmax))
    if form.is_int and kind != "bipolar":
        shifted = shift_requant(low, form, params, qmin, qmax)
        if shifted is not None:
            return shifted
    if form.is_int:
        lo, hi = int(form.dtype.min()), int(form.dtype.max())
        steps = find_steps(code, lo, hi, channels, qmin, qmax)
    else:
        steps = find_steps(code, None, None, channels, qmin, qmax)
    n_levels = qmax - qmin
    bipolar = kind == "bipolar"
    odt = DataType["BIPOLAR"] if bipolar else dtype_for(qmin, qmax)
    fixed = None
    if form.is_int and n_levels >= FIXED_POINT_MIN_LEVELS:
        fixed = fit_fixed_point(steps, int(form.dtype.min()), int(form.dtype.max()))
    if fixed is not None:
        out = low.emit("ChannelRequant", [form.name], form.shape, odt, in_shape=list(form.shape),
                       out_shape=list(form.shape), inputDataType=form.dtype.name, outputDataType=odt.name,
                       mult=[int(m) for m in fixed.mult], add=[int(a) for a in fixed.add], shift=fixed.shift,
                       levels=n_levels, qmin=int(qmin))
    else:
        out = thresholding(low, form, steps, odt, n_levels, 0 if bipolar else int(qmin))
    # the layer gives qmin + count (rising) per channel; falling channels mean qmax - count
    falling = steps.falling.astype(bool)
    if bipolar:
        scale = np.float32(params["scale"])
        a = np.where(falling, -scale, scale).astype(np.float32)
        chain = [("Mul", a)] if (falling.any() or scale != 1) else []
        return Form(out, odt, tuple(form.shape), chain)
    scale = np.float32(params["scale"])
    zp = np.float32(params["zeropt"])
    # value = (code - zp) * scale; code = count + qmin, or qmax + qmin - (count + qmin) when falling
    sign = np.where(falling, -1.0, 1.0).astype(np.float32)
    offset = np.where(falling, qmax + qmin, 0).astype(np.float32) - zp
    chain = []
    if falling.any():
        chain.append(("Mul", sign))
    if np.any(offset != 0):
        chain.append(("Add", offset))
    chain.append(("Mul", np.array(scale, dtype=np.float32)))
    return Form(out, odt, tuple(form.shape), chain)


def thresholding(low: Lowering, form: Form, steps, odt: DataType, n_levels: int, act_val: int) -> str:
    """FINN's Thresholding layer with the found thresholds."""
    t = steps.thresholds
    tdt = dtype_for(t.min(), t.max()) if form.is_int else DataType["FLOAT32"]
    thr = low.init(t.astype(np.float32), tdt, "thresholds")
    return low.emit("Thresholding", [form.name, thr], form.shape, odt, domain=FINN_HW_DOMAIN,
                    NumChannels=form.shape[-1], PE=1, numSteps=n_levels, inputDataType=form.dtype.name,
                    weightDataType=tdt.name, outputDataType=odt.name, numInputVectors=list(form.shape[:-1]),
                    ActVal=act_val)


def shift_requant(low: Lowering, form: Form, params: dict, qmin: int, qmax: int) -> Form | None:
    """A ShiftRequant layer when the quantizer's input is a*n + b exactly with a / scale one power
    of two for all channels and round-half-even rounding; else None (thresholds are used)."""
    ab = affine(form)
    mode = params["rounding_mode"]
    mode = (mode.decode() if isinstance(mode, bytes) else str(mode)).upper()
    if ab is None or mode not in ("ROUND", "HALF_EVEN"):
        return None
    a, b = ab
    scale = float(np.asarray(params["scale"], dtype=np.float64))
    ratio = a / scale
    if not np.all(ratio == ratio[0]) or not pow2(ratio) or ratio[0] < 0:
        return None
    offset = b / scale + float(params["zeropt"])
    shift = int(np.log2(ratio[0]))
    if np.abs(offset).max() * 2 ** max(0, -shift) >= 2**EXACT_BITS:
        return None
    odt = dtype_for(qmin, qmax)
    extra = {"offset": [float(v) for v in offset]} if np.any(offset) else {}
    out = low.emit("ShiftRequant", [form.name], form.shape, odt, in_shape=list(form.shape), out_shape=list(form.shape),
                   inputDataType=form.dtype.name, outputDataType=odt.name, shift=shift, qmin=qmin, qmax=qmax, **extra)
    zp = np.float32(params["zeropt"])
    chain = ([("Add", -zp)] if zp else []) + [("Mul", np.float32(scale))]
    return Form(out, odt, tuple(form.shape), chain)
