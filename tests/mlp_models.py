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
