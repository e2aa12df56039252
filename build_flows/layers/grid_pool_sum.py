"""GridPoolSum: window sums over the token grid (the pooling branches)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, bram18_for, lutram_sdp, register_layer, synth_in_block


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

    def _segments(self) -> list[tuple[int, int]]:
        """(depth in beats, width in bits) of each RAM segment of the RTL's two delay lines: between the taps of a
        window row one token (C / PE beats), from a row's last tap to the next row's first the rest of the row;
        single-beat segments are registers and left out."""
        kh, kw = self.get_nodeattr("kernel")
        _, w = self.get_nodeattr("grid")
        pe = self.get_nodeattr("PE")
        nf = self.get_normal_input_shape()[-1] // pe
        width = pe * self.get_input_datatype().bitwidth()
        depths = [nf if t % kw else (w - kw + 1) * nf for t in range(1, kh * kw)]
        return [(d, width) for d in depths if d > 1] * 2

    def bram_estimation(self, fpgapart=None):
        return sum(bram18_for(*m) for m in self.block_memories())

    def lutram_model(self) -> int:
        return sum(lutram_sdp(*m) for m in self._segments() if not synth_in_block(*m))

    def block_memories(self) -> list[tuple[int, int]]:
        """The segments synthesis makes block RAM (the RTL leaves the choice to it)."""
        return [m for m in self._segments() if synth_in_block(*m)]

    def lut_estimation(self, fpgapart=None):
        kh, kw = self.get_nodeattr("kernel")
        return self.lutram_model() + (kh * kw - 1) * self.get_outstream_width() + 40
