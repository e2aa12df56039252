"""StreamMLGRU: the hardware layer of the MLGRU token recurrence (the ``MLGRU`` node of the export)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import TwoInputLayer, memory_cost, register_layer
from quant_models.int_ops import mlgru_codes


@register_layer
class StreamMLGRU(TwoInputLayer):
    """MLGRU recurrence over tokens (:func:`quant_models.int_ops.mlgru_codes`): gate codes F
    (input 0) and candidate integers C (input 1), both [N, T, C]; gives H of C's type. Hardware:
    the state of C channels in distributed RAM, a multiply-add and a divide-by-constant per lane."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"f_bits": ("i", True, 4)})
        return attrs

    def execute_node(self, context, graph):
        f, c = (np.round(context[i]).astype(np.int64).reshape(self.get_normal_input_shape()) for i in self.onnx_node.input)
        self._store(context, mlgru_codes(f, c, self.get_nodeattr("f_bits")))

    def lut_estimation(self, fpgapart=None):
        c = self.get_normal_input_shape()[-1]
        cb = self.get_input_datatype(1).bitwidth()
        fb = self.get_nodeattr("f_bits")
        state = memory_cost(c * cb)[1]
        return state + self.get_nodeattr("PE") * (2 * fb * cb + 3 * (cb + fb)) + 30
