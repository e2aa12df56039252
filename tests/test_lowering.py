"""The exact lowering to hardware layers: every node of the hardware-bound ViTs becomes a hardware
layer, FINN's python execution of the result equals QONNX execution of the export bit for bit, and
a wrong layer is caught."""

import copy

import numpy as np
import pytest
import torch
from finn.util.fpgadataflow import is_fpgadataflow_node
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

import build_flows  # noqa: F401  (registers the domain of our layers)
from build_flows.layers import QVIT_DOMAIN
from build_flows.lowering import ComposeLayouts, RequantOnOuterChannels, lower_to_hw
from build_flows.lowering.thresholds import NotMonotonicError, apply_steps, find_steps
from quant_models import create_model
from quant_models.export import to_qonnx

SMALL_HW = {
    "binaryvit-tiny-hw": dict(embed_dims=(16, 32), depths=(1, 1), num_heads=(1, 2)),
    "ternaryvit-tiny": dict(embed_dims=(16, 32), depths=(1, 1), num_heads=(1, 2)),
    "mmfree-vit-tiny": dict(dim=16, depth=2),
}
INPUTS = {"28x28x1": dict(img_size=28, in_chans=1), "32x32x3": dict(img_size=32, in_chans=3)}


def _exported(name, size, path, config=None):
    """A small model (``config``, default SMALL_HW's) with trained-looking statistics (a few train-mode
    passes), exported."""
    torch.manual_seed(0)
    model = create_model(name, **(config or SMALL_HW[name]), **INPUTS[size])
    shape = (4, INPUTS[size]["in_chans"], INPUTS[size]["img_size"], INPUTS[size]["img_size"])
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(shape))
    to_qonnx(model, path, (1, *shape[1:]))
    return ModelWrapper(str(path))


def _run(model, x):
    return execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]


def _assert_bit_exact(src, hw, vectors=3):
    rng = np.random.default_rng(1)
    shape = src.get_tensor_shape(src.graph.input[0].name)
    for _ in range(vectors):
        x = rng.standard_normal(shape).astype(np.float32)
        ref, got = _run(src, x), _run(hw, x)
        assert np.array_equal(ref, got.reshape(ref.shape)), f"max |diff| {np.abs(ref - got.reshape(ref.shape)).max()}"


@pytest.mark.parametrize("size", list(INPUTS))
@pytest.mark.parametrize("name", list(SMALL_HW))
def test_every_node_maps_and_python_execution_is_bit_exact(name, size, tmp_path):
    src = _exported(name, size, tmp_path / "m.onnx")
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts()).transform(RequantOnOuterChannels())
    assert unmapped == []
    assert all(is_fpgadataflow_node(n) for n in hw.graph.node)
    ops = {n.op_type for n in hw.graph.node}
    assert {"MVAU", "Thresholding"} <= ops
    assert ("StreamMLGRU" in ops) if name.startswith("mmfree") else ({"StreamSoftmax", "StreamMatMul"} <= ops)
    _assert_bit_exact(src, hw)


def test_a_wrong_threshold_is_caught(tmp_path):
    """Companion: moving one threshold of one layer by one step changes some output."""
    src = _exported("binaryvit-tiny-hw", "28x28x1", tmp_path / "m.onnx")
    hw, _ = lower_to_hw(src)
    node = next(n for n in hw.graph.node if n.op_type == "Thresholding" and getCustomOp(n).get_nodeattr("numSteps") > 1)
    t = hw.get_initializer(node.input[1]).copy()
    t[:, : t.shape[1] // 2] += 4  # the lower half of every channel's steps moves
    hw.set_initializer(node.input[1], t)
    with pytest.raises(AssertionError, match="max"):
        _assert_bit_exact(src, hw)


def test_unsupported_nodes_are_listed_with_reasons(tmp_path):
    torch.manual_seed(0)
    model = create_model("deit-tiny-fp", img_size=28, in_chans=1, embed_dims=(16,), depths=(1,), num_heads=(1,))
    to_qonnx(model, tmp_path / "d.onnx", (1, 1, 28, 28))
    hw, unmapped = lower_to_hw(ModelWrapper(str(tmp_path / "d.onnx")))
    reasons = {u["op_type"]: u["reason"] for u in unmapped}
    assert "LayerNormalization" in reasons and "use BatchNorm" in reasons["LayerNormalization"]
    assert "Softmax" in reasons and "integer softmax" in reasons["Softmax"]
    assert len(unmapped) == sum(not is_fpgadataflow_node(n) for n in hw.graph.node)
    _assert_bit_exact(ModelWrapper(str(tmp_path / "d.onnx")), hw, vectors=1)  # unmapped nodes still run


def test_layout_runs_collapse():
    """Reorders that cancel leave no layer; others merge into one."""
    src = _exported("binaryvit-tiny-hw", "28x28x1", "/tmp/qvit_test_layout.onnx")
    hw, _ = lower_to_hw(src)
    before = sum(n.op_type == "StreamLayout" for n in hw.graph.node)
    hw = hw.transform(ComposeLayouts())
    after = [n for n in hw.graph.node if n.op_type == "StreamLayout"]
    assert len(after) < before
    assert all(n.domain == QVIT_DOMAIN for n in after)
    for n in after:
        inst = getCustomOp(n)
        g = inst.get_nodeattr("gather")
        assert list(g) != list(range(len(g))) or inst.get_nodeattr("in_shape") != inst.get_nodeattr("out_shape")


TWO_HEADS = dict(embed_dims=(16, 32), depths=(1, 1), num_heads=(2, 2))  # per-head requantisers in stage 1


def _attention_requants(hw):
    return [n for n in hw.graph.node if n.op_type == "ChannelRequant" and getCustomOp(n).get_nodeattr("inner") > 1]


def _heads_apart(tmp_path):
    """The lowered graph of a two-head model whose per-head requantisers give each head its own scale (head k's
    multiplier times k + 1: a random model's heads share their constants, which would hide a wrong head order;
    a shift alone would not do, softmax ignores it), and the same graph with RequantOnOuterChannels applied."""
    src = _exported("binaryvit-tiny-hw", "28x28x1", tmp_path / "m.onnx", TWO_HEADS)
    hw, _ = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts())
    for n in hw.graph.node:
        before = hw.find_producer(n.input[0]) if n.op_type == "ChannelRequant" else None
        if before is not None and before.op_type == "StreamLayout":
            inst = getCustomOp(n)
            inst.set_nodeattr("mult", [m * (k + 1) for k, m in enumerate(inst.get_nodeattr("mult"))])
    return hw, copy.deepcopy(hw).transform(RequantOnOuterChannels())


