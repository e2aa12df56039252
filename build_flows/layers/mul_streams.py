"""MulStreams: integer product of two streams (gated units)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import TwoInputLayer, register_layer


@register_layer
class MulStreams(TwoInputLayer):
    """Integer product of two streams of one shape (gated units: GLU, output gates)."""

    def execute_node(self, context, graph):
        a, b = (context[i] for i in self.onnx_node.input)
        shape = self.get_normal_output_shape()
        self._store(context, a.reshape(shape).astype(np.float64) * b.reshape(shape))

    def dsp_estimation(self, fpgapart=None):
        return self.get_nodeattr("PE") if self.get_outstream_width() > 16 * self.get_nodeattr("PE") else 0

    def lut_estimation(self, fpgapart=None):
        bits = self.get_input_datatype(0).bitwidth() * self.get_input_datatype(1).bitwidth()
        return self.get_nodeattr("PE") * int(1.1 * bits) + 10
