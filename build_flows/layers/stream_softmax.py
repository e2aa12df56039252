"""StreamSoftmax: the hardware layer of the integer softmax (the ``IntSoftmax`` node of the export)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer
from quant_models.int_ops import int_softmax_codes


@register_layer
class StreamSoftmax(QvitLayer):
    """Integer softmax over the last axis (:func:`quant_models.int_ops.int_softmax_codes`): integer
    scores in, probability codes 0..2**out_bits-1 out. Hardware: a row buffer; pass 1 finds the
    row maximum, pass 2 reads exp(-d*scale) from a lookup table and sums, pass 3 divides (one
    DSP per lane); passes overlap across rows, so one row takes N/PE cycles."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"scale": ("f", True, 1.0), "out_bits": ("i", True, 4), "mask_diagonal": ("i", False, 0)})
        return attrs

    def execute_node(self, context, graph):
        z = np.round(context[self.onnx_node.input[0]]).astype(np.int64).reshape(self.get_normal_input_shape())
        codes = int_softmax_codes(z, self.get_nodeattr("scale"), self.get_nodeattr("out_bits"),
                                  bool(self.get_nodeattr("mask_diagonal")))
        self._store(context, codes)

    def _lut_entries(self):
        dt = self.get_input_datatype()
        return int(dt.max() - dt.min() + 1)

    def bram_estimation(self):
        n = self.get_normal_input_shape()[-1]
        row = 2 * n * self.get_input_datatype().bitwidth()
        table = self._lut_entries() * 17
        return memory_cost(row)[0] + memory_cost(table)[0]

    def lut_estimation(self):
        n = self.get_normal_input_shape()[-1]
        pe = self.get_nodeattr("PE")
        row = memory_cost(2 * n * self.get_input_datatype().bitwidth())[1]
        table = memory_cost(self._lut_entries() * 17)[1] * pe
        return row + table + pe * (3 * self.get_input_datatype().bitwidth() + 17 + 40) + 80

    def dsp_estimation(self, fpgapart=None):
        return self.get_nodeattr("PE")
