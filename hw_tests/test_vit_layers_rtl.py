"""Every RTL backend on the layers of real transformers: the shipped ViTs (Fashion-MNIST) are lowered as the
build does (forks get DuplicateStreams), the layers our backends implement are specialised to them, and the
first and last layer of each backend in the first model that has it run alone in Verilator (``exec_mode``
rtlsim) on the tensors a real test image produces there, equal to the layers' python execution."""

import numpy as np
import pytest
from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.general import SortGraph

from build_flows.layers.rtl import BACKENDS, SpecializeToQvitRTL
from build_flows.lowering import lower_to_hw
from quant_models import data, load_checkpoint
from quant_models.checkpoint import CHECKPOINT_DIR
from quant_models.export import to_qonnx
from quant_models.train import standardise, to_unit_float

MODELS = ("binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny")
#: backends that no shipped ViT uses, and the default-set test that simulates them inside a whole stitched design
ELSEWHERE = {"WindowMax_rtl": "hw_tests/test_finn_networks.py (CNV-W1A1's max pools)",
             "InsertTokens_rtl": "hw_tests/test_vit_sim.py::test_class_token_vit_simulates_bit_exactly",
             "ConcatStreams_rtl": "hw_tests/test_joined_streams.py and test_vit_sim.py (distill_token)",
             "UpsampleNearestNeighbour_rtl": "hw_tests/test_finn_fallback.py"}


@pytest.fixture(scope="module")
def vits(tmp_path_factory):
    """A function: model name -> (specialised hardware graph, full execution context of a real test image)."""
    import torch

    cache = {}
    test = data.load("fashion-mnist", "test").subset(slice(0, 1))
    x = standardise(to_unit_float(torch.tensor(test.images)), test.mean, test.std).numpy()

    def get(name):
        if name not in cache:
            tmp = tmp_path_factory.mktemp(name)
            to_qonnx(load_checkpoint(CHECKPOINT_DIR / f"{name}_fashion-mnist.pt"), tmp / "v.onnx", (1, 1, 28, 28))
            hw, unmapped = lower_to_hw(ModelWrapper(str(tmp / "v.onnx")))
            assert unmapped == []
            hw = hw.transform(InferDuplicateStreamsLayer()).transform(SortGraph()).transform(SpecializeToQvitRTL())
            cache[name] = hw, execute_onnx(hw, {hw.graph.input[0].name: x}, return_full_exec_context=True)
        return cache[name]
    return get


@pytest.mark.parametrize("backend", [b.__name__ for b in BACKENDS if b.__name__ not in ELSEWHERE])
def test_backend_layers_of_a_vit_match_python_in_rtlsim(vits, backend, tmp_path):
    for name in MODELS:
        hw, ctx = vits(name)
        nodes = [n for n in hw.graph.node if n.op_type == backend]
        if nodes:
            break
    assert nodes, f"no {backend} layer in any of {', '.join(MODELS)}"
    for node in {nodes[0].name: nodes[0], nodes[-1].name: nodes[-1]}.values():
        inst = getCustomOp(node)
        inst.set_nodeattr("code_gen_dir_ipgen", str(tmp_path / node.name))
        inst.generate_hdl(hw, "xczu3eg-sfvc784-2-e", 5.0)
        inst.set_nodeattr("exec_mode", "rtlsim")
        run = {i: ctx[i] for i in node.input if i}
        for out in node.output:
            run[out] = np.zeros_like(ctx[out])
        inst.execute_node(run, hw.graph)
        inst.set_nodeattr("exec_mode", "")
        for out in node.output:
            assert np.array_equal(run[out], ctx[out]), f"{node.name} of {name}: rtlsim differs from python"
        assert inst.get_nodeattr("cycles_rtlsim") >= inst.get_exp_cycles()
