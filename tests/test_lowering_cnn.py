"""The exact lowering of quantized CNN parts that FINN's example networks use: max pooling (after binary and
integer activations, with padding and overlapping windows), convolutions with built-in padding, grouped
convolutions. Every node maps, and FINN's python execution of the result equals QONNX execution of the export
bit for bit; what cannot be exact is refused with its reason."""

import numpy as np
import pytest
import torch
from brevitas import nn as qnn
from brevitas.quant import (
    Int8ActPerTensorFixedPoint,
    Int8WeightPerTensorFixedPoint,
    SignedBinaryActPerTensorConst,
    SignedBinaryWeightPerTensorConst,
    Uint8ActPerTensorFixedPoint,
)
from finn.util.fpgadataflow import is_fpgadataflow_node
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from torch import nn

import build_flows  # noqa: F401  (registers the domain of our layers)
from build_flows.lowering import ComposeLayouts, lower_to_hw
from quant_models.export import to_qonnx


def _binary_act():
    return qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst)


class SmallCNN(nn.Module):
    """8-bit input -> binary conv -> BN -> binary act -> 2x2 max pool -> binary conv -> BN -> 2-bit ReLU ->
    padded grouped 2-bit conv -> BN -> 2-bit ReLU -> 3x3 stride-1 padded max pool -> linear."""

    def __init__(self, groups=2, pad_binary=False):
        super().__init__()
        binary = dict(weight_quant=SignedBinaryWeightPerTensorConst, bias=False)
        relu2 = dict(act_quant=Uint8ActPerTensorFixedPoint, bit_width=2)
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(3, 8, 3, padding=1 if pad_binary else 0, **binary)
        self.bn1 = nn.BatchNorm2d(8)
        self.act1 = _binary_act()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = qnn.QuantConv2d(8, 8, 3, padding=1 if pad_binary else 0, **binary)
        self.bn2 = nn.BatchNorm2d(8)
        self.act2 = qnn.QuantReLU(**relu2)
        self.conv3 = qnn.QuantConv2d(8, 8, 3, padding=1, groups=groups, bias=False,
                                     weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=2)
        self.bn3 = nn.BatchNorm2d(8)
        self.act3 = qnn.QuantReLU(**relu2)
        self.pool3 = nn.MaxPool2d(3, stride=1, padding=1)
        side = 6 if pad_binary else 3
        self.fc = qnn.QuantLinear(8 * side * side, 10, bias=False, weight_quant=Int8WeightPerTensorFixedPoint,
                                  weight_bit_width=4)

    def forward(self, x):
        x = self.pool1(self.act1(self.bn1(self.conv1(self.inp(x)))))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.act3(self.bn3(self.conv3(x)))
        return self.fc(torch.flatten(self.pool3(x), 1))


def _exported(model, path):
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(8, 3, 12, 12))
    to_qonnx(model, path, (1, 3, 12, 12))
    return ModelWrapper(str(path))


def _assert_bit_exact(src, hw, vectors=3, shape=(1, 3, 12, 12)):
    rng = np.random.default_rng(2)
    i, o = src.graph.input[0].name, src.graph.output[0].name
    for _ in range(vectors):
        x = rng.standard_normal(shape).astype(np.float32)
        ref = execute_onnx(src, {i: x})[o]
        got = execute_onnx(hw, {hw.graph.input[0].name: x})[hw.graph.output[0].name].reshape(ref.shape)
        assert np.array_equal(ref, got), f"max |diff| {np.abs(ref - got).max()}"


def test_max_pool_padded_and_grouped_conv_map_exactly(tmp_path):
    torch.manual_seed(0)
    src = _exported(SmallCNN(), tmp_path / "c.onnx")
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts())
    assert unmapped == []
    assert all(is_fpgadataflow_node(n) for n in hw.graph.node)
    ops = [n.op_type for n in hw.graph.node]
    assert ops.count("WindowMax") == 2 and ops.count("PadStream") == 2  # the conv's zeros, the pool's lowest codes
    _assert_bit_exact(src, hw)


def test_a_wrong_window_max_is_caught(tmp_path):
    """Companion: a WindowMax that keeps the last window position instead of the maximum changes outputs."""
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.layers.window_max import WindowMax

    torch.manual_seed(0)
    src = _exported(SmallCNN(), tmp_path / "c.onnx")
    hw, _ = lower_to_hw(src)

    def last_position(self, context, graph):
        *lead, c = self.get_normal_output_shape()
        x = context[self.onnx_node.input[0]].reshape(*lead, self.get_nodeattr("kernel_elems"), c)
        self._store(context, x[..., -1, :])

    node = next(n for n in hw.graph.node if n.op_type == "WindowMax")
    inst = getCustomOp(node)
    assert isinstance(inst, WindowMax)
    original = WindowMax.execute_node
    try:
        WindowMax.execute_node = last_position
        with pytest.raises(AssertionError, match="max"):
            _assert_bit_exact(src, hw)
    finally:
        WindowMax.execute_node = original


