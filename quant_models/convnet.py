"""Float convolutional teacher: a small CIFAR-style ResNet.

DeiT found that a convnet teacher distils better into a vision transformer than a transformer
teacher of the same accuracy (its inductive bias is passed on through the soft labels), and on CPU a
small ResNet reaches a higher accuracy per training minute than ``deit-tiny-fp``. It is float only:
a teacher for ``qvit train --teacher``, not a model to build into hardware.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from quant_models.layers import conv2d, linear
from quant_models.registry import configured, register_model


@dataclass
class ResNetConfig:
    """Every knob of the teacher ResNet: one stage per width, the first at the input resolution and
    each later one halving it."""

    img_size: int = 32
    in_chans: int = 3
    num_classes: int = 10
    widths: tuple = (16, 32, 64)
    blocks: tuple = (1, 1, 1)  # residual blocks per stage
    drop_path: float = 0.0  # stochastic depth over the residual branches (training presets set it)
    dropout: float = 0.0  # before the classifier

    def validate(self):
        if len(self.widths) != len(self.blocks):
            raise ValueError(f"widths {self.widths} and blocks {self.blocks} need one entry per stage")


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a shortcut (1x1 conv when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int, drop_path: float):
        super().__init__()
        self.body = nn.Sequential(conv2d(cin, cout, 3, stride, None, None, padding=1), nn.BatchNorm2d(cout),
                                  nn.ReLU(inplace=True), conv2d(cout, cout, 3, 1, None, None, padding=1),
                                  nn.BatchNorm2d(cout))
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout else
                         nn.Sequential(conv2d(cin, cout, 1, stride, None, None), nn.BatchNorm2d(cout)))
        self.drop_path = drop_path

    def forward(self, x):
        y = self.body(x)
        if self.training and self.drop_path > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop_path
            y = y * keep / (1 - self.drop_path)
        return torch.relu(y + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, cfg: ResNetConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.stem = nn.Sequential(conv2d(cfg.in_chans, cfg.widths[0], 3, 1, None, None, padding=1),
                                  nn.BatchNorm2d(cfg.widths[0]), nn.ReLU(inplace=True))
        layers, cin = [], cfg.widths[0]
        for s, (width, n) in enumerate(zip(cfg.widths, cfg.blocks)):
            for b in range(n):
                layers.append(BasicBlock(cin, width, 2 if s > 0 and b == 0 else 1, cfg.drop_path))
                cin = width
        self.stages = nn.Sequential(*layers)
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = linear(cin, cfg.num_classes, None, None, bias=True)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.head(self.head_drop(x.mean(dim=(2, 3))))


@register_model(config=ResNetConfig)
def resnet_tiny_fp(**overrides):
    """Float ResNet-8 teacher (3 stages of 16/32/64 channels, one residual block each)."""
    model = ResNet(configured(ResNetConfig(), overrides))
    model.config_overrides = dict(overrides)
    return model
