"""Small Brevitas models the build tests share (tests/ and hw_tests/): a binary MLP of the supported
layers and its QONNX export with non-trivial BatchNorm statistics."""

import torch
from brevitas import nn as qnn
from torch import nn

from quant_models.export import to_qonnx
from quant_models.quantizers import BinaryAct, BinaryWeightPerTensor


class BinaryMLP(nn.Module):
    """Binary MLP of the supported layers: sign -> binary linear -> BatchNorm -> sign -> ... -> linear."""

    def __init__(self, widths=(64, 64, 10), tail=None):
        super().__init__()
        layers = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(qnn.QuantIdentity(act_quant=BinaryAct, return_quant_tensor=True))
            layers.append(qnn.QuantLinear(a, b, bias=False, weight_quant=BinaryWeightPerTensor))
            if i < len(widths) - 2:
                layers.append(nn.BatchNorm1d(b))
        self.body = nn.Sequential(*layers)
        self.tail = tail or nn.Identity()

    def forward(self, x):
        return self.tail(self.body(x))


def export_mlp(path, **kw):
    torch.manual_seed(0)
    m = BinaryMLP(**kw).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm1d):
                mod.running_mean.uniform_(-3, 3)
                mod.bias.uniform_(-1, 1)
    to_qonnx(m, path, (1, kw.get("widths", (64,))[0]))
    return str(path)


class BranchCNN(nn.Module):
    """Two quantized streams joined: 8-bit input -> two 3x3 convolutions, each BatchNorm -> its own 2-bit ReLU
    (different scales) -> channel Concat -> 2-bit conv -> 2-bit ReLU; then the pixels as tokens [N, 16, 8] with two
    learned-looking tokens of a third stream (a linear map of the pooled input, quantized) joined on the token axis
    -> linear head."""

    def __init__(self):
        super().__init__()
        from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

        conv = dict(kernel_size=3, padding=1, bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=2)
        relu2 = dict(act_quant=Uint8ActPerTensorFixedPoint, bit_width=2)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.conv_a, self.conv_b = qnn.QuantConv2d(3, 4, **conv), qnn.QuantConv2d(3, 6, **conv)
        self.bn_a, self.bn_b = nn.BatchNorm2d(4), nn.BatchNorm2d(6)
        self.act_a, self.act_b = qnn.QuantReLU(**relu2), qnn.QuantReLU(**relu2)
        self.conv_c = qnn.QuantConv2d(10, 8, **conv)
        self.act_c = qnn.QuantReLU(**relu2)
        self.extra = qnn.QuantLinear(3 * 16, 2 * 8, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                                     weight_bit_width=2)
        self.act_x = qnn.QuantReLU(**relu2)
        self.head = qnn.QuantLinear(18 * 8, 10, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                                    weight_bit_width=4)

    def forward(self, x):
        q = self.inp(x)
        a = self.act_a(self.bn_a(self.conv_a(q)))
        b = self.act_b(self.bn_b(self.conv_b(q)))
        y = self.act_c(self.conv_c(torch.cat([a, b], dim=1)))       # [N, 8, 4, 4]
        tokens = y.flatten(2).transpose(1, 2)                          # [N, 16, 8]
        extra = self.act_x(self.extra(torch.flatten(q, 1))).reshape(-1, 2, 8)
        return self.head(torch.flatten(torch.cat([tokens, extra], dim=1), 1))


def _export_calibrated(make, path):
    """The model ``make()`` (seeded) after three training-mode batches of random [8, 3, 4, 4] inputs (activation
    scales and BatchNorm statistics set), exported for [1, 3, 4, 4]."""
    torch.manual_seed(0)
    m = make()
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(8, 3, 4, 4))
    m.eval()
    to_qonnx(m, path, (1, 3, 4, 4))
    return str(path)


def export_branch_cnn(path):
    """BranchCNN with calibrated activation scales and non-trivial BatchNorm statistics, exported for [1, 3, 4, 4]."""
    return _export_calibrated(BranchCNN, path)


class UpsampleCNN(nn.Module):
    """8-bit input -> 2-bit conv -> 2-bit ReLU -> nearest 2x upsampling (ONNX Resize: no rule of ours; FINN's
    streamlining makes it channels-last and converts it) -> 2-bit conv -> 2-bit ReLU -> linear."""

    def __init__(self, mode="nearest"):
        super().__init__()
        from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint

        conv = dict(kernel_size=3, padding=1, bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=2)
        relu2 = dict(act_quant=Uint8ActPerTensorFixedPoint, bit_width=2)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.conv1, self.act1 = qnn.QuantConv2d(3, 4, **conv), qnn.QuantReLU(**relu2)
        self.up = nn.Upsample(scale_factor=2, mode=mode)
        self.conv2, self.act2 = qnn.QuantConv2d(4, 4, **conv), qnn.QuantReLU(**relu2)
        self.head = qnn.QuantLinear(4 * 8 * 8, 10, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                                    weight_bit_width=4)

    def forward(self, x):
        x = self.act1(self.conv1(self.inp(x)))
        x = self.act2(self.conv2(self.up(x)))
        return self.head(torch.flatten(x, 1))


def export_upsample_cnn(path, mode="nearest"):
    """UpsampleCNN (``mode``: nn.Upsample's) with calibrated activation scales, exported for [1, 3, 4, 4]."""
    return _export_calibrated(lambda: UpsampleCNN(mode), path)


class SignCNN(nn.Module):
    """Binary CNN: per entry of ``channels``, sign -> binary 3x3 conv -> BatchNorm; then sign. Its output is a
    feature map (NCHW), so its last node is the reorder of the channels-last stream to NCHW (the host driver's)."""

    def __init__(self, channels=(21,)):
        super().__init__()
        layers, ch = [], 1
        for out in channels:
            layers += [qnn.QuantIdentity(act_quant=BinaryAct),
                       qnn.QuantConv2d(ch, out, 3, bias=False, weight_quant=BinaryWeightPerTensor), nn.BatchNorm2d(out)]
            ch = out
        self.body = nn.Sequential(*layers, qnn.QuantIdentity(act_quant=BinaryAct))

    def forward(self, x):
        return self.body(x)


def export_sign_cnn(path):
    """SignCNN (21 channels) with non-trivial BatchNorm statistics, exported for [1, 1, 12, 12]."""
    torch.manual_seed(0)
    m = SignCNN().eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-3, 3)
                mod.bias.uniform_(-1, 1)
    to_qonnx(m, path, (1, 1, 12, 12))
    return str(path)
