"""GridPoolSum: window sums over the token grid (the pooling branches)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer


@register_layer
class GridPoolSum(QvitLayer):
    """Window sums over the token grid: tokens [N, H*W, C] viewed as [N, H, W, C], a ``kernel``
    (kh, kw) window at stride 1 with zero padding ``pads`` (ph, pw) on both sides; gives the sums
    [N, H*W, C] (an average pool before its division, which folds into the next thresholds).
    Hardware: two delay lines of kh-1 rows and kw-1 tokens (used image by image) and an adder tree per lane."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"grid": ("ints", True, []), "kernel": ("ints", True, []), "pads": ("ints", True, [])})
        return attrs

    def execute_node(self, context, graph):
        h, w = self.get_nodeattr("grid")
        kh, kw = self.get_nodeattr("kernel")
        ph, pw = self.get_nodeattr("pads")
        n, _, c = self.get_normal_input_shape()
        x = context[self.onnx_node.input[0]].reshape(n, h, w, c).astype(np.float64)
        xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
        oh, ow = h + 2 * ph - kh + 1, w + 2 * pw - kw + 1
        out = sum(xp[:, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw))
        self._store(context, out)

    def _line_bits(self):
        kh, _ = self.get_nodeattr("kernel")
        _, w = self.get_nodeattr("grid")
        c = self.get_normal_input_shape()[-1]
        # the RTL's two delay lines (image by image, so the padding's flush overlaps the next image), each
        # spanning the window: (kh-1) rows and kw-1 tokens
        kw = self.get_nodeattr("kernel")[1]
        return 2 * ((kh - 1) * w + kw - 1) * c * self.get_input_datatype().bitwidth()

    def bram_estimation(self, fpgapart=None):
        return memory_cost(self._line_bits())[0]

    def lut_estimation(self, fpgapart=None):
        kh, kw = self.get_nodeattr("kernel")
        return memory_cost(self._line_bits())[1] + (kh * kw - 1) * self.get_outstream_width() + 40
