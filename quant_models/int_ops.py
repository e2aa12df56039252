"""Integer operators whose exact semantics are shared by torch, QONNX execution and hardware.

Two operations in the models have no exact ONNX/QONNX equivalent and become one hardware layer
each: the quantized softmax and the MLGRU token recurrence. Each is defined here once, in numpy
and in integer arithmetic, so that the torch forward pass, the qonnx custom op
(`quant_models.custom_ops`) and the RTL golden models all compute the same bits.

Each also has a torch form (``*_torch``) that runs on any device, for training: the same integer
arithmetic on int64 tensors, bit for bit equal to the numpy definition (tests/test_int_ops.py
compares them on random inputs).

In torch they are exported as single custom nodes (`torch.autograd.Function.symbolic`) in the
ONNX domain ``quant_models.custom_ops``; during training a straight-through estimator gives them a
float gradient while the forward value stays the integer one.
"""

from __future__ import annotations

import numpy as np
import torch

DOMAIN = "quant_models.custom_ops"
SOFTMAX_FRAC_BITS = 16  # fixed-point bits of the exp() lookup table


def int_softmax(x: np.ndarray, scale: float, out_bits: int, mask_diagonal: bool = False) -> np.ndarray:
    """Quantized softmax over the last axis.

    Expects ``x`` on the grid ``scale * integer`` (the output of a signed activation quantizer).
    Gives probabilities on the grid ``k / 2**out_bits``, k = 0 .. 2**out_bits - 1, float32 (a
    power-of-two grid, so that probabilities times values sum exactly in float32). With ``mask_diagonal``
    (locality self-attention), element i of row i gets probability 0 (the last two axes must be square).
    The integer semantics are :func:`int_softmax_codes`.
    """
    scale = float(np.asarray(scale, dtype=np.float32).reshape(-1)[0])
    z = np.round(np.asarray(x, dtype=np.float32) / np.float32(scale)).astype(np.int64)
    codes = int_softmax_codes(z, scale, out_bits, mask_diagonal)
    return (codes.astype(np.float32) / np.float32(2**out_bits)).astype(np.float32)


def softmax_exp_table(scale: float, span: int) -> np.ndarray:
    """The softmax's exp() lookup table: e(d) = floor(exp(-d * scale) * 2**16 + 0.5) for d = 0..span,
    cut after its first zero (e is non-increasing in d, so an index saturated at the last entry gives 0).
    int64. The one table of the numpy and torch definitions and of the RTL's ROM."""
    # beyond d * scale = 12 every entry is 0 (exp(-12) * 2**16 < 0.5): a huge span needs no more
    span = int(min(span, np.ceil(12.0 / float(scale)))) if float(scale) > 0 else int(span)
    d = np.arange(span + 1, dtype=np.float64)
    e = np.floor(np.exp(-d * float(scale)) * 2.0**SOFTMAX_FRAC_BITS + 0.5).astype(np.int64)
    zeros = np.flatnonzero(e == 0)
    return e[: zeros[0] + 1] if zeros.size else e


