"""Vision Transformers: the BinaryViT family, ternary ViTs and the float DeiT-style teacher.

One definition, configured by :class:`ViTConfig`: quantization widths (``weight=None`` is the
float teacher), the BinaryViT features (each switchable for ablation), and options from the
literature (shifted patch tokens, locality self-attention, distillation token, class attention,
convolutional stem).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

from quant_models.attention import QuantAttention
from quant_models.layers import (
    Affine,
    InputQuant,
    PatchMerge,
    PoolingBranches,
    ResidualAdd,
    RPReLU,
    conv2d,
    grid_to_tokens,
    linear,
    norm,
    quant_act,
)
from quant_models.quantizers import power_of_two_scales
from quant_models.registry import configured, register_model


@dataclass
class ViTConfig:
    """Every knob of a ViT. Quantization: ``weight`` is 'binary' | 'ternary' | bits | None (float);
    activation widths are bits (1 = binary sign) or None (float)."""

    img_size: int = 32
    in_chans: int = 3
    num_classes: int = 10
    patch_size: int = 4
    embed_dims: tuple = (64, 128)
    depths: tuple = (2, 2)
    num_heads: tuple = (2, 4)
    sr_ratios: tuple = (1, 1)
    mlp_ratio: float = 2.0
    mlp_hidden: tuple = ()  # per-block MLP widths in block order (after pruning); empty: dim * mlp_ratio
    prune_gates: bool = False  # learnable per-dimension MLP gates for L1-sparsity pruning
    # quantization
    weight: str | int | None = "binary"
    act_bits: int | None = 1
    attn_bits: int | None = 1
    mlp_act_bits: int | None = 1
    score_bits: int = 8
    softmax_bits: int = 4
    residual_bits: int | None = 8
    input_bits: int | None = 8
    embed_weight: str | int | None = "binary"
    head_weight: str | int | None = 8
    head_bits: int | None = 8
    hw: bool = True
    pot_scales: bool = False  # power-of-two scales everywhere: QONNX float execution == integer hardware, bit for bit
    norm: str = "batch"
    # BinaryViT features
    gap_head: bool = True
    pool_branches: bool = True
    affine_residual: bool = True
    pyramid: bool = True
    rprelu: bool = False
    # options from the literature
    shifted_patches: bool = False
    locality_attention: bool = False
    distill_token: bool = False
    class_attention: int = 0
    conv_stem: bool = False
    # regularisation
    drop_path: float = 0.0
    dropout: float = 0.0
    extra: dict = field(default_factory=dict)

    def stages(self):
        """(dim, depth, heads, sr_ratio) per stage; one stage at the first width without the pyramid."""
        if not self.pyramid:
            return [(self.embed_dims[0], sum(self.depths), self.num_heads[0], 1)]
        return list(zip(self.embed_dims, self.depths, self.num_heads, self.sr_ratios))

    def validate(self):
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}")
        n = len(self.embed_dims)
        if not (len(self.depths) == len(self.num_heads) == len(self.sr_ratios) == n):
            raise ValueError("embed_dims, depths, num_heads and sr_ratios need one entry per stage")
        if self.weight is None and self.hw:
            raise ValueError("a float model (weight=None) cannot be hw=True")
        n_blocks = sum(s[1] for s in self.stages())
        if self.mlp_hidden and len(self.mlp_hidden) != n_blocks:
            raise ValueError(f"mlp_hidden needs one width per block ({n_blocks}), got {len(self.mlp_hidden)}")


class DropPath(nn.Module):
    """Stochastic depth: drops a whole residual branch per sample while training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p
        return x * keep / (1 - self.p)


class Mlp(nn.Module):
    """Channel MLP. Quantized: quantizer -> linear -> norm -> activation -> quantizer -> linear -> norm.
    The activation is GELU (float), RPReLU (paper BinaryViT) or, for ``hw``, nothing: the next
    quantizer is itself the threshold activation (unsigned k-bit, i.e. a quantized ReLU, for k >= 2)."""

    def __init__(self, dim, hidden, cfg: ViTConfig, gates: bool = False):
        super().__init__()
        quant = cfg.weight is not None
        self.gate = nn.Parameter(torch.ones(hidden)) if gates else None
        self.in_quant = InputQuant(dim, cfg.act_bits)
        self.fc1 = linear(dim, hidden, cfg.weight, cfg.act_bits, bias=not quant)
        self.norm1 = norm(hidden, cfg.norm) if quant else nn.Identity()
        if not quant:
            self.act = nn.GELU()
        elif cfg.rprelu:
            self.act = RPReLU(hidden)
        else:
            self.act = nn.Identity()
        bits = cfg.mlp_act_bits
        self.hidden_quant = InputQuant(hidden, bits, signed=bits is None or bits == 1)
        self.fc2 = linear(hidden, dim, cfg.weight, bits, bias=not quant)
        self.norm2 = norm(dim, cfg.norm) if quant else nn.Identity()

    def forward(self, x):
        h = self.act(self.norm1(self.fc1(self.in_quant(x))))
        if self.gate is not None:
            h = h * self.gate
        return self.norm2(self.fc2(self.hidden_quant(h)))


