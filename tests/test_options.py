"""Each BinaryViT feature and literature option changes the exported graph when on, and not when off."""

import warnings
from collections import Counter

import pytest
import torch
from brevitas.export import export_qonnx
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper

from quant_models import create_model

BASE = dict(embed_dims=(16, 32), depths=(1, 1), num_heads=(1, 2), gap_head=True, pool_branches=False,
            affine_residual=False, pyramid=True, attn_bits=1, embed_weight="binary", shifted_patches=False,
            locality_attention=False, distill_token=False, class_attention=0, conv_stem=False)
# option -> (value when on, value when off)
OPTIONS = {
    "gap_head": (True, False),
    "pool_branches": (True, False),
    "affine_residual": (True, False),
    "pyramid": (True, False),
    "attn_bits": (1, 4),  # binary attention vs 4-bit
    "embed_weight": (8, "binary"),  # BinaryViT*: 8-bit patch embedding
    "shifted_patches": (True, False),
    "locality_attention": (True, False),
    "distill_token": (True, False),
    "class_attention": (1, 0),
    "conv_stem": (True, False),
}


def signature(name, tmp_path, **cfg):
    """Multiset of (op type, attributes) of the raw exported graph."""
    model = create_model(name, **{**BASE, **cfg}).eval()
    path = tmp_path / f"{abs(hash(tuple(sorted(map(str, cfg.items())))))}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, args=torch.zeros(1, 3, 32, 32), export_path=str(path), dynamo=False)
    nodes = ModelWrapper(str(path)).graph.node
    return Counter((n.op_type, tuple(sorted((a.name, str(helper.get_attribute_value(a))) for a in n.attribute
                                            if a.name != "value"))) for n in nodes)


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("name", ["binaryvit-tiny-hw", "binaryvit-tiny"])
def test_option_changes_graph(name, option, tmp_path):
    on, off = OPTIONS[option]
    base = dict(BASE)
    if option == "locality_attention":
        base["sr_ratios"] = (1, 1)
    off_sig = signature(name, tmp_path, **{**base, option: off})
    assert signature(name, tmp_path, **{**base, option: on}) != off_sig
    # "off" is the baseline: switching the option off leaves the graph as it was
    assert off_sig == signature(name, tmp_path, **{k: v for k, v in base.items() if k != option}, **{option: off})


def test_marker_ops(tmp_path):
    sig = signature("binaryvit-tiny-hw", tmp_path, pool_branches=True)
    assert sum(v for (op, _), v in sig.items() if op == "AveragePool") == 4 * 2  # 4 branches x 2 blocks
    assert not any(op == "AveragePool" for op, _ in signature("binaryvit-tiny-hw", tmp_path))
    lsa = signature("binaryvit-tiny-hw", tmp_path, locality_attention=True)
    assert any(op == "IntSoftmax" and ("mask_diagonal", "1") in attrs for op, attrs in lsa)
