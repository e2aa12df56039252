"""Quantized multi-head self-attention (binary / ternary / k-bit, or float for teachers)."""

from __future__ import annotations

import torch
from torch import nn

from quant_models.layers import FloatSoftmax, InputQuant, MatMul, PatchMerge, QuantSoftmax, linear, norm


class QuantAttention(nn.Module):
    """Multi-head attention whose two matmul inputs and softmax output are quantized.

    Expects normalised tokens [B, T, C] (the first ``n_extra`` are class/distillation tokens, the
    rest a ``grid`` of patches). Gives [B, T_query, C]. With quantization (``weight`` not None):
    input -> shift + quantizer -> Q/K/V linear -> norm -> shift + ``attn_bits`` quantizer (1 =
    binary, as in BinaryViT) -> Q K^T -> softmax -> quantized P V -> quantizer -> output linear -> norm.

    ``hw=True`` uses the integer softmax (scores quantized to ``score_bits``, probabilities to
    ``softmax_bits``); otherwise a float softmax, binarised to {0, c} when ``attn_bits == 1``.
    ``sr_ratio > 1`` spatially reduces keys/values (pyramid ViTs); ``locality`` adds the diagonal
    mask and learnable temperature of locality self-attention.
    """

    def __init__(self, dim, heads, *, weight, act_bits, attn_bits, score_bits=8, softmax_bits=4,
                 hw=True, norm_kind="batch", sr_ratio=1, locality=False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        if locality and sr_ratio > 1:
            raise ValueError("locality self-attention masks the diagonal, which needs sr_ratio == 1")
        self.heads, self.head_dim = heads, dim // heads
        quant = weight is not None
        self.in_quant = InputQuant(dim, act_bits)
        self.sr = PatchMerge(dim, dim, sr_ratio, weight, act_bits, norm_kind) if sr_ratio > 1 else None
        self.kv_quant = InputQuant(dim, act_bits) if self.sr is not None else None
        self.q, self.k, self.v = (linear(dim, dim, weight, act_bits, bias=not quant) for _ in range(3))
        self.q_norm, self.k_norm, self.v_norm = (norm(dim, norm_kind) if quant else nn.Identity() for _ in range(3))
        self.q_quant, self.k_quant, self.v_quant = (InputQuant(dim, attn_bits) for _ in range(3))
        init = self.head_dim**-0.5
        self.scale = nn.Parameter(torch.tensor(init)) if locality else init
        self.qk = MatMul(attn_bits, attn_bits)
        if hw and quant:
            self.softmax = QuantSoftmax(score_bits, softmax_bits, mask_diagonal=locality)
            self.pv = MatMul(softmax_bits, attn_bits)
        else:
            binarize = quant and attn_bits == 1
            self.softmax = FloatSoftmax(binarize=binarize, mask_diagonal=locality)
            self.pv = MatMul(1 if binarize else None, attn_bits)
        self.out_quant = InputQuant(dim, act_bits)
        self.proj = linear(dim, dim, weight, act_bits, bias=not quant)
        self.proj_norm = norm(dim, norm_kind) if quant else nn.Identity()

    def _heads(self, x):
        b, t, _ = x.shape
        return x.reshape(b, t, self.heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, grid=None, n_extra=0, n_query=None):
        a = self.in_quant(x)
        if self.sr is not None:
            reduced = self.sr(x[:, n_extra:], grid)
            kv = self.kv_quant(torch.cat([x[:, :n_extra], reduced], dim=1) if n_extra else reduced)
        else:
            kv = a
        q_in = a[:, :n_query] if n_query else a
        q = self._heads(self.q_quant(self.q_norm(self.q(q_in))))
        k = self._heads(self.k_quant(self.k_norm(self.k(kv))))
        v = self._heads(self.v_quant(self.v_norm(self.v(kv))))
        p = self.softmax(self.qk(q, k.transpose(-2, -1)) * self.scale)
        o = self.pv(p, v)
        b, h, t, d = o.shape
        o = o.permute(0, 2, 1, 3).reshape(b, t, h * d)
        return self.proj_norm(self.proj(self.out_quant(o)))
