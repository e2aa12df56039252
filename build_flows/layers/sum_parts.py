"""SumParts: the last axis cut into equal parts, summed in float32 (two heads' outputs averaged at the end)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, register_layer


def sum_parts(x: np.ndarray, parts: int) -> np.ndarray:
    """``x`` [..., parts * C] -> [..., C]: part 0 + part 1 + ... in float32, left to right (as ONNX adds them)."""
    x = np.asarray(x, dtype=np.float32)
    cut = x.reshape(*x.shape[:-1], parts, x.shape[-1] // parts)
    total = cut[..., 0, :]
    for k in range(1, parts):
        total = total + cut[..., k, :]
    return total


@register_layer
class SumParts(QvitLayer):
    """[..., parts * C] -> [..., C] float32: the sum of the ``parts`` float outputs that the accelerator delivers
    side by side (a ``ConcatStreams`` of their integer streams, then their float scales in one ``ChannelFloat``).
    Heads with different float scales (a DeiT-style class and distillation head, averaged) have no common
    integer grid, so the sum is float arithmetic at the graph's end: a host step."""

    def get_nodeattr_types(self):
        return {"parts": ("i", False, 2), **super().get_nodeattr_types()}

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape())
        self._store(context, sum_parts(x, self.get_nodeattr("parts")))

    def rtl_reason(self):
        return "float32 sum of heads with different float scales: runs on the host at the graph's end, not in RTL"

    def host_step(self, model):
        parts, c = self.get_nodeattr("parts"), self.get_normal_output_shape()[-1]
        return lambda x: sum_parts(np.asarray(x).reshape(len(x), -1, parts * c), parts).reshape(len(x), -1)

    def lut_estimation(self, fpgapart=None):
        return 0  # a host step
