"""Our hardware layers: python execution against the reference definitions, shapes, folding and estimates."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from qonnx.core.datatype import DataType
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.general.intquant import int_quant
from qonnx.custom_op.registry import getCustomOp
from qonnx.util.basic import qonnx_make_model

import build_flows  # noqa: F401  (registers the domain of our layers)
from build_flows.folding import set_folding
from build_flows.hw_ops import DOMAIN
from quant_models.int_ops import int_softmax_codes, mlgru_codes


def _layer(op, inputs: dict, oshape, **attrs):
    """A one-layer model; ``inputs`` maps names to arrays (the first is the graph input)."""
    names = list(inputs)
    node = helper.make_node(op, names, ["y"], domain=DOMAIN, backend="fpgadataflow", name=op, **attrs)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, inputs[n].shape) for n in names],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, oshape)])
    model = ModelWrapper(qonnx_make_model(graph))
    return model, {n: v.astype(np.float32) for n, v in inputs.items()}


def _exec(model, ctx):
    return execute_onnx(model, ctx)["y"]


def test_int_softmax_layer_equals_the_definition():
    z = np.random.default_rng(0).integers(-128, 128, size=(1, 2, 6, 6))
    model, ctx = _layer("IntSoftmaxHW", {"z": z}, z.shape, in_shape=list(z.shape), out_shape=list(z.shape),
                        inputDataType="INT8", outputDataType="UINT4", scale=0.05, out_bits=4, PE=2)
    assert np.array_equal(_exec(model, ctx), int_softmax_codes(z, 0.05, 4))
    inst = getCustomOp(model.graph.node[0])
    assert inst.get_exp_cycles() == 2 * 6 * 6 // 2 and inst.get_folded_input_shape() == (1, 2, 6, 3, 2)
    assert inst.node_res_estimation()["LUT"] > 0 and inst.node_res_estimation()["DSP"] == 2


def test_mlgru_layer_equals_the_definition():
    rng = np.random.default_rng(1)
    f, c = rng.integers(0, 16, size=(1, 9, 4)), rng.integers(-128, 128, size=(1, 9, 4))
    model, ctx = _layer("MLGRUHW", {"f": f, "c": c}, c.shape, in_shape=list(c.shape), out_shape=list(c.shape),
                        inputDataType="UINT4", inputDataType1="INT8", outputDataType="INT8", f_bits=4)
    assert np.array_equal(_exec(model, ctx), mlgru_codes(f, c, 4))


def test_stream_matmul_and_grid_pool():
    rng = np.random.default_rng(2)
    a, b = rng.choice([-1, 1], size=(1, 2, 5, 8)), rng.choice([-1, 1], size=(1, 2, 8, 5))
    model, ctx = _layer("StreamMatMul", {"a": a, "b": b}, (1, 2, 5, 5), in_shape=[1, 2, 5, 8], in_shape1=[1, 2, 8, 5],
                        out_shape=[1, 2, 5, 5], inputDataType="BIPOLAR", inputDataType1="BIPOLAR", outputDataType="INT5",
                        SIMD=4, PE=5)
    assert np.array_equal(_exec(model, ctx), a @ b)
    inst = getCustomOp(model.graph.node[0])
    assert inst.binary() and inst.get_exp_cycles() == 2 * 5 * 8 * 5 // 20
    x = rng.integers(-8, 8, size=(1, 12, 3))  # a 3x4 token grid, 3 channels
    model, ctx = _layer("GridPoolSum", {"x": x}, x.shape, in_shape=[1, 12, 3], out_shape=[1, 12, 3], grid=[3, 4],
                        kernel=[1, 3], pads=[0, 1], inputDataType="INT4", outputDataType="INT6")
    g = np.pad(x.reshape(3, 4, 3), ((0, 0), (1, 1), (0, 0)))
    want = (g[:, :-2] + g[:, 1:-1] + g[:, 2:]).reshape(1, 12, 3)
    assert np.array_equal(_exec(model, ctx), want)


def test_shift_requant_equals_the_quantizer():
    n = np.arange(-600, 600).reshape(1, -1, 1)
    model, ctx = _layer("ShiftRequant", {"n": n}, n.shape, in_shape=list(n.shape), out_shape=list(n.shape), shift=-2,
                        qmin=-128, qmax=127, inputDataType="INT11", outputDataType="INT8")
    want = int_quant((n * 2.0**-5).astype(np.float32), np.float32(2**-3), np.float32(0), np.float32(8), True, False,
                     "ROUND") / 2**-3
    assert np.array_equal(_exec(model, ctx), want)


def test_folding_meets_the_target_with_the_least_parallelism():
    z = np.zeros((1, 4, 16, 16))
    model, _ = _layer("IntSoftmaxHW", {"z": z}, z.shape, in_shape=list(z.shape), out_shape=list(z.shape),
                      inputDataType="INT8", outputDataType="UINT4", scale=0.05, out_bits=4)
    assert set_folding(model, 300) == {}
    inst = getCustomOp(model.graph.node[0])
    assert inst.get_nodeattr("PE") == 4 and inst.get_exp_cycles() == 256  # PE=2 would need 512 cycles
    assert set_folding(model, 10) == {"IntSoftmaxHW": 64}  # fully unfolded, still short of the target
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