def int_softmax_codes(z: np.ndarray, scale: float, out_bits: int, mask_diagonal: bool = False) -> np.ndarray:
    """What the hardware computes: integer scores ``z`` in, integer probabilities 0..2**out_bits-1 out.

    d = max(z) - z; e = round(2**16 * exp(-d * scale)) (a lookup table indexed by d,
    :func:`softmax_exp_table`); p = min(round_half_up(e * 2**n / sum(e)), 2**n - 1).
    ``scale`` only sets the lookup table.
    """
    z = np.asarray(z).astype(np.int64)
    keep = np.ones(z.shape, dtype=bool)
    if mask_diagonal:
        if z.shape[-1] != z.shape[-2]:
            raise ValueError(f"mask_diagonal needs square score matrices, got shape {z.shape}")
        keep = np.broadcast_to(~np.eye(z.shape[-1], dtype=bool), z.shape)
    lowest = np.iinfo(np.int64).min
    m = np.where(keep, z, lowest).max(axis=-1, keepdims=True)
    d = np.where(keep, m - z, 0)
    table = softmax_exp_table(scale, int(d.max()) if d.size else 0)
    e = np.where(keep, table[np.minimum(d, len(table) - 1)], 0)
    total = e.sum(axis=-1, keepdims=True)
    levels = 2**out_bits
    return np.minimum((2 * e * levels + total) // (2 * total), levels - 1)


def int_softmax_codes_torch(z: torch.Tensor, scale: float, out_bits: int, mask_diagonal: bool = False) -> torch.Tensor:
    """:func:`int_softmax_codes` on an integer tensor on any device; gives int64 codes there."""
    z = z.to(torch.int64)
    keep = torch.ones_like(z, dtype=torch.bool)
    if mask_diagonal:
        if z.shape[-1] != z.shape[-2]:
            raise ValueError(f"mask_diagonal needs square score matrices, got shape {tuple(z.shape)}")
        keep = ~torch.eye(z.shape[-1], dtype=torch.bool, device=z.device).expand(z.shape)
    lowest = torch.iinfo(torch.int64).min
    m = torch.where(keep, z, lowest).amax(dim=-1, keepdim=True)
    d = torch.where(keep, m - z, 0)
    table = torch.from_numpy(softmax_exp_table(scale, int(d.max()) if d.numel() else 0)).to(z.device)
    e = torch.where(keep, table[d.clamp(max=len(table) - 1)], 0)
    total = e.sum(dim=-1, keepdim=True)
    levels = 2**out_bits
    return torch.clamp((2 * e * levels + total) // (2 * total), max=levels - 1)


def int_softmax_torch(x: torch.Tensor, scale: torch.Tensor, out_bits: int, mask_diagonal: bool = False) -> torch.Tensor:
    """:func:`int_softmax` on a tensor on any device (no gradient); float32 on x's device."""
    return _int_softmax_op(x.detach(), torch.as_tensor(scale).detach(), out_bits, mask_diagonal)


# One opaque operator for torch.compile: the exp() table is built from the scale's value, which would otherwise
# make dynamo specialise (and recompile) on every new scale; the output has x's shape whatever the table.
@torch.library.custom_op("qvit::int_softmax", mutates_args=())
def _int_softmax_op(x: torch.Tensor, scale: torch.Tensor, out_bits: int, mask_diagonal: bool) -> torch.Tensor:
    scale = scale.float().reshape(-1)[0]
    z = torch.round(x.float() / scale.to(x.device)).to(torch.int64)
    codes = int_softmax_codes_torch(z, float(scale), out_bits, mask_diagonal)
    return codes.float() / float(2**out_bits)


@_int_softmax_op.register_fake
def _(x, scale, out_bits, mask_diagonal):
    return torch.empty_like(x, dtype=torch.float32)


def mlgru_scan(f: np.ndarray, c: np.ndarray, c_scale: float, f_bits: int) -> np.ndarray:
    """MLGRU recurrence h_t = f_t * h_(t-1) + (1 - f_t) * c_t over axis 1 (tokens), h_0 = 0.

    Expects ``f`` [B, T, C] on the grid k / 2**f_bits (forget gate in [0, 1)) and ``c``
    [B, T, C] on the grid ``c_scale * integer``. Gives ``h`` [B, T, C] on the grid of ``c``, float32.
    The integer semantics are :func:`mlgru_codes`.
    """
    c_scale = np.float32(np.asarray(c_scale, dtype=np.float32).reshape(-1)[0])
    big_f = np.round(np.asarray(f, dtype=np.float32) * np.float32(2**f_bits)).astype(np.int64)
    big_c = np.round(np.asarray(c, dtype=np.float32) / c_scale).astype(np.int64)
    return (mlgru_codes(big_f, big_c, f_bits).astype(np.float32) * c_scale).astype(np.float32)


def mlgru_codes(big_f: np.ndarray, big_c: np.ndarray, f_bits: int) -> np.ndarray:
    """What the hardware computes: gate codes F in 0..2**k - 1 (k = f_bits) and candidate integers C,
    both [B, T, C]; gives H [B, T, C] with H_t = floor((F_t * H_(t-1) + (2**k - F_t) * C_t + 2**(k-1)) / 2**k)
    (round half up: an add and a shift). H is a convex combination of C values, so it never leaves
    C's range (no clipping)."""
    fm = 2**f_bits
    big_f = np.asarray(big_f).astype(np.int64)
    big_c = np.asarray(big_c).astype(np.int64)
    h = np.zeros(big_c.shape[:1] + big_c.shape[2:], dtype=np.int64)
    out = np.empty_like(big_c)
    for t in range(big_c.shape[1]):
        num = big_f[:, t] * h + (fm - big_f[:, t]) * big_c[:, t]
        h = (num + fm // 2) >> f_bits
        out[:, t] = h
    return out


def mlgru_codes_torch(big_f: torch.Tensor, big_c: torch.Tensor, f_bits: int) -> torch.Tensor:
    """:func:`mlgru_codes` on integer tensors on any device; gives int64 H there."""
    fm = 2**f_bits
    big_f, big_c = big_f.to(torch.int64), big_c.to(torch.int64)
    h = torch.zeros_like(big_c[:, 0])
    out = torch.empty_like(big_c)
    for t in range(big_c.shape[1]):
        h = (big_f[:, t] * h + (fm - big_f[:, t]) * big_c[:, t] + fm // 2) >> f_bits
        out[:, t] = h
    return out


def mlgru_scan_torch(f: torch.Tensor, c: torch.Tensor, c_scale: torch.Tensor, f_bits: int) -> torch.Tensor:
    """:func:`mlgru_scan` on tensors on any device (no gradient); float32 on c's device."""
    c_scale = torch.as_tensor(c_scale).detach().float().reshape(-1)[0].to(c.device)
    big_f = torch.round(f.detach().float() * float(2**f_bits)).to(torch.int64)
    big_c = torch.round(c.detach().float() / c_scale).to(torch.int64)
    return mlgru_codes_torch(big_f, big_c, f_bits).float() * c_scale


class IntSoftmaxFn(torch.autograd.Function):
    """Export form of :func:`int_softmax`: one ``IntSoftmax`` node with inputs (x, scale)."""

    @staticmethod
    def forward(ctx, x, scale, out_bits, mask_diagonal):
        return int_softmax_torch(x, scale, out_bits, mask_diagonal)

    @staticmethod
    def symbolic(g, x, scale, out_bits, mask_diagonal):
        out = g.op(f"{DOMAIN}::IntSoftmax", x, scale, out_bits_i=out_bits, mask_diagonal_i=int(mask_diagonal))
        # The exporter's shape inference cannot see into custom ops: give the output x's type and shape.
        out.setType(x.type())
        return out


class MLGRUFn(torch.autograd.Function):
    """Export form of :func:`mlgru_scan`: one ``MLGRU`` node with inputs (f, c, c_scale)."""

    @staticmethod
    def forward(ctx, f, c, c_scale, f_bits):
        return mlgru_scan_torch(f, c, c_scale, f_bits)

    @staticmethod
    def symbolic(g, f, c, c_scale, f_bits):
        out = g.op(f"{DOMAIN}::MLGRU", f, c, c_scale, f_bits_i=f_bits)
        out.setType(c.type())
        return out


def exporting() -> bool:
    """True while torch's ONNX exporter traces the model."""
    return torch.onnx.is_in_onnx_export()
