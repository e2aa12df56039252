"""TokenSum: the sum over tokens (global average pooling before its division)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer


@register_layer
class TokenSum(QvitLayer):
    """Sum over the token axis: [N, T, C] -> [N, C] (global average pooling before its division).
    Hardware: one accumulator per channel."""

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape()).astype(np.float64)
        self._store(context, x.sum(axis=1))

    def folding_knobs(self):
        return [("PE", self.get_normal_input_shape()[-1])]

    def get_exp_cycles(self):
        return int(np.prod(self.get_normal_input_shape())) // self.get_nodeattr("PE")

    def lut_estimation(self, fpgapart=None):
        c = self.get_normal_input_shape()[-1]
        acc = memory_cost(c * self.get_output_datatype().bitwidth())[1]
        return acc + self.get_outstream_width() + 20
