"""Every RTL backend on the layers of a real transformer: the shipped binaryvit-tiny-hw (Fashion-MNIST) is
lowered, the layers our backends implement are specialised to them, and the first and last layer of each
backend run alone in Verilator (``exec_mode`` rtlsim) on the tensors a real image produces there, equal
to the layers' python execution. (The whole ViT does not simulate yet: other layers have no RTL.)"""

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.core.onnx_exec import execute_onnx
from qonnx.custom_op.registry import getCustomOp

from build_flows.layers.rtl import BACKENDS, SpecializeToQvitRTL
from build_flows.lowering import lower_to_hw
from quant_models import load_checkpoint
from quant_models.checkpoint import CHECKPOINT_DIR
from quant_models.export import to_qonnx


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    """(specialised hardware graph, full execution context of one test-like input)."""
    tmp = tmp_path_factory.mktemp("vit")
    to_qonnx(load_checkpoint(CHECKPOINT_DIR / "binaryvit-tiny-hw_fashion-mnist.pt"), tmp / "v.onnx", (1, 1, 28, 28))
    hw, unmapped = lower_to_hw(ModelWrapper(str(tmp / "v.onnx")))
    assert unmapped == []
    hw = hw.transform(SpecializeToQvitRTL())
    x = np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32)
    return hw, execute_onnx(hw, {hw.graph.input[0].name: x}, return_full_exec_context=True), tmp


@pytest.mark.parametrize("backend", [b.__name__ for b in BACKENDS])
def test_backend_layers_of_a_vit_match_python_in_rtlsim(vit, backend, tmp_path):
    hw, ctx, _ = vit
    nodes = [n for n in hw.graph.node if n.op_type == backend]
    assert nodes, f"no {backend} layer in binaryvit-tiny-hw"
    for node in {nodes[0].name: nodes[0], nodes[-1].name: nodes[-1]}.values():
        inst = getCustomOp(node)
        inst.set_nodeattr("code_gen_dir_ipgen", str(tmp_path / node.name))
        inst.generate_hdl(hw, "xczu3eg-sfvc784-2-e", 5.0)
        inst.set_nodeattr("exec_mode", "rtlsim")
        run = {i: ctx[i] for i in node.input if i}
        run[node.output[0]] = np.zeros_like(ctx[node.output[0]])
        inst.execute_node(run, hw.graph)
        inst.set_nodeattr("exec_mode", "")
        assert np.array_equal(run[node.output[0]], ctx[node.output[0]]), f"{node.name}: rtlsim differs from python"
        assert inst.get_nodeattr("cycles_rtlsim") >= inst.get_exp_cycles()
