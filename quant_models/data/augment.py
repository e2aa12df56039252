"""Batch augmentations written in torch (no torchvision), and AugReg-style presets.

All functions take and give float image batches [B, C, H, W] in [0, 1] (before normalisation) on
any device, and draw their randomness from the CPU ``generator`` passed in (a few numbers per image,
moved to the batch's device), so runs are reproducible and a run draws the same augmentations on
every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def random_crop(x, padding: int, g: torch.Generator):
    """Pad by ``padding`` (zeros) and crop back to the input size at a random offset per image."""
    if padding <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (padding,) * 4)
    dev = x.device
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=g).to(dev)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=g).to(dev)
    rows = (dy[:, None] + torch.arange(h, device=dev)[None]).view(b, 1, h, 1).expand(-1, x.shape[1], -1, w)
    cols = (dx[:, None] + torch.arange(w, device=dev)[None]).view(b, 1, 1, w).expand(-1, x.shape[1], h, -1)
    idx = torch.arange(b, device=dev)[:, None, None, None]
    ch = torch.arange(x.shape[1], device=dev)[None, :, None, None]
    return padded[idx, ch, rows, cols]


def random_flip(x, g: torch.Generator):
    """Horizontal flip of half the images."""
    flip = (torch.rand(x.shape[0], generator=g) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def _affine(x, theta):
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")


def _rand_ops(x, g, magnitude: float):
    """One RandAugment-style op per image, chosen at random, at strength ``magnitude`` in [0, 1]."""
    b = x.shape[0]
    op = torch.randint(0, 7, (b,), generator=g).to(x.device)
    sign = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0).to(x.device)
    m = magnitude * sign
    out = x.clone()
    # 0 brightness, 1 contrast, 2 rotate, 3 translate, 4 shear, 5 solarize, 6 posterize
    br = x + 0.4 * m[:, None, None, None]
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    ct = mean + (x - mean) * (1 + 0.6 * m[:, None, None, None])
    ang = m * math.radians(20)
    cos, sin = torch.cos(ang), torch.sin(ang)
    zeros = torch.zeros(b, device=x.device)
    rot = torch.stack([torch.stack([cos, -sin, zeros], 1), torch.stack([sin, cos, zeros], 1)], 1)
    ones = torch.ones(b, device=x.device)
    tr = torch.stack([torch.stack([ones, zeros, 0.3 * m], 1), torch.stack([zeros, ones, 0.3 * m.flip(0)], 1)], 1)
    sh = torch.stack([torch.stack([ones, 0.3 * m, zeros], 1), torch.stack([zeros, ones, zeros], 1)], 1)
    variants = [br, ct, _affine(x, rot), _affine(x, tr), _affine(x, sh),
                torch.where(x > 1 - 0.5 * magnitude, 1 - x, x),
                torch.floor(x * (2 ** max(1, round(8 - 4 * magnitude)) - 1)) / (2 ** max(1, round(8 - 4 * magnitude)) - 1)]
    for i, v in enumerate(variants):
        sel = op == i
        out[sel] = v[sel]
    return out.clamp(0, 1)


def mix(x, y_onehot, g: torch.Generator, mixup_alpha: float, cutmix_alpha: float):
    """Mixup or CutMix (one of them per batch, at random) on images and one-hot targets."""
    if mixup_alpha <= 0 and cutmix_alpha <= 0:
        return x, y_onehot
    perm = torch.randperm(x.shape[0], generator=g).to(x.device)
    use_cutmix = cutmix_alpha > 0 and (mixup_alpha <= 0 or torch.rand(1, generator=g).item() < 0.5)
    alpha = cutmix_alpha if use_cutmix else mixup_alpha
    lam = torch.distributions.Beta(alpha, alpha).sample().item() if alpha > 0 else 1.0
    if use_cutmix:
        h, w = x.shape[-2:]
        ch, cw = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
        cy, cx = torch.randint(0, h, (1,), generator=g).item(), torch.randint(0, w, (1,), generator=g).item()
        y0, y1, x0, x1 = max(cy - ch // 2, 0), min(cy + ch // 2, h), max(cx - cw // 2, 0), min(cx + cw // 2, w)
        x = x.clone()
        x[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    else:
        x = lam * x + (1 - lam) * x[perm]
    return x, lam * y_onehot + (1 - lam) * y_onehot[perm]


@dataclass(frozen=True)
class Preset:
    """An AugReg-style recipe: augmentation strength plus regularisation of the model."""

    crop_padding: int = 0
    flip: bool = False
    randaug_magnitude: float = 0.0
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    dropout: float = 0.0
    drop_path: float = 0.0


PRESETS = {
    "none": Preset(),
    "light": Preset(crop_padding=2, flip=True),
    "medium": Preset(crop_padding=4, flip=True, randaug_magnitude=0.3, mixup_alpha=0.2, dropout=0.0, drop_path=0.05),
    "strong": Preset(crop_padding=4, flip=True, randaug_magnitude=0.5, mixup_alpha=0.8, cutmix_alpha=1.0,
                     dropout=0.1, drop_path=0.1),
}


def augment(x, preset: Preset, g: torch.Generator):
    """Geometric and photometric augmentation of a [B, C, H, W] batch in [0, 1] (no mixing)."""
    if preset.crop_padding:
        x = random_crop(x, preset.crop_padding, g)
    if preset.flip:
        x = random_flip(x, g)
    if preset.randaug_magnitude > 0:
        x = _rand_ops(x, g, preset.randaug_magnitude)
    return x
