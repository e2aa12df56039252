"""MatMul-free ViT (after Zhu et al. 2024, for images): ternary BitLinear layers, an MLGRU token
mixer (element-wise gated recurrence over the token sequence) and a GLU channel mixer.

Streamable by construction: gates are sigmoid followed by an unsigned fixed-grid quantizer (a
monotone function then a quantizer, i.e. thresholds), the candidate is a clipping signed quantizer
(SiLU is not monotone, so it would not fold into thresholds), and the recurrence is one integer
``MLGRU`` node (:mod:`quant_models.int_ops`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from brevitas import nn as qnn
from torch import nn

from quant_models.int_ops import MLGRUFn, exporting, mlgru_scan_torch
from quant_models.layers import InputQuant, ResidualAdd, act_scale, conv2d, grid_to_tokens, linear, norm, quant_act
from quant_models.quantizers import power_of_two_scales, unit_interval_act
from quant_models.registry import configured, register_model


@dataclass
class MMFreeConfig:
    """Every knob of the MatMul-free ViT."""

    img_size: int = 32
    in_chans: int = 3
    num_classes: int = 10
    patch_size: int = 4
    dim: int = 96
    depth: int = 4
    mlp_ratio: float = 2.0
    weight: str | int = "ternary-pot"
    pot_scales: bool = True  # power-of-two activation scales: float sums are exact, torch == QONNX
    act_bits: int = 8
    gate_bits: int = 4
    state_bits: int = 8
    residual_bits: int = 8
    input_bits: int = 8
    embed_weight: str | int = 8
    head_weight: str | int = 8
    dropout: float = 0.0


class QuantSigmoidGate(nn.Module):
    """q_out(sigmoid(q_in(x))): the sigmoid sees only grid values and its output lands on the fixed
    grid k / 2**bits. In hardware this is a small lookup (thresholds); in software it keeps
    torch and QONNX exact, because a float sigmoid of arbitrary inputs can land a few ulps either
    side of a rounding boundary depending on the library."""

    def __init__(self, in_bits: int, gate_bits: int, pot: bool = False):
        super().__init__()
        self.q_in = quant_act(in_bits, pot=pot)
        self.q_out = qnn.QuantIdentity(act_quant=unit_interval_act(gate_bits), return_quant_tensor=False)

    def forward(self, x):
        return self.q_out(torch.sigmoid(self.q_in(x)))


class BitLinear(nn.Module):
    """BitNet linear: static per-tensor k-bit input quantizer (learned scale), ternary weights, norm."""

    def __init__(self, in_f, out_f, cfg: MMFreeConfig):
        super().__init__()
        self.in_quant = InputQuant(in_f, cfg.act_bits, pot=cfg.pot_scales)
        self.fc = linear(in_f, out_f, cfg.weight, cfg.act_bits)
        self.norm = norm(out_f, "batch")

    def forward(self, x):
        return self.norm(self.fc(self.in_quant(x)))


class MLGRU(nn.Module):
    """MatMul-free linear GRU token mixer.

    f = gate(W_f x), c = q_c(W_c x), g = gate(W_g x) (gates: :class:`QuantSigmoidGate`);
    h_t = f_t h_(t-1) + (1 - f_t) c_t over tokens in raster order; out = W_o q(g * h).
    """

    def __init__(self, dim, cfg: MMFreeConfig):
        super().__init__()
        self.f_bits = cfg.gate_bits
        self.wf, self.wc, self.wg, self.wo = (BitLinear(dim, dim, cfg) for _ in range(4))
        self.f_gate = QuantSigmoidGate(cfg.act_bits, cfg.gate_bits, cfg.pot_scales)
        self.g_gate = QuantSigmoidGate(cfg.act_bits, cfg.gate_bits, cfg.pot_scales)
        self.c_quant = quant_act(cfg.state_bits, pot=cfg.pot_scales)

    def forward(self, x):
        f = self.f_gate(self.wf(x))
        c = self.c_quant(self.wc(x))
        g = self.g_gate(self.wg(x))
        scale = act_scale(self.c_quant)
        if exporting():
            h = MLGRUFn.apply(f, c, scale, self.f_bits)
        else:
            h = self._scan_ste(f, c, scale)
        return self.wo(g * h)

    def _scan_ste(self, f, c, scale):
        """Float recurrence for the gradient; forward value replaced by the integer scan."""
        state = torch.zeros_like(c[:, 0])
        outs = []
        for t in range(c.shape[1]):
            state = f[:, t] * state + (1 - f[:, t]) * c[:, t]
            state = state + (torch.round(state / scale) * scale - state).detach()
            outs.append(state)
        h = torch.stack(outs, dim=1)
        exact = mlgru_scan_torch(f, c, scale, self.f_bits)
        return h + (exact - h).detach()


class GLU(nn.Module):
    """Gated channel mixer: W_d q(gate(W_g x) * q_u(W_u x))."""

    def __init__(self, dim, hidden, cfg: MMFreeConfig):
        super().__init__()
        self.wg, self.wu = BitLinear(dim, hidden, cfg), BitLinear(dim, hidden, cfg)
        self.g_gate = QuantSigmoidGate(cfg.act_bits, cfg.gate_bits, cfg.pot_scales)
        self.u_quant = quant_act(cfg.act_bits, pot=cfg.pot_scales)
        self.wd = BitLinear(hidden, dim, cfg)

    def forward(self, x):
        return self.wd(self.g_gate(self.wg(x)) * self.u_quant(self.wu(x)))


class MMFreeBlock(nn.Module):
    """x + MLGRU(norm(x)), then x + GLU(norm(x)), with shared-quantizer residual adds."""

    def __init__(self, cfg: MMFreeConfig):
        super().__init__()
        self.norm1, self.mixer = norm(cfg.dim, "batch"), MLGRU(cfg.dim, cfg)
        self.norm2, self.glu = norm(cfg.dim, "batch"), GLU(cfg.dim, int(cfg.dim * cfg.mlp_ratio), cfg)
        self.add1, self.add2 = ResidualAdd(cfg.residual_bits, cfg.pot_scales), ResidualAdd(cfg.residual_bits, cfg.pot_scales)

    def forward(self, x):
        x = self.add1(x, self.mixer(self.norm1(x)))
        return self.add2(x, self.glu(self.norm2(x)))


class MMFreeViT(nn.Module):
    """Patch embedding, MatMul-free blocks, global average pooling head. [B, C, H, W] -> logits."""

    def __init__(self, cfg: MMFreeConfig):
        super().__init__()
        if cfg.img_size % cfg.patch_size:
            raise ValueError(f"img_size {cfg.img_size} is not a multiple of patch_size {cfg.patch_size}")
        self.cfg = cfg
        self.input_quant = quant_act(cfg.input_bits, pot=cfg.pot_scales)
        self.patch_embed = conv2d(cfg.in_chans, cfg.dim, cfg.patch_size, cfg.patch_size, cfg.embed_weight, cfg.input_bits)
        self.embed_norm = norm(cfg.dim, "batch")
        self.blocks = nn.ModuleList(MMFreeBlock(cfg) for _ in range(cfg.depth))
        self.head_norm = norm(cfg.dim, "batch")
        self.head_quant = quant_act(8, pot=cfg.pot_scales)
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = linear(cfg.dim, cfg.num_classes, cfg.head_weight, 8, bias=True)

    def forward(self, x):
        x = self.embed_norm(grid_to_tokens(self.patch_embed(self.input_quant(x))))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.head_quant(self.head_drop(self.head_norm(x.mean(dim=1)))))


@register_model(config=MMFreeConfig)
def mmfree_vit_tiny(**overrides):
    """MatMul-free ViT: ternary BitLinear, MLGRU token mixer, GLU channel mixer."""
    cfg = configured(MMFreeConfig(), overrides)
    with power_of_two_scales(cfg.pot_scales):
        model = MMFreeViT(cfg)
    model.config_overrides = dict(overrides)
    return model