class Block(nn.Module):
    """Transformer block: x + affine(attn(norm(x))) [+ pooling branches], then x + affine(mlp(norm(x)))."""

    def __init__(self, dim, heads, sr_ratio, cfg: ViTConfig, drop_path=0.0, hidden=None):
        super().__init__()
        self.norm1 = norm(dim, cfg.norm)
        self.attn = QuantAttention(
            dim, heads, weight=cfg.weight, act_bits=cfg.act_bits, attn_bits=cfg.attn_bits,
            score_bits=cfg.score_bits, softmax_bits=cfg.softmax_bits, hw=cfg.hw, norm_kind=cfg.norm,
            sr_ratio=sr_ratio, locality=cfg.locality_attention,
        )
        self.affine1 = Affine(dim) if cfg.affine_residual else nn.Identity()
        self.pools = PoolingBranches(dim) if cfg.pool_branches else None
        self.add1 = ResidualAdd(cfg.residual_bits)
        self.hw = cfg.hw and cfg.residual_bits is not None
        self.norm2 = norm(dim, cfg.norm)
        self.mlp = Mlp(dim, hidden or int(dim * cfg.mlp_ratio), cfg, gates=cfg.prune_gates)
        self.affine2 = Affine(dim) if cfg.affine_residual else nn.Identity()
        self.add2 = ResidualAdd(cfg.residual_bits)
        self.drop_path = DropPath(drop_path)

    def forward(self, x, grid, n_extra=0):
        if self.hw:
            # Every branch reads the quantized stream, so each becomes an integer hardware layer.
            x = self.add1.quant(x)
        branches = [self.drop_path(self.affine1(self.attn(self.norm1(x), grid, n_extra)))]
        if self.pools is not None:
            pooled = self.pools(x[:, n_extra:], grid)
            if n_extra:
                pooled = [nn.functional.pad(p, (0, 0, n_extra, 0)) for p in pooled]
            branches += pooled
        x = self.add1(x, *branches, x_quantized=self.hw)
        return self.add2(x, self.drop_path(self.affine2(self.mlp(self.norm2(x)))))


class ClassAttentionBlock(nn.Module):
    """CaiT class-attention layer: only the class token queries; LayerScale on both branches."""

    def __init__(self, dim, heads, cfg: ViTConfig):
        super().__init__()
        self.norm1 = norm(dim, cfg.norm)
        self.attn = QuantAttention(
            dim, heads, weight=cfg.weight, act_bits=cfg.act_bits, attn_bits=cfg.attn_bits,
            score_bits=cfg.score_bits, softmax_bits=cfg.softmax_bits, hw=cfg.hw, norm_kind=cfg.norm,
        )
        self.ls1 = Affine(dim, init=0.1, bias=False)
        self.add1 = ResidualAdd(cfg.residual_bits)
        self.norm2 = norm(dim, cfg.norm)
        self.mlp = Mlp(dim, int(dim * cfg.mlp_ratio), cfg)
        self.ls2 = Affine(dim, init=0.1, bias=False)
        self.add2 = ResidualAdd(cfg.residual_bits)

    def forward(self, cls, x):
        u = self.norm1(torch.cat([cls, x], dim=1))
        cls = self.add1(cls, self.ls1(self.attn(u, n_query=1)))
        return self.add2(cls, self.ls2(self.mlp(self.norm2(cls))))


def shifted_patches(x, shift):
    """Shifted patch tokenization: the image and its four diagonal shifts by ``shift`` pixels,
    concatenated on channels (zero fill)."""
    h, w = x.shape[-2:]
    pad = nn.functional.pad(x, (shift, shift, shift, shift))
    views = [x]
    for dy, dx in ((0, 0), (0, 2), (2, 0), (2, 2)):
        views.append(pad[..., dy * shift: dy * shift + h, dx * shift: dx * shift + w])
    return torch.cat(views, dim=1)


