"""ChannelFloat: the network's last per-channel float operations (output scale and bias)."""

from __future__ import annotations

import numpy as np

from build_flows.driver.host_steps import apply_chain
from build_flows.layers.base import QvitLayer, register_layer


@register_layer
class ChannelFloat(QvitLayer):
    """The network's last elementwise float operations (output scale, bias) on an integer stream:
    input 1 holds one row of per-channel constants per operation, ``ops`` names them (Mul, Add,
    Div, Sub), applied in order in float32 exactly as the exported graph does. Hardware: float32
    multiply/add units (about 3 DSP each) per lane."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"ops": ("strings", True, [])})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].astype(np.float32).reshape(self.get_normal_input_shape())
        consts = context[self.onnx_node.input[1]].astype(np.float32)
        self._store(context, apply_chain(x, self.get_nodeattr("ops"), list(consts)))

    def rtl_reason(self):
        return ("float32 output scale and bias: runs on the host when it ends the graph (the accelerator's "
                "boundary is before it), not in RTL")

    def host_spec(self, model):
        """The float ops in numpy on the host: valid at the graph's end, where the accelerator hands over
        the integer stream (the same float32 operations as the python execution, so bit-exact)."""
        consts = model.get_initializer(self.onnx_node.input[1])
        if consts is None:  # constants computed in the graph: not a fixed host step
            return None
        return {"kind": "channel_float", "ops": list(self.get_nodeattr("ops")),
                "consts": list(np.asarray(consts, dtype=np.float32)), "shape": list(self.get_normal_input_shape()[1:])}

    def dsp_estimation(self, fpgapart=None):
        return 3 * len(self.get_nodeattr("ops")) * self.get_nodeattr("PE")

    def lut_estimation(self, fpgapart=None):
        return 150 * len(self.get_nodeattr("ops")) * self.get_nodeattr("PE")
