"""WindowMax: the maximum over each kernel window of a sliding-window stream (max pooling after FINN's
``ConvolutionInputGenerator``)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer


@register_layer
class WindowMax(QvitLayer):
    """Max over the window positions: [N, OH, OW, K*C] (FINN's sliding-window order: window position
    outer, channel inner) -> [N, OH, OW, C], per channel, on the integer codes (the lowering makes sure the
    codes' scales are positive, so the max of the codes is the max of the values). Hardware: one running
    maximum per channel, as TokenSum keeps one running sum (the same RTL)."""

    def get_nodeattr_types(self):
        return {"kernel_elems": ("i", True, 1), **super().get_nodeattr_types()}

    def execute_node(self, context, graph):
        *lead, c = self.get_normal_output_shape()
        k = self.get_nodeattr("kernel_elems")
        x = context[self.onnx_node.input[0]].reshape(*lead, k, c)
        self._store(context, x.max(axis=-2))

    def folding_knobs(self):
        return [("PE", self.get_normal_output_shape()[-1])]

    def get_exp_cycles(self):
        return int(np.prod(self.get_normal_input_shape())) // self.get_nodeattr("PE")

    def lut_estimation(self, fpgapart=None):
        c, bits = self.get_normal_output_shape()[-1], self.get_output_datatype().bitwidth()
        pe = self.get_nodeattr("PE")
        running = memory_cost(c * bits)[1]
        compare = pe * bits  # one comparator and one 2:1 select per lane bit
        return running + compare + self.get_outstream_width() + 20
