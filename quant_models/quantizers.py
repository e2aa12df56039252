"""Brevitas quantizers used by every model (injectors only, no hand-written fake-quant).

Names say what the quantizer produces:

- ``BinaryWeightPerTensor``: {-s, +s}, one learned-free constant scale (exports ``BipolarQuant``).
- ``BinaryWeightPerChannel``: {-s_c, +s_c}, s_c = mean |W_c| per output channel (XNOR-Net / BinaryViT).
- ``TernaryWeightAbsMean``: {-s, 0, +s}, s = mean |W| per tensor, round-to-nearest (BitNet b1.58).
- ``BinaryAct``: {-1, +1} activations (sign with straight-through gradient).
- ``int_act(bits)`` / ``uint_act(bits)``: k-bit signed / unsigned activations with a learned scale.
- ``int_weight(bits)``: k-bit signed per-channel weights with a max-abs scale.

All of them were checked to export to QONNX and match torch exactly (see tests/test_export.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

from brevitas.core.function_wrapper import CeilSte, TensorClampSte
from brevitas.inject.enum import RestrictValueType, ScalingImplType, ScalingPerOutputType, StatsOp
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8ActPerTensorFloat,
    Int8WeightPerChannelFloat,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    SignedTernaryWeightPerTensorConst,
    Uint8ActPerTensorFixedPoint,
    Uint8ActPerTensorFloat,
)


class BinaryWeightPerTensor(SignedBinaryWeightPerTensorConst):
    """Binary weights {-1, +1} x 1 (constant scale; the following norm learns the magnitude)."""

    scaling_const = 1.0


class BinaryWeightPerChannel(SignedBinaryWeightPerTensorConst):
    """Binary weights sign(W) x mean|W| per output channel."""

    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.CHANNEL
    scaling_min_val = 1e-8
    tensor_clamp_impl = TensorClampSte  # the in-place clamp of the parent would shrink W every call


class TernaryWeightAbsMean(SignedTernaryWeightPerTensorConst):
    """BitNet b1.58 absmean ternary weights: clip(round(W / mean|W|), -1, 1) x mean|W|."""

    scaling_impl_type = ScalingImplType.STATS
    scaling_stats_op = StatsOp.AVE
    scaling_per_output_type = ScalingPerOutputType.TENSOR
    scaling_min_val = 1e-8
    tensor_clamp_impl = TensorClampSte


class BinaryAct(SignedBinaryActPerTensorConst):
    """Binary activations {-1, +1}: sign(x) with a straight-through gradient clipped to |x| <= 1."""

    scaling_const = 1.0


# Learned activation scales start from statistics of this many training batches (Brevitas' default is
# 300). The trainer runs them as a calibration pass before the first step, so that every checkpoint
# holds finished scales and resumed runs continue exactly.
CALIBRATION_STEPS = 16


_POT_SCALES = contextvars.ContextVar("pot_scales", default=False)


@contextlib.contextmanager
def power_of_two_scales(on: bool = True):
    """Within this block every quantizer made without an explicit ``pot`` has power-of-two scales:
    activations, binary/ternary/k-bit weights. Then every product and sum of quantized values is
    exact in float32, so QONNX's float execution and the integer hardware compute the same bits
    (hardware-bound models are built this way)."""
    token = _POT_SCALES.set(on)
    try:
        yield
    finally:
        _POT_SCALES.reset(token)


def _pot(pot: bool | None) -> bool:
    return _POT_SCALES.get() if pot is None else pot


def int_act(bits: int, pot: bool | None = None):
    """Signed k-bit activation quantizer with a learned per-tensor scale (k >= 2); ``pot`` restricts
    the scale to a power of two (default: the :func:`power_of_two_scales` setting)."""
    return _int_act(bits, _pot(pot))


@functools.cache
def _int_act(bits: int, pot: bool):
    if bits < 2:
        raise ValueError(f"signed k-bit activations need k >= 2 bits (got {bits}); use BinaryAct for 1 bit")
    base = Int8ActPerTensorFixedPoint if pot else Int8ActPerTensorFloat
    return base.let(bit_width=bits, collect_stats_steps=CALIBRATION_STEPS)


def uint_act(bits: int, pot: bool | None = None):
    """Unsigned k-bit activation quantizer with a learned per-tensor scale (k >= 2), a power of two
    with ``pot`` (default: the :func:`power_of_two_scales` setting).

    Unsigned 1-bit activations are not offered: Brevitas exports them as BipolarQuant, which
    means {-s, +s}, not {0, s} (see the toolchain notes).
    """
    return _uint_act(bits, _pot(pot))


@functools.cache
def _uint_act(bits: int, pot: bool):
    if bits < 2:
        raise ValueError(f"unsigned activations need k >= 2 bits (got {bits}); 1-bit unsigned exports wrongly")
    base = Uint8ActPerTensorFixedPoint if pot else Uint8ActPerTensorFloat
    return base.let(bit_width=bits, collect_stats_steps=CALIBRATION_STEPS)


@functools.cache
def int_weight(bits: int, pot: bool = False):
    """Signed k-bit per-channel weights with a max-abs scale (rounded up to a power of two with ``pot``)."""
    if pot:
        return Int8WeightPerChannelFloat.let(bit_width=bits, restrict_scaling_type=RestrictValueType.POWER_OF_TWO,
                                             restrict_value_float_to_int_impl=CeilSte)
    return Int8WeightPerChannelFloat.let(bit_width=bits)


class TernaryWeightAbsMeanPoT(TernaryWeightAbsMean):
    """Absmean ternary weights with the scale rounded to a power of two (exact float accumulation)."""

    restrict_scaling_type = RestrictValueType.POWER_OF_TWO


class BinaryWeightPerChannelPoT(BinaryWeightPerChannel):
    """Binary weights sign(W) x mean|W| per output channel, the scale rounded to a power of two."""

    restrict_scaling_type = RestrictValueType.POWER_OF_TWO


def weight_quant(kind: str | int):
    """Weight quantizer by name: 'binary', 'binary-tensor', 'ternary', 'ternary-pot', or an int bit
    width. Inside :func:`power_of_two_scales` the scaled ones get power-of-two scales."""
    pot = _POT_SCALES.get()
    if kind == "binary":
        return BinaryWeightPerChannelPoT if pot else BinaryWeightPerChannel
    if kind == "binary-tensor":
        return BinaryWeightPerTensor
    if kind == "ternary":
        return TernaryWeightAbsMeanPoT if pot else TernaryWeightAbsMean
    if kind == "ternary-pot":
        return TernaryWeightAbsMeanPoT
    if isinstance(kind, int) and kind >= 2:
        return int_weight(kind, pot)
    raise ValueError(f"unknown weight quantization {kind!r}: use 'binary', 'binary-tensor', 'ternary', 'ternary-pot' "
                     "or an int >= 2")


def weight_bits(kind: str | int) -> int:
    """Bit width of a weight quantizer name (binary 1, ternary 2)."""
    return {"binary": 1, "binary-tensor": 1, "ternary": 2, "ternary-pot": 2}.get(kind, kind)


@functools.cache
def unit_interval_act(bits: int):
    """Unsigned k-bit activations on the fixed power-of-two grid k / 2**bits, k = 0 .. 2**bits - 1,
    in [0, 1) (gates after a sigmoid); products with other power-of-two-scaled values are exact."""
    top = (2**bits - 1) / 2**bits  # Brevitas' scale is the constant over the largest code: 2**-bits
    return Uint8ActPerTensorFloat.let(bit_width=bits, scaling_impl_type=ScalingImplType.CONST, scaling_const=top,
                                      max_val=top)
