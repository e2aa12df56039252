"""ConcatStreams: two streams joined along one axis (channel concatenation, token concatenation)."""

from __future__ import annotations

import math

import numpy as np

from build_flows.layers.base import TwoInputLayer, register_layer


@register_layer
class ConcatStreams(TwoInputLayer):
    """``concatenate([a, b], axis)`` of two integer streams of shapes ``in_shape`` and ``in_shape1`` (equal except
    on ``axis``, not the batch axis). In stream order the output repeats blocks of ``a``'s elements from
    ``axis`` inward followed by ``b``'s, so the hardware is a counter that takes a run of beats from one input,
    then a run from the other, widening each to the output datatype."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"in_shape1": ("ints", True, []), "axis": ("i", True, 1)})
        return attrs

    def get_normal_input_shape(self, ind=0):
        return tuple(self.get_nodeattr("in_shape1" if ind == 1 else "in_shape"))

    def blocks(self) -> tuple[int, int]:
        """Elements of input 0 and of input 1 in each block of the output (from ``axis`` inward)."""
        axis = self.get_nodeattr("axis")
        return (int(np.prod(self.get_normal_input_shape(0)[axis:])), int(np.prod(self.get_normal_input_shape(1)[axis:])))

    def folding_knobs(self):
        return [("PE", math.gcd(self.get_normal_input_shape(0)[-1], self.get_normal_input_shape(1)[-1]))]

    def execute_node(self, context, graph):
        a, b = (context[i] for i in self.onnx_node.input)
        a = a.reshape(self.get_normal_input_shape(0))
        b = b.reshape(self.get_normal_input_shape(1))
        self._store(context, np.concatenate([a, b], axis=self.get_nodeattr("axis")))

    def lut_estimation(self, fpgapart=None):
        # per output bit a 2:1 multiplexer (one LUT), the output register's enable, the beat counter
        return self.get_outstream_width() + 2 * max(1, math.ceil(math.log2(max(self.blocks()) + 1))) + 8
