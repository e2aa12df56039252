"""StreamLayout: a fixed reorder of a tensor (any run of reshapes and transposes)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer


@register_layer
class StreamLayout(QvitLayer):
    """Reorder a tensor: ``y.flat = x.flat[gather]`` (heads split/merge, token/grid views, NCHW/NHWC).
    Hardware: a reorder buffer holding one tensor, written in input order and read in output order;
    PE elements per cycle."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"gather": ("ints", True, [])})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(-1)
        self._store(context, x[np.asarray(self.get_nodeattr("gather"), dtype=np.int64)])

    def host_reorder(self):
        return np.asarray(self.get_nodeattr("gather"), dtype=np.int64)

    def bram_estimation(self):
        return memory_cost(self.elements() * self.get_output_datatype().bitwidth())[0]

    def lut_estimation(self):
        buffer_luts = memory_cost(self.elements() * self.get_output_datatype().bitwidth())[1]
        return buffer_luts + 40 + 2 * self.get_outstream_width()
