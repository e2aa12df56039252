"""PadStream: constant padding of a stream."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, register_layer


@register_layer
class PadStream(QvitLayer):
    """Constant padding by ``pads`` ((before, after) per axis, flattened) with ``value`` (the pad
    value on the stream's integer grid: +1 for binary streams). Hardware: a counter-driven multiplexer."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"pads": ("ints", True, []), "value": ("f", False, 0.0)})
        return attrs

    def execute_node(self, context, graph):
        p = self.get_nodeattr("pads")
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape())
        self._store(context, np.pad(x, [(p[2 * i], p[2 * i + 1]) for i in range(x.ndim)],
                                    constant_values=self.get_nodeattr("value")))

    def lut_estimation(self, fpgapart=None):
        return 30 + self.get_outstream_width()