class ConvStem(nn.Module):
    """Two 3x3 quantized convolutions (stride 1) with BatchNorm, before patch embedding."""

    def __init__(self, in_ch, out_ch, cfg: ViTConfig):
        super().__init__()
        w = 8 if cfg.weight is not None else None
        bits = 8 if cfg.weight is not None else None
        self.conv1 = conv2d(in_ch, out_ch, 3, 1, w, cfg.input_bits, padding=1)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.act1 = quant_act(bits, signed=False) if bits else nn.ReLU()
        self.conv2 = conv2d(out_ch, out_ch, 3, 1, w, bits, padding=1)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.act2 = quant_act(bits, signed=True) if bits else nn.Identity()

    def forward(self, x):
        x = self.act1(torch.relu(self.bn1(self.conv1(x))))
        return self.act2(self.bn2(self.conv2(x)))


class VisionTransformer(nn.Module):
    """Pyramid (or plain) ViT. Input [B, in_chans, img_size, img_size]; output logits [B, classes]
    (while training with a distillation token: a tuple (class logits, distillation logits))."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        quant = cfg.weight is not None
        self.input_quant = quant_act(cfg.input_bits) if quant else nn.Identity()
        in_ch = cfg.in_chans
        self.stem = None
        if cfg.conv_stem:
            self.stem = ConvStem(in_ch, 16, cfg)
            in_ch = 16
        if cfg.shifted_patches:
            in_ch *= 5
        stages = cfg.stages()
        dim0 = stages[0][0]
        stem_bits = 8 if (cfg.conv_stem and quant) else cfg.input_bits
        self.patch_embed = conv2d(in_ch, dim0, cfg.patch_size, cfg.patch_size,
                                  cfg.embed_weight if quant else None, stem_bits if quant else None)
        self.embed_norm = norm(dim0, cfg.norm)
        # hw: patch tokens and position embedding pass one shared quantizer and add as integers
        # (an add of a per-token constant cannot fold into per-channel thresholds).
        self.embed_add = ResidualAdd(cfg.residual_bits) if cfg.hw and quant and cfg.residual_bits else None
        grid = (cfg.img_size // cfg.patch_size,) * 2
        self.pos_embed = nn.Parameter(torch.randn(1, grid[0] * grid[1], dim0) * 0.02)
        self.n_extra = int(not cfg.gap_head and not cfg.class_attention) + int(cfg.distill_token)
        last = stages[-1][0]
        self.cls_token = nn.Parameter(torch.randn(1, 1, last) * 0.02) if (not cfg.gap_head or cfg.class_attention) else None
        self.dist_token = nn.Parameter(torch.randn(1, 1, last) * 0.02) if cfg.distill_token else None
        rates = torch.linspace(0, cfg.drop_path, sum(s[1] for s in stages)).tolist()
        self.merges, self.stages, self.grids = nn.ModuleList(), nn.ModuleList(), []
        prev, i = dim0, 0
        for s, (dim, depth, heads, sr) in enumerate(stages):
            if s > 0:
                merge = PatchMerge(prev, dim, 2, cfg.weight, cfg.act_bits if quant else None, cfg.norm)
                self.merges.append(merge)
                grid = merge.out_grid(grid)
            self.grids.append(grid)
            hidden = [cfg.mlp_hidden[i + j] if cfg.mlp_hidden else None for j in range(depth)]
            self.stages.append(nn.ModuleList(Block(dim, heads, sr, cfg, rates[i + j], hidden[j]) for j in range(depth)))
            prev, i = dim, i + depth
        self.class_blocks = nn.ModuleList(ClassAttentionBlock(last, stages[-1][2], cfg) for _ in range(cfg.class_attention))
        self.head_norm = norm(last, cfg.norm)
        self.head_quant = quant_act(cfg.head_bits) if quant else nn.Identity()
        self.head_drop = nn.Dropout(cfg.dropout)
        head_weight = cfg.head_weight if quant else None
        self.head = linear(last, cfg.num_classes, head_weight, cfg.head_bits, bias=True)
        self.head_dist = linear(last, cfg.num_classes, head_weight, cfg.head_bits, bias=True) if cfg.distill_token else None

    def _extra_tokens(self, x):
        tokens = []
        if self.cls_token is not None and not self.cfg.class_attention:
            tokens.append(self.cls_token.expand(x.shape[0], -1, -1))
        if self.dist_token is not None:
            tokens.append(self.dist_token.expand(x.shape[0], -1, -1))
        return torch.cat(tokens + [x], dim=1) if tokens else x

    def forward_features(self, x):
        """Tokens after the last block: [B, n_extra + patches, C]."""
        x = self.input_quant(x)
        if self.stem is not None:
            x = self.stem(x)
        if self.cfg.shifted_patches:
            x = shifted_patches(x, self.cfg.patch_size // 2)
        tokens = grid_to_tokens(self.patch_embed(x))
        if self.embed_add is not None:
            x = self.embed_add(self.embed_norm(tokens), self.pos_embed)
        else:
            x = self.embed_norm(tokens + self.pos_embed)
        last = len(self.stages) - 1
        n_extra = 0
        for s, blocks in enumerate(self.stages):
            if s > 0:
                x = self.merges[s - 1](x, self.grids[s - 1])
            if s == last:
                x = self._extra_tokens(x)
                n_extra = self.n_extra
            for blk in blocks:
                x = blk(x, self.grids[s], n_extra)
        return x

    def _logits(self, head, feat):
        return head(self.head_quant(self.head_drop(self.head_norm(feat))))

    def forward(self, x):
        x = self.forward_features(x)
        n = self.n_extra
        if self.cfg.class_attention:
            cls = self.cls_token.expand(x.shape[0], -1, -1)
            patches = x[:, n:]
            for blk in self.class_blocks:
                cls = blk(cls, patches)
            feat = cls[:, 0]
        elif self.cfg.gap_head:
            feat = x[:, n:].mean(dim=1)
        else:
            feat = x[:, 0]
        logits = self._logits(self.head, feat)
        if self.head_dist is None:
            return logits
        dist = self._logits(self.head_dist, x[:, n - 1])
        return (logits, dist) if self.training else (logits + dist) / 2


def _build(base: ViTConfig, overrides: dict) -> VisionTransformer:
    cfg = configured(base, overrides)
    with power_of_two_scales(cfg.pot_scales):
        model = VisionTransformer(cfg)
    model.config_overrides = dict(overrides)
    return model


# The paper's BinaryViT: float softmax binarised to {0, c}, RPReLU; not streamable as is.
BINARYVIT_TINY = ViTConfig(hw=False, rprelu=True)
# Hardware variant: integer softmax, threshold activations, BatchNorm only.
BINARYVIT_TINY_HW = ViTConfig(hw=True, pot_scales=True)
TERNARYVIT_TINY = ViTConfig(weight="ternary", act_bits=4, attn_bits=4, mlp_act_bits=4, embed_weight=8,
                            pool_branches=False, affine_residual=True, hw=True, pot_scales=True)
DEIT_TINY_FP = ViTConfig(weight=None, act_bits=None, attn_bits=None, mlp_act_bits=None, residual_bits=None,
                         input_bits=None, embed_weight=None, head_weight=None, head_bits=None, hw=False,
                         norm="layer", gap_head=False, pool_branches=False, affine_residual=False, pyramid=False,
                         embed_dims=(128,), depths=(4,), num_heads=(4,), sr_ratios=(1,))


@register_model(config=ViTConfig)
def binaryvit_tiny(**overrides):
    """BinaryViT as published (W1A1, GAP head, pooling branches, affine residuals, pyramid, binary attention)."""
    return _build(BINARYVIT_TINY, overrides)


@register_model(config=ViTConfig)
def binaryvit_star_tiny(**overrides):
    """BinaryViT* : BinaryViT with an 8-bit patch embedding."""
    return _build(dataclasses.replace(BINARYVIT_TINY, embed_weight=8), overrides)


@register_model(config=ViTConfig)
def binaryvit_tiny_hw(**overrides):
    """BinaryViT for FINN: integer softmax, threshold activations, BatchNorm folded into thresholds."""
    return _build(BINARYVIT_TINY_HW, overrides)


@register_model(config=ViTConfig)
def binaryvit_224(**overrides):
    """The paper's ImageNet configuration: widths 64/128/256/512, depths 3/4/8/4, keys/values reduced x8/x4/x2."""
    cfg = dataclasses.replace(BINARYVIT_TINY, img_size=224, num_classes=1000, embed_dims=(64, 128, 256, 512),
                              depths=(3, 4, 8, 4), num_heads=(1, 2, 4, 8), sr_ratios=(8, 4, 2, 1), mlp_ratio=4.0)
    return _build(cfg, overrides)


@register_model(config=ViTConfig)
def ternaryvit_tiny(**overrides):
    """BitNet-style ViT: absmean ternary weights, 4-bit activations and attention, integer softmax."""
    return _build(TERNARYVIT_TINY, overrides)


@register_model(config=ViTConfig)
def deit_tiny_fp(**overrides):
    """Full-precision DeiT-style teacher (class token, LayerNorm, GELU, float softmax)."""
    return _build(DEIT_TINY_FP, overrides)
