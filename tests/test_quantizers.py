import pytest
import torch
from brevitas import nn as qnn

from quant_models.layers import quant_act
from quant_models.quantizers import (
    BinaryWeightPerChannel,
    TernaryWeightAbsMean,
    int_act,
    uint_act,
    unit_interval_act,
    weight_quant,
)


def test_binary_per_channel_scale_is_mean_abs_and_weights_are_not_clipped():
    layer = qnn.QuantLinear(32, 8, bias=False, weight_quant=BinaryWeightPerChannel)
    before = layer.weight.detach().clone()
    for _ in range(3):
        wq = layer.quant_weight().value.detach()
    assert torch.equal(layer.weight.detach(), before)  # the parent's in-place clamp is disabled
    scale = before.abs().mean(dim=1, keepdim=True)
    assert torch.allclose(wq, torch.sign(before) * scale)


def test_ternary_absmean_levels():
    layer = qnn.QuantLinear(64, 16, bias=False, weight_quant=TernaryWeightAbsMean)
    w = layer.weight.detach()
    s = w.abs().mean()
    expected = torch.clamp(torch.round(w / s), -1, 1) * s
    assert torch.allclose(layer.quant_weight().value.detach(), expected)
    assert set(torch.unique(torch.round(expected / s)).tolist()) == {-1.0, 0.0, 1.0}


def test_unit_interval_grid():
    q = qnn.QuantIdentity(act_quant=unit_interval_act(3), return_quant_tensor=False)
    values = torch.unique(q(torch.linspace(-1, 2, 1000)))
    assert torch.equal(values, torch.arange(8) / 8.0)


def test_binary_activation_is_sign():
    q = quant_act(1)
    x = torch.tensor([-2.0, -0.1, 0.3, 5.0])
    assert q(x).tolist() == [-1.0, -1.0, 1.0, 1.0]


@pytest.mark.parametrize("bad", [lambda: uint_act(1), lambda: int_act(1), lambda: quant_act(1, signed=False),
                                 lambda: weight_quant("quaternary"), lambda: weight_quant(1)])
def test_unsupported_widths_are_refused(bad):
    with pytest.raises(ValueError):
        bad()