def test_per_head_requantisers_work_on_the_head_major_stream(tmp_path):
    """The reorders around a per-head requantiser of the attention scores go: the requantiser reads the
    channel (head) as an outer axis, and the graph computes what it computed before, bit for bit."""
    ref, hw = _heads_apart(tmp_path)
    outer = _attention_requants(hw)
    assert outer, "no per-head requantiser took its channel as an outer axis"
    for n in outer:
        inst = getCustomOp(n)
        assert hw.find_producer(n.input[0]).op_type != "StreamLayout"
        assert inst.get_nodeattr("inner") * inst.channels() == int(np.prod(inst.get_normal_input_shape()[1:]))
    layouts = sum(n.op_type == "StreamLayout" for n in ref.graph.node)
    assert sum(n.op_type == "StreamLayout" for n in hw.graph.node) == layouts - 2 * len(outer)
    _assert_bit_exact(ref, hw)


def test_a_wrong_head_order_is_caught(tmp_path):
    """Companion: the requantiser with its heads' constants swapped differs from the graph before."""
    ref, hw = _heads_apart(tmp_path)
    inst = getCustomOp(_attention_requants(hw)[0])
    inst.set_nodeattr("mult", list(inst.get_nodeattr("mult"))[::-1])
    inst.set_nodeattr("add", list(inst.get_nodeattr("add"))[::-1])
    with pytest.raises(AssertionError, match="max"):
        _assert_bit_exact(ref, hw)


def test_thresholds_reproduce_a_float_chain_exactly():
    gamma = np.array([0.3, -0.7, 1.1], np.float32)
    scale = np.float32(2**-3)

    def code(x):
        return np.clip(np.round((x.astype(np.float32) * np.float32(0.01) * gamma + np.float32(0.05)) / scale), -8, 7)

    steps = find_steps(code, -1000, 1000, 3, -8, 7)
    x = np.arange(-1000, 1001)[:, None].repeat(3, 1)
    assert np.array_equal(apply_steps(steps, x), code(x))
    assert steps.falling.tolist() == [False, True, False]
    # float inputs: thresholds on the float32 lattice
    fsteps = find_steps(lambda v: np.clip(np.round(v.astype(np.float32) / np.float32(2**-7)), -128, 127),
                        None, None, 1, -128, 127)
    v = np.random.default_rng(0).standard_normal((5000, 1)).astype(np.float32)
    assert np.array_equal(apply_steps(fsteps, v), np.clip(np.round(v / np.float32(2**-7)), -128, 127))


def test_non_monotonic_function_is_refused():
    with pytest.raises(NotMonotonicError, match="not monotonic"):
        find_steps(lambda x: np.clip(np.round(np.sin(x / 50.0) * 3), -4, 3), -500, 500, 1, -4, 3)


