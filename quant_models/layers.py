"""Quantized building blocks shared by every model family.

Every factory takes a bit specification and returns either a Brevitas layer or, when the
specification is ``None``, the float layer of the same role, so one model definition serves the
float teacher and its binary / ternary students. Each quantized layer records its operand widths
in ``qvit_bits = (weight_bits, input_bits)`` for :mod:`quant_models.complexity`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from brevitas import nn as qnn
from torch import nn

from quant_models.int_ops import IntSoftmaxFn, exporting, int_softmax_torch
from quant_models.quantizers import BinaryAct, int_act, uint_act, weight_bits, weight_quant

Bits = int | str | None  # activation bits (1 = binary sign); weights: 'binary' | 'ternary' | int


def quant_act(bits: int | None, signed: bool = True, pot: bool | None = None) -> nn.Module:
    """Activation quantizer: 1 -> sign {-1,+1}; k -> k-bit signed/unsigned with learned scale (a power
    of two with ``pot``; default: the ``power_of_two_scales`` setting); None -> identity."""
    if bits is None:
        return nn.Identity()
    if bits == 1:
        if not signed:
            raise ValueError("unsigned 1-bit activations export wrongly as BipolarQuant; use >= 2 bits")
        return qnn.QuantIdentity(act_quant=BinaryAct, return_quant_tensor=False)
    return qnn.QuantIdentity(act_quant=int_act(bits, pot) if signed else uint_act(bits, pot), return_quant_tensor=False)


def act_scale(act: nn.Module) -> torch.Tensor:
    """The current scale of a k-bit activation quantizer made by :func:`quant_act`."""
    return act.act_quant.scale().reshape(1)


class InputQuant(nn.Module):
    """Learnable per-channel shift followed by an activation quantizer (BinaryViT's move-then-sign).

    The shift is initialised to small non-zero values so that exact ties at the binarizer are rare
    from the start (torch and QONNX may round an exact 0 differently).
    """

    def __init__(self, channels: int, bits: int | None, signed: bool = True, channel_dim: int = -1,
                 pot: bool | None = None):
        super().__init__()
        self.bits = bits
        self.channel_dim = channel_dim
        self.shift = nn.Parameter(torch.empty(channels).uniform_(-0.05, 0.05)) if bits is not None else None
        self.quant = quant_act(bits, signed, pot)

    def forward(self, x):
        if self.shift is not None:
            shape = [1] * x.dim()
            shape[self.channel_dim] = -1
            x = x + self.shift.view(shape)
        return self.quant(x)


def linear(in_features: int, out_features: int, weight: Bits, in_bits: int | None, bias: bool = False) -> nn.Module:
    """Linear layer with quantized weights ('binary', 'ternary', k bits) or float (weight=None)."""
    if weight is None:
        layer = nn.Linear(in_features, out_features, bias=bias)
        layer.qvit_bits = (32, 32)
    else:
        layer = qnn.QuantLinear(in_features, out_features, bias=bias, weight_quant=weight_quant(weight))
        layer.qvit_bits = (weight_bits(weight), in_bits or 32)
    return layer


def conv2d(in_ch: int, out_ch: int, kernel: int, stride: int, weight: Bits, in_bits: int | None, padding: int = 0) -> nn.Module:
    """2-D convolution with quantized or float weights (no bias: a norm follows)."""
    if weight is None:
        layer = nn.Conv2d(in_ch, out_ch, kernel, stride, padding, bias=False)
        layer.qvit_bits = (32, 32)
    else:
        layer = qnn.QuantConv2d(in_ch, out_ch, kernel, stride, padding, bias=False, weight_quant=weight_quant(weight))
        layer.qvit_bits = (weight_bits(weight), in_bits or 32)
    return layer


class TokenNorm(nn.Module):
    """BatchNorm over the channel (last) axis of tokens [B, T, C].

    Training normalises with batch statistics; evaluation is a per-channel ``x * a + b`` (exported
    as Mul and Add, which FINN folds into the following thresholds, unlike LayerNorm).
    """

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.eps, self.momentum = eps, momentum

    def forward(self, x):
        if self.training:
            flat = x.reshape(-1, x.shape[-1])
            y = F.batch_norm(flat, self.running_mean, self.running_var, self.weight, self.bias, True, self.momentum, self.eps)
            return y.reshape(x.shape)
        a = self.weight / torch.sqrt(self.running_var + self.eps)
        return x * a + (self.bias - self.running_mean * a)


def norm(channels: int, kind: str) -> nn.Module:
    """'batch' -> TokenNorm (streamable); 'layer' -> LayerNorm (float teacher only)."""
    if kind == "batch":
        return TokenNorm(channels)
    if kind == "layer":
        return nn.LayerNorm(channels)
    raise ValueError(f"unknown norm {kind!r}: use 'batch' or 'layer'")


class Affine(nn.Module):
    """Per-channel ``alpha * x + beta`` (BinaryViT's affine before residual adds; CaiT's LayerScale
    when ``beta`` is off and ``alpha`` starts small)."""

    def __init__(self, channels: int, init: float = 1.0, bias: bool = True):
        super().__init__()
        self.alpha = nn.Parameter(torch.full((channels,), float(init)))
        self.beta = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, x):
        x = x * self.alpha
        return x + self.beta if self.beta is not None else x


class RPReLU(nn.Module):
    """ReActNet's RPReLU: PReLU(x - gamma) + zeta, per channel (paper BinaryViT, not streamable)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(channels))
        self.prelu = nn.PReLU(channels, init=0.25)
        self.zeta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        # nn.PReLU treats dim 1 as channels: move the token channels there and back.
        y = self.prelu((x - self.gamma).transpose(1, -1)).transpose(1, -1)
        return y + self.zeta


class ResidualAdd(nn.Module):
    """Sum of a residual stream and branches, all passing one shared quantizer so the adds are
    integer adds of equal scale. ``bits=None`` gives a plain float sum."""

    def __init__(self, bits: int | None, pot: bool | None = None):
        super().__init__()
        self.quant = quant_act(bits, pot=pot)

    def forward(self, x, *branches, x_quantized: bool = False):
        """``x_quantized``: x already passed this quantizer (it is not quantized twice)."""
        out = x if x_quantized else self.quant(x)
        for b in branches:
            out = out + self.quant(b)
        return out


class MatMul(nn.Module):
    """``a @ b`` between two activation tensors, with operand widths recorded for op counting."""

    def __init__(self, a_bits: int | None, b_bits: int | None):
        super().__init__()
        self.qvit_bits = (a_bits or 32, b_bits or 32)

    def forward(self, a, b):
        return a @ b


class QuantSoftmax(nn.Module):
    """Integer softmax (:func:`quant_models.int_ops.int_softmax`) on quantized scores.

    The scores pass a signed ``in_bits`` quantizer; the output is unsigned ``out_bits``.
    Forward values are the integer ones; the gradient is the float softmax's (straight-through).
    """

    def __init__(self, in_bits: int, out_bits: int, mask_diagonal: bool = False):
        super().__init__()
        self.score_quant = quant_act(in_bits)
        self.out_bits, self.mask_diagonal = out_bits, mask_diagonal

    def forward(self, scores):
        s = self.score_quant(scores)
        scale = act_scale(self.score_quant)
        if exporting():
            return IntSoftmaxFn.apply(s, scale, self.out_bits, self.mask_diagonal)
        if self.mask_diagonal:
            s_float = s.masked_fill(torch.eye(s.shape[-1], dtype=torch.bool, device=s.device), float("-inf"))
        else:
            s_float = s
        p = torch.softmax(s_float, dim=-1)
        q = int_softmax_torch(s, scale, self.out_bits, self.mask_diagonal)
        return p + (q - p).detach()


class FloatSoftmax(nn.Module):
    """Float softmax, optionally binarised to {0, c} with a learnable c (BinaryViT's binary attention).

    {0, c} is built from a signed binarizer as c * (sign(p / c - 1/2) + 1) / 2, because Brevitas
    exports unsigned 1-bit quantizers as {-s, +s}.
    """

    def __init__(self, binarize: bool, mask_diagonal: bool = False, init_c: float = 0.005):
        super().__init__()
        self.mask_diagonal = mask_diagonal
        self.c = nn.Parameter(torch.tensor(init_c)) if binarize else None
        self.sign = quant_act(1) if binarize else None

    def forward(self, scores):
        if self.mask_diagonal:
            n = scores.shape[-1]
            scores = scores - 1e4 * torch.eye(n, device=scores.device)
        p = torch.softmax(scores, dim=-1)
        if self.c is None:
            return p
        c = self.c.abs() + 1e-6
        return c * (self.sign(p / c - 0.5) + 1) * 0.5


def tokens_to_grid(x, grid):
    """[B, H*W, C] -> [B, C, H, W]."""
    b, _, c = x.shape
    return x.transpose(1, 2).reshape(b, c, grid[0], grid[1])


def grid_to_tokens(x):
    """[B, C, H, W] -> [B, H*W, C]."""
    return x.flatten(2).transpose(1, 2)


class PoolingBranches(nn.Module):
    """BinaryViT's multiple average-pooling branches: 1xk and kx1 average pools over the token
    grid, each scaled by its own zero-initialised per-channel LayerScale."""

    def __init__(self, channels: int, kernels=(3, 5)):
        super().__init__()
        shapes = [s for k in kernels for s in ((1, k), (k, 1))]
        self.pools = nn.ModuleList(
            nn.AvgPool2d(s, stride=1, padding=(s[0] // 2, s[1] // 2), count_include_pad=True) for s in shapes
        )
        self.scales = nn.ModuleList(Affine(channels, init=0.0, bias=False) for _ in shapes)

    def forward(self, patches, grid):
        g = tokens_to_grid(patches, grid)
        return [ls(grid_to_tokens(pool(g))) for pool, ls in zip(self.pools, self.scales)]


class PatchMerge(nn.Module):
    """Token downsampling by r x r: quantize, strided r x r convolution, norm. Odd grids are padded
    at the bottom/right. Used between pyramid stages and for spatially reduced keys/values."""

    def __init__(self, in_ch: int, out_ch: int, ratio: int, weight: Bits, act_bits: int | None, norm_kind: str):
        super().__init__()
        self.ratio = ratio
        self.quant = InputQuant(in_ch, act_bits, channel_dim=1)
        self.conv = conv2d(in_ch, out_ch, ratio, ratio, weight, act_bits)
        self.norm = norm(out_ch, norm_kind)

    def out_grid(self, grid):
        return tuple(-(-g // self.ratio) for g in grid)

    def forward(self, patches, grid):
        g = tokens_to_grid(patches, grid)
        ph, pw = (-grid[0]) % self.ratio, (-grid[1]) % self.ratio
        if ph or pw:
            g = F.pad(g, (0, pw, 0, ph))
        return self.norm(grid_to_tokens(self.conv(self.quant(g))))