def test_zero_padding_of_a_binary_stream_is_refused_with_its_reason(tmp_path):
    """A bipolar stream has no zero code: the padded binary conv is listed with the reason and the fix."""
    torch.manual_seed(0)
    src = _exported(SmallCNN(pad_binary=True), tmp_path / "p.onnx")
    hw, unmapped = lower_to_hw(src)
    reasons = {u["op_type"]: u["reason"] for u in unmapped}
    assert next(iter(reasons)) == "Conv"  # the first refusal; the nodes after it have no hardware input
    assert "pad value 0.0 is not on the BIPOLAR stream's grid" in reasons["Conv"]


def test_raw_pixel_input_maps_to_integer_thresholds(tmp_path):
    """With the pixel pre-processing in front (``with_pixel_input``: x / 255, standardised) and the input
    annotated UINT8, the first quantizer takes the integers 0..255 (thresholds, or a fixed-point requantizer
    where one reproduces them), bit-exact on every pixel value: the input stream is 8 bits per value."""
    from qonnx.core.datatype import DataType
    from qonnx.custom_op.registry import getCustomOp

    from quant_models.export import with_pixel_input

    torch.manual_seed(0)
    src = with_pixel_input(_exported(SmallCNN(), tmp_path / "c.onnx"), (0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
    hw, unmapped = lower_to_hw(src)
    assert unmapped == []
    assert hw.get_tensor_datatype(hw.graph.input[0].name) == DataType["UINT8"]
    first = next(n for n in hw.graph.node if n.op_type != "StreamLayout")  # the quantizer (thresholds or requant)
    assert getCustomOp(first).get_nodeattr("inputDataType") == "UINT8"
    rng = np.random.default_rng(4)
    i, o = src.graph.input[0].name, src.graph.output[0].name
    x = rng.integers(0, 256, size=(3, 3, 12, 12)).astype(np.float32)
    x[0, :, :2] = 0
    x[0, :, 2:4] = 255  # both ends of the pixel range
    for v in x:
        ref = execute_onnx(src, {i: v[None]})[o]
        got = execute_onnx(hw, {hw.graph.input[0].name: v[None]})[hw.graph.output[0].name].reshape(ref.shape)
        assert np.array_equal(ref, got)


def test_the_input_reorder_goes_to_the_host(tmp_path):
    """A per-tensor input quantizer (equal thresholds for every channel) commutes with the NCHW -> NHWC reorder of
    the first convolution: the reorder moves in front, leads the graph and is the host driver's step, and the
    thresholds fold along the 3 channels of the NHWC stream (in hardware the reorder could not fold at all:
    3 and 12 have no common divisor but 1). Bit-exact with QONNX. Companion: thresholds that differ per row do not
    commute with a reorder and stay where they are."""
    from build_flows.lowering import ReorderInputFirst
    from build_flows.sim.accelerator import split_host_steps

    torch.manual_seed(0)
    src = _exported(SmallCNN(), tmp_path / "c.onnx")
    lowered, _ = lower_to_hw(src)
    lowered = lowered.transform(ComposeLayouts())
    assert [n.op_type for n in lowered.graph.node[:2]] == ["Thresholding", "StreamLayout"]  # as lowered
    hw = ModelWrapper(lowered.model.__deepcopy__()).transform(ReorderInputFirst())
    lead, core, _ = split_host_steps(hw)
    assert [n.op_type for n in lead] == ["StreamLayout"]
    thr = getCustomOp(core[0])
    assert core[0].op_type == "Thresholding" and thr.get_nodeattr("NumChannels") == 3
    assert hw.get_initializer(core[0].input[1]).shape[0] == 3
    _assert_bit_exact(src, hw)

    rows = lowered.get_initializer(lowered.graph.node[0].input[1]).copy()
    rows[1] += 0.5
    lowered.set_initializer(lowered.graph.node[0].input[1], rows)
    kept = lowered.transform(ReorderInputFirst())
    assert [n.op_type for n in kept.graph.node[:2]] == ["Thresholding", "StreamLayout"]


class TokenPicker(nn.Module):
    """Tokens [B, 5, 8] -> 4-bit quantizer -> the class token (index 0) plus the first of the other tokens
    (a slice, then a gather from it) -> linear."""

    def __init__(self):
        super().__init__()
        self.quant = qnn.QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=4)
        self.head = qnn.QuantLinear(8, 4, bias=False, weight_quant=Int8WeightPerTensorFixedPoint, weight_bit_width=4)

    def forward(self, x):
        x = self.quant(x)
        patches = x[:, 1:]
        return self.head(x[:, 0] + patches[:, 0])


def test_token_selection_maps_to_layouts_exactly(tmp_path):
    """Slice (tokens 1:) and Gather (token 0) become selecting StreamLayouts (fewer elements out than in)."""
    torch.manual_seed(0)
    model = TokenPicker()
    with torch.no_grad():
        model(torch.randn(8, 5, 8))
    to_qonnx(model, tmp_path / "t.onnx", (1, 5, 8))
    src = ModelWrapper(str(tmp_path / "t.onnx"))
    assert {"Slice", "Gather"} <= {n.op_type for n in src.graph.node}
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts())
    assert unmapped == []
    selections = [n for n in hw.graph.node if n.op_type == "StreamLayout"
                  and len(getCustomOp(n).get_nodeattr("gather")) < np.prod(getCustomOp(n).get_nodeattr("in_shape"))]
    assert len(selections) >= 2  # the class token, and the patch token (slice and gather may compose into one)
    rng = np.random.default_rng(6)
    i, o = src.graph.input[0].name, src.graph.output[0].name
    for _ in range(4):
        x = rng.standard_normal((1, 5, 8)).astype(np.float32)
        ref = execute_onnx(src, {i: x})[o]
        assert np.array_equal(ref, execute_onnx(hw, {hw.graph.input[0].name: x})[hw.graph.output[0].name].reshape(ref.shape))


