"""TopKLabels: the indices of the k largest outputs (label selection, ONNX ``TopK``, FINN's ``LabelSelect``)."""

from __future__ import annotations

from build_flows.driver.host_steps import top_k_indices
from build_flows.layers.base import QvitLayer, register_layer


@register_layer
class TopKLabels(QvitLayer):
    """[N, C] -> [N, K]: the labels of the K largest values. It ranks the network's float32 outputs (after the
    per-class float scale and bias), so it runs on the host at the graph's end, as FINN's driver would with a
    float output; the accelerator's boundary is before the float scale."""

    def get_nodeattr_types(self):
        return {"K": ("i", True, 1), **super().get_nodeattr_types()}

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape())
        self._store(context, top_k_indices(x, self.get_nodeattr("K")))

    def rtl_reason(self):
        return ("label selection over the float32 outputs (per-class float scales): runs on the host at the graph's "
                "end, not in RTL")

    def host_spec(self, model):
        return {"kind": "top_k", "k": self.get_nodeattr("K")}

    def lut_estimation(self, fpgapart=None):
        return 0  # a host step
