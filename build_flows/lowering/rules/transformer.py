"""The transformer's own nodes become our layers (:mod:`build_flows.layers`): the matmul of two
streams (``StreamMatMul``; reached from the ``MatMul`` rule of :mod:`.linear`), the integer softmax
(``StreamSoftmax``) and the MLGRU token recurrence (``StreamMLGRU``)."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType

from build_flows.lowering.core import Form, Lowering, Unmappable, rule
from build_flows.lowering.numeric import affine, chain_eval, dtype_for, per_channel


def stream_matmul(low: Lowering, node):
    """A ``MatMul`` whose both operands are streams (attention)."""
    fa, fb = low.stream(node.input[0]), low.stream(node.input[1])
    aa, ab = (affine(fa) if fa.is_int else None), (affine(fb) if fb.is_int else None)
    if aa is None or ab is None or np.any(aa[1]) or np.any(ab[1]):
        raise Unmappable("matmul of two streams that are not both zero-offset integer-grid values")
    if not np.all(np.abs(aa[0]) == np.abs(aa[0][0])):
        raise Unmappable("matmul of streams whose left operand has per-channel scales")
    signs = {"signs": [int(v) for v in np.sign(aa[0])]} if np.any(aa[0] < 0) else {}
    k = fa.shape[-1]
    va = [fa.dtype.min(), fa.dtype.max()]
    vb = [fb.dtype.min(), fb.dtype.max()]
    prods = [x * y for x in va for y in vb]
    odt = dtype_for(k * min(prods), k * max(prods))
    out_shape = tuple(low.src.get_tensor_shape(node.output[0]))
    out = low.emit("StreamMatMul", [fa.name, fb.name], out_shape, odt, in_shape=list(fa.shape),
                   in_shape1=list(fb.shape), out_shape=list(out_shape), inputDataType=fa.dtype.name,
                   inputDataType1=fb.dtype.name, outputDataType=odt.name, **signs)
    low.forms[node.output[0]] = Form(out, odt, out_shape, [("Mul", (np.abs(aa[0][0]) * ab[0]).astype(np.float32))])


@rule("IntSoftmax")
def int_softmax(low: Lowering, node):
    f = low.stream(node.input[0])
    scale = np.float32(np.asarray(low.const(node.input[1])).reshape(-1)[0])
    ab = affine(f) if f.is_int else None
    if ab is None or np.any(ab[1]) or not np.all(ab[0] == scale):
        raise Unmappable("integer softmax whose input is not its quantizer's integer grid")
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    bits = int(attrs["out_bits"])
    odt = DataType[f"UINT{bits}"]
    out = low.emit("StreamSoftmax", [f.name], f.shape, odt, in_shape=list(f.shape), out_shape=list(f.shape),
                   inputDataType=f.dtype.name, outputDataType=odt.name, scale=float(scale), out_bits=bits,
                   mask_diagonal=int(attrs.get("mask_diagonal", 0)))
    low.forms[node.output[0]] = Form(out, odt, f.shape, [("Mul", np.float32(2.0**-bits))])


@rule("MLGRU")
def mlgru(low: Lowering, node):
    ff, fc = low.stream(node.input[0]), low.stream(node.input[1])
    c_scale = np.float32(np.asarray(low.const(node.input[2])).reshape(-1)[0])
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    f_bits = int(attrs["f_bits"])
    fm = 2**f_bits
    codes = np.arange(0, fm, dtype=np.float64)
    consts = [(op, per_channel(c, ff.shape)) for op, c in ff.chain]
    if not ff.is_int or ff.dtype.min() < 0 or ff.dtype.max() >= fm or \
            not np.array_equal(np.round(chain_eval(codes[:, None], consts) * np.float32(fm)),
                               np.broadcast_to(codes[:, None], (fm, ff.shape[-1]))):
        raise Unmappable("MLGRU gate that is not on its k / 2^k grid")
    ab = affine(fc) if fc.is_int else None
    if ab is None or np.any(ab[1]) or not np.all(ab[0] == c_scale):
        raise Unmappable("MLGRU candidate that is not on its quantizer's integer grid")
    out = low.emit("StreamMLGRU", [ff.name, fc.name], fc.shape, fc.dtype, in_shape=list(fc.shape),
                   out_shape=list(fc.shape), inputDataType=ff.dtype.name, inputDataType1=fc.dtype.name,
                   outputDataType=fc.dtype.name, f_bits=f_bits)
    low.forms[node.output[0]] = Form(out, fc.dtype, fc.shape, [("Mul", c_scale)])
