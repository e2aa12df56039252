"""SumParts: the last axis cut into equal parts, summed in float32 (two heads' outputs averaged at the end)."""

from __future__ import annotations

from build_flows.driver.host_steps import sum_parts
from build_flows.layers.base import QvitLayer, register_layer


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

    def host_spec(self, model):
        return {"kind": "sum_parts", "parts": self.get_nodeattr("parts"), "channels": self.get_normal_output_shape()[-1]}

    def lut_estimation(self, fpgapart=None):
        return 0  # a host step
