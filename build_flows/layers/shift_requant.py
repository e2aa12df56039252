"""ShiftRequant: requantisation by a power of two."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, register_layer


@register_layer
class ShiftRequant(QvitLayer):
    """Requantization by a power of two: ``code = clip(round_half_even(n * 2**shift + offset), qmin,
    qmax)`` per element (``offset`` per channel, a dyadic fraction). It replaces a threshold layer
    when the quantizer's input is an exact power-of-two rescaling of the integer stream (residual
    streams, pure rescales), at a few LUTs per lane instead of 2**bits thresholds per channel."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"shift": ("i", True, 0), "offset": ("floats", False, []), "qmin": ("i", True, 0),
                      "qmax": ("i", True, 0)})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape()).astype(np.float64)
        y = x * 2.0 ** self.get_nodeattr("shift")
        offset = self.get_nodeattr("offset")
        if offset:
            y = y + np.asarray(offset, dtype=np.float64)
        self._store(context, np.clip(np.round(y), self.get_nodeattr("qmin"), self.get_nodeattr("qmax")))

    def lut_estimation(self, fpgapart=None):
        bits = self.get_input_datatype().bitwidth()
        return self.get_nodeattr("PE") * (2 * bits + 4) + 10