def test_transformation_form_and_a_whole_build(tmp_path):
    from build_flows.build import build
    from build_flows.config import BuildConfig

    src = _exported("ternaryvit-tiny", "28x28x1", tmp_path / "t.onnx")
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts()).transform(RequantOnOuterChannels())
    assert unmapped == [] and all(is_fpgadataflow_node(n) for n in hw.graph.node)
    report = build(BuildConfig(model=str(tmp_path / "t.onnx"), out=str(tmp_path / "b"), target_fps=2000, until="estimates"),
                   log=lambda *_: None).to_dict()
    assert report["nodes_hw"] == report["nodes_total"] and report["verification"]["qonnx_vs_finn_python"]["bit_exact"]
    ops = {layer["op"] for layer in report["layers"]}
    assert report["estimated"]["fps"] >= 2000 and {"StreamSoftmax_rtl", "StreamMatMul_rtl"} <= ops


def test_shipped_checkpoint_lowers_completely_and_exactly(tmp_path):
    """Trained weights have negative BatchNorm scales (quantizers that count downwards): residual adds
    and attention take per-channel signs, and everything stays exact."""
    from quant_models import load_checkpoint
    from quant_models.checkpoint import CHECKPOINT_DIR

    model = load_checkpoint(CHECKPOINT_DIR / "binaryvit-tiny-hw_fashion-mnist.pt")
    to_qonnx(model, tmp_path / "s.onnx", (1, 1, 28, 28))
    src = ModelWrapper(str(tmp_path / "s.onnx"))
    hw, unmapped = lower_to_hw(src)
    assert unmapped == []
    signed = [n for n in hw.graph.node if n.op_type in ("AddStreams", "StreamMatMul")
              and any(a.name.startswith("signs") for a in n.attribute)]
    assert signed, "expected some channels counting downwards in a trained model"
    _assert_bit_exact(src, hw.transform(ComposeLayouts()), vectors=2)


@pytest.mark.parametrize("option", [dict(gap_head=False), dict(class_attention=1)])
def test_class_token_models_map_and_are_bit_exact(option, tmp_path):
    """The class token (a constant joined to the stream, moved behind the stream's quantizer, then
    ``InsertTokens``) and its selection (``Gather``/``Slice``: selecting StreamLayouts): every node maps."""
    torch.manual_seed(0)
    model = create_model("binaryvit-tiny-hw", **SMALL_HW["binaryvit-tiny-hw"], **INPUTS["28x28x1"], **option)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 1, 28, 28))
    to_qonnx(model, tmp_path / "m.onnx", (1, 1, 28, 28))
    src = ModelWrapper(str(tmp_path / "m.onnx"))
    assert "Concat" in {n.op_type for n in src.graph.node}
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts()).transform(RequantOnOuterChannels())
    assert unmapped == []
    assert "InsertTokens" in {n.op_type for n in hw.graph.node}
    _assert_bit_exact(src, hw)


def test_distillation_head_average_maps_with_host_float_sum(tmp_path):
    """The distillation token maps, and so does averaging the two heads' float outputs (different float scales,
    no common integer grid): both heads' integer streams leave the accelerator side by side (ConcatStreams),
    the host scales them (ChannelFloat) and adds them (SumParts); bit-exact with QONNX."""
    from build_flows.sim.accelerator import split_host_steps

    torch.manual_seed(0)
    model = create_model("binaryvit-tiny-hw", **SMALL_HW["binaryvit-tiny-hw"], **INPUTS["28x28x1"], distill_token=True)
    to_qonnx(model, tmp_path / "m.onnx", (1, 1, 28, 28))
    src = ModelWrapper(str(tmp_path / "m.onnx"))
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts()).transform(RequantOnOuterChannels())
    assert unmapped == []
    _, core, trail = split_host_steps(hw)
    assert [n.op_type for n in trail] == ["ChannelFloat", "SumParts", "ChannelFloat"]  # scales, sum, the / 2
    assert core[-1].op_type == "ConcatStreams"
    _assert_bit_exact(src, hw)


def test_a_float_sum_inside_the_graph_stays_unmapped(tmp_path):
    """Companion: the host may add float heads only at the graph's end; two differently scaled streams added
    inside the graph (a quantizer follows) are still listed, with the reason."""
    from brevitas import nn as qnn
    from brevitas.quant import Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint
    from torch import nn

    class TwoScales(nn.Module):
        def __init__(self):
            super().__init__()
            q = dict(weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4, bias=False)
            self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
            self.a, self.b, self.c = qnn.QuantLinear(8, 8, **q), qnn.QuantLinear(8, 8, **q), qnn.QuantLinear(8, 4, **q)
            self.act = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=4, return_quant_tensor=True)

        def forward(self, x):
            x = self.inp(x)
            return self.c(self.act(self.a(x) + self.b(x)))

    torch.manual_seed(0)
    model = TwoScales()
    with torch.no_grad():
        model.b.weight.mul_(16)  # another power-of-two weight scale
    to_qonnx(model, tmp_path / "s.onnx", (1, 8))
    _, unmapped = lower_to_hw(ModelWrapper(str(tmp_path / "s.onnx")))
    assert [(u["op_type"], u["reason"]) for u in unmapped][:1] == [
        ("Add", "add of two streams with different scales (give both one quantizer, as ResidualAdd does)")]