def test_label_selection_after_finn_insert_topk(tmp_path):
    """qonnx's InsertTopK (FINN's flow runs it) puts a TopK (the label) at the end of TFC-W1A1: it maps to
    TopKLabels, a host step after the float output scale, and the labels equal QONNX's on random inputs."""
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.insert_topk import InsertTopK

    from build_flows.sim.accelerator import split_host_steps
    from quant_models.bnn_pynq import export_bnn_pynq

    src = ModelWrapper(str(export_bnn_pynq("tfc_1w1a", tmp_path / "t.onnx")))
    src = src.transform(InsertTopK(k=2)).transform(InferShapes())  # shapes, as the build's tidy_up step
    assert src.graph.node[-1].op_type == "TopK"
    hw, unmapped = lower_to_hw(src)
    assert unmapped == []
    _, _, trail = split_host_steps(hw)
    assert [n.op_type for n in trail] == ["ChannelFloat", "TopKLabels"]
    rng = np.random.default_rng(9)
    i, o = src.graph.input[0].name, src.graph.output[0].name
    for _ in range(4):
        x = rng.random((1, 1, 28, 28)).astype(np.float32)
        ref = execute_onnx(src, {i: x})[o]
        got = execute_onnx(hw, {hw.graph.input[0].name: x})[hw.graph.output[0].name]
        assert np.array_equal(ref.reshape(-1), got.reshape(-1))


def test_streams_joined_on_channels_and_tokens_map_exactly(tmp_path):
    """Concat of two quantized conv branches (channels of NCHW views: joined on the NHWC stream) and of two token
    streams: ConcatStreams layers, every node mapped, bit-exact with QONNX."""
    from mlp_models import export_branch_cnn

    src = ModelWrapper(export_branch_cnn(tmp_path / "b.onnx"))
    assert sum(n.op_type == "Concat" for n in src.graph.node) == 2
    hw, unmapped = lower_to_hw(src)
    hw = hw.transform(ComposeLayouts())
    assert unmapped == []
    joins = [getCustomOp(n) for n in hw.graph.node if n.op_type == "ConcatStreams"]
    assert sorted(j.get_nodeattr("axis") for j in joins) == [1, 3]  # tokens of [N, T, C]; channels of NHWC
    _assert_bit_exact(src, hw, vectors=4, shape=(1, 3, 4, 4))


def test_finn_streamlining_and_conversion_map_what_no_rule_does(tmp_path):
    """Nearest upsampling (ONNX Resize) has no rule of ours: FINN's streamlining makes it channels-last
    (MakeScaleResizeNHWC) and FINN's InferUpsample converts it to UpsampleNearestNeighbour, on the integer codes
    (the stream's scalar scale passes it); every node maps, bit-exact with QONNX, and the fallback is recorded."""
    from mlp_models import export_upsample_cnn

    src = ModelWrapper(export_upsample_cnn(tmp_path / "u.onnx"))
    finn_mapped = []
    hw, unmapped = lower_to_hw(src, finn_mapped)
    hw = hw.transform(ComposeLayouts())
    assert unmapped == []
    assert finn_mapped == [{"name": "Resize_0", "op_type": "Resize", "finn_layer": "UpsampleNearestNeighbour"}]
    assert "UpsampleNearestNeighbour" in {n.op_type for n in hw.graph.node}
    _assert_bit_exact(src, hw, vectors=4, shape=(1, 3, 4, 4))


def test_what_neither_maps_is_listed_with_both_reasons(tmp_path):
    """Companion: bilinear upsampling has no rule of ours and FINN refuses it too: it stays unmapped, with our
    reason and FINN's."""
    from mlp_models import export_upsample_cnn

    src = ModelWrapper(export_upsample_cnn(tmp_path / "b.onnx", mode="bilinear"))
    finn_mapped = []
    _, unmapped = lower_to_hw(src, finn_mapped)
    assert finn_mapped == []
    first = unmapped[0]
    assert (first["op_type"], first["reason"]) == ("Resize", "no hardware layer for Resize")
    assert "only supported for the mode nearest" in first["finn"]
