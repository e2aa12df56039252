"""Every registered hardware layer: python execution against its golden model (tests/layers/cases.py),
estimates and folding; then layer-specific folding and datatype checks."""

import numpy as np
import pytest
from cases import CASES
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

from build_flows.build.folding import set_folding
from build_flows.layers import QVIT_DOMAIN, LayerFacts, custom_op
from build_flows.layers.rtl import BACKENDS


def _layer(op, inputs: dict, oshape, **attrs):
    """A one-layer model; ``inputs`` maps names to arrays (the first is the graph input)."""
    names = list(inputs)
    node = helper.make_node(op, names, ["y"], domain=QVIT_DOMAIN, backend="fpgadataflow", name=op, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, inputs[n].shape) for n in names],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, oshape)])
    model = ModelWrapper(qonnx_make_model(graph))
    return model, {n: v.astype(np.float32) for n, v in inputs.items()}


def _exec(model, ctx):
    return execute_onnx(model, ctx)["y"]


@pytest.mark.parametrize("op", sorted(custom_op))
def test_every_registered_layer_equals_its_golden_model(op):
    assert op in CASES, f"layer {op} has no case in tests/layers/cases.py: add one (inputs, attributes, golden output)"
    inputs, attrs, want = CASES[op]()
    model, ctx = _layer(op, inputs, np.shape(want), **attrs)
    got = _exec(model, ctx)
    assert got.shape == np.shape(want)
    mismatches = np.argwhere(got != want)
    assert mismatches.size == 0, f"{len(mismatches)} outputs differ, first at {mismatches[:3].tolist()}"


@pytest.mark.parametrize("op", sorted(custom_op))
def test_every_registered_layer_has_estimates_and_folding(op):
    inputs, attrs, want = CASES[op]()
    model, _ = _layer(op, inputs, np.shape(want), **attrs)
    inst = getCustomOp(model.graph.node[0])
    res = inst.node_res_estimation("xczu3eg-sfvc784-2-e")
    # every layer has RTL, or is a float step the host does at the graph's end
    has_rtl = any(b.implements == op for b in BACKENDS)
    assert has_rtl or type(inst).host_spec is not LayerFacts.host_spec
    assert set(res) == {"LUT", "BRAM_18K", "URAM", "DSP"} and min(res.values()) >= 0
    assert res["LUT"] > 0 or not has_rtl  # a host-only layer may cost nothing on chip
    assert inst.get_exp_cycles() > 0 and inst.get_instream_width() > 0 and inst.get_outstream_width() > 0
    before = inst.get_exp_cycles()
    for attr, dim in inst.folding_knobs():  # full parallelism: legal shapes and no more cycles than folded
        assert attr in inst.get_nodeattr_types() and dim > 0
        inst.set_nodeattr(attr, int(dim))
    inst.get_folded_input_shape()
    inst.get_folded_output_shape()
    assert 0 < inst.get_exp_cycles() <= before


def test_a_wrong_golden_model_is_caught():
    """The comparison above fails when the golden model is off: residual add read as a plain sum."""
    inputs, attrs, _ = CASES["AddStreams"]()
    model, ctx = _layer("AddStreams", inputs, (1, 5, 4), **attrs)
    assert not np.array_equal(_exec(model, ctx), inputs["a"] + inputs["b"])


def test_folding_meets_the_target_with_the_least_parallelism():
    z = np.zeros((1, 4, 16, 16))
    model, _ = _layer("StreamSoftmax", {"z": z}, z.shape, in_shape=list(z.shape), out_shape=list(z.shape),
                      inputDataType="INT8", outputDataType="UINT4", scale=0.05, out_bits=4)
    assert set_folding(model, 300) == {}
    inst = getCustomOp(model.graph.node[0])
    assert inst.get_nodeattr("PE") == 4 and inst.get_exp_cycles() == 256  # PE=2 would need 512 cycles
    assert set_folding(model, 10) == {"StreamSoftmax": 64}  # fully unfolded, still short of the target
    with pytest.raises(ValueError, match="PE=3 does not divide"):
        inst.set_nodeattr("PE", 3)
        inst.get_folded_input_shape()


def test_layer_datatypes():
    z = np.zeros((1, 8))
    model, _ = _layer("TokenSum", {"z": np.zeros((1, 4, 8))}, (1, 8), in_shape=[1, 4, 8], out_shape=[1, 8],
                      inputDataType="INT8", outputDataType="INT10")
    inst = getCustomOp(model.graph.node[0])
    assert inst.get_input_datatype() == DataType["INT8"] and inst.get_output_datatype() == DataType["INT10"]
    assert inst.get_exp_cycles() == 32 and z.shape == (1, 8)
