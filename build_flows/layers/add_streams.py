"""AddStreams: integer sum of two streams (residual adds, position embeddings from a ROM)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import TwoInputLayer, register_layer


@register_layer
class AddStreams(TwoInputLayer):
    """Integer sum of two streams of one shape (residual adds; both sides share one quantizer), with
    optional per-channel signs ``signs0``/``signs1`` (+1/-1: add or subtract per channel, for
    channels whose quantizer counts downwards)."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"signs0": ("ints", False, []), "signs1": ("ints", False, [])})
        return attrs

    def _signed(self, x, k):
        signs = self.get_nodeattr(f"signs{k}")
        x = x.reshape(self.get_normal_output_shape()).astype(np.float64)
        return x * np.asarray(signs, dtype=np.float64) if signs else x

    def execute_node(self, context, graph):
        a, b = (context[i] for i in self.onnx_node.input)
        self._store(context, self._signed(a, 0) + self._signed(b, 1))

    def lut_estimation(self, fpgapart=None):
        return self.get_outstream_width() + 10
