"""Export to QONNX and the torch == QONNX verification, for every registered model."""

from collections import Counter

import numpy as np
import pytest
import torch
from qonnx.core.modelwrapper import ModelWrapper

from quant_models import create_model, list_models
from quant_models.export import LOGIT_TOLERANCE, ExportError, check_input, export_model, qonnx_forward
from tests.conftest import SMALL

HW_BOUND = ["binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny"]
# Op types a hardware-bound graph may contain: each maps to a FINN layer (or one of ours) after
# streamlining. Sigmoid is allowed only directly in front of a quantizer (monotone -> thresholds).
STREAMABLE = {"Quant", "BipolarQuant", "MatMul", "Gemm", "Conv", "Add", "Mul", "Sub", "Div", "Reshape", "Transpose",
              "AveragePool", "ReduceMean", "Pad", "Concat", "Slice", "Sigmoid", "IntSoftmax", "MLGRU"}


@pytest.mark.parametrize("name", list_models())
def test_export_matches_torch(name, tmp_path):
    model = create_model(name, **SMALL.get(name, {}))
    report = export_model(model, tmp_path / f"{name}.onnx", samples=2)
    assert report.ok and report.argmax_agree == 2 and report.max_abs_diff < LOGIT_TOLERANCE
    assert (tmp_path / f"{name}.onnx").exists() and report.nodes > 10


@pytest.mark.parametrize("name", HW_BOUND)
def test_hardware_bound_graphs_are_streamable(name, tmp_path):
    model = create_model(name)
    export_model(model, tmp_path / "m.onnx", samples=1)
    graph = ModelWrapper(str(tmp_path / "m.onnx"))
    types = Counter(n.op_type for n in graph.graph.node)
    print(name, dict(sorted(types.items())))
    assert not {"LayerNormalization", "Erf", "Softmax", "Gelu", "PRelu", "Sqrt", "Tanh"} & set(types)
    assert set(types) <= STREAMABLE, f"not streamable: {set(types) - STREAMABLE}"
    for node in graph.graph.node:
        if node.op_type == "Sigmoid":  # a lookup on a quantized input: quantizer on both sides
            consumers = graph.find_consumers(node.output[0])
            assert consumers and all(c.op_type == "Quant" for c in consumers)
            assert graph.find_producer(node.input[0]).op_type == "Quant"
    assert types["BipolarQuant" if name.startswith("binary") else "Quant"] > 0


def test_paper_model_keeps_its_float_ops(tmp_path):
    """The paper variant is not hardware-bound: its graph has the float softmax and PReLU."""
    export_model(create_model("binaryvit-tiny"), tmp_path / "p.onnx", samples=1)
    types = {n.op_type for n in ModelWrapper(str(tmp_path / "p.onnx")).graph.node}
    assert {"Softmax", "PRelu"} <= types


def test_verification_catches_a_model_that_differs(tmp_path, monkeypatch):
    model = create_model("binaryvit-tiny-hw", embed_dims=(16, 32), depths=(1, 1), num_heads=(1, 1))
    import quant_models.export as ex

    real = ex.qonnx_forward
    monkeypatch.setattr(ex, "qonnx_forward", lambda m, x: real(m, x) + np.float32(1e-3))
    with pytest.raises(ExportError, match="does not reproduce torch"):
        export_model(model, tmp_path / "m.onnx", samples=1)


def test_exported_file_runs_on_other_inputs(tmp_path):
    model = create_model("ternaryvit-tiny", img_size=28, in_chans=1, embed_dims=(16, 32), depths=(1, 1), num_heads=(1, 1))
    export_model(model, tmp_path / "t.onnx", samples=1)
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        ref = model.eval()(x).numpy()
    got = qonnx_forward(ModelWrapper(str(tmp_path / "t.onnx")), x.numpy())
    assert np.abs(ref - got).max() < LOGIT_TOLERANCE


def test_wrong_input_shape_is_explained():
    model = create_model("binaryvit-tiny-hw", img_size=28, in_chans=1)
    with pytest.raises(ValueError, match=r"expects \[N, 1, 28, 28\]"):
        check_input(model, torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="dtype"):
        check_input(model, torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


def _per_sample(qmodel, x):
    from qonnx.core.onnx_exec import execute_onnx

    i, o = qmodel.graph.input[0].name, qmodel.graph.output[0].name
    return np.concatenate([execute_onnx(qmodel, {i: x[k: k + 1]})[o] for k in range(len(x))])


def test_batched_qonnx_execution_equals_per_sample(tmp_path):
    """Re-batched execution (chunks of 3 here, so the last chunk is short) gives each sample's own output."""
    model = create_model("binaryvit-tiny-hw", img_size=28, in_chans=1, embed_dims=(16, 32), depths=(1, 1),
                         num_heads=(1, 1))
    export_model(model, tmp_path / "b.onnx", samples=1)
    qmodel = ModelWrapper(str(tmp_path / "b.onnx"))
    x = np.random.default_rng(3).standard_normal((7, 1, 28, 28)).astype(np.float32)
    got = qonnx_forward(qmodel, x, batch=3)
    assert got.shape == (7, 10)
    assert np.array_equal(got, _per_sample(qmodel, x))
    assert len({tuple(r) for r in got}) == 7  # distinct inputs, distinct logits: no sample's output reused


def test_graph_that_does_not_rebatch_runs_per_sample():
    """A Reshape that folds the batch into another axis cannot be re-batched by its first dimension:
    the check against single-sample execution sends it down the per-sample path, still correct."""
    from onnx import TensorProto, helper
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [2, 3])
    node = helper.make_node("Reshape", ["x", "s"], ["r"])
    scale = helper.make_tensor("w", TensorProto.FLOAT, [2, 3], list(np.arange(6, dtype=np.float32)))
    mul = helper.make_node("Mul", ["r", "w"], ["y"])
    graph = helper.make_graph([node, mul], "g", [x], [y], initializer=[shape, scale])
    qmodel = ModelWrapper(qonnx_make_model(graph)).transform(InferShapes())
    xs = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    got = qonnx_forward(qmodel, xs, batch=4)
    assert np.array_equal(got, _per_sample(qmodel, xs))
