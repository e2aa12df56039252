"""StreamSoftmax: the hardware layer of the integer softmax (the ``IntSoftmax`` node of the export)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer
from quant_models.int_ops import SOFTMAX_FRAC_BITS, int_softmax_codes, softmax_exp_table


@register_layer
class StreamSoftmax(QvitLayer):
    """Integer softmax over the last axis (:func:`quant_models.int_ops.int_softmax_codes`): integer
    scores in, probability codes 0..2**out_bits-1 out. Hardware (StreamSoftmax_rtl): a ring of row
    buffers; pass 1 stores a row and finds its maximum, pass 2 reads exp(-d*scale) from a lookup table
    and sums, pass 3 reads the table again and gives each code by comparing e with 2**out_bits - 1
    thresholds of the row total (no divider, no DSP); passes overlap across rows, so one row takes
    N/PE cycles."""

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
        """Entries of the exp() table as built: d = 0..(max - min of the input), cut after the first 0."""
        dt = self.get_input_datatype()
        return len(softmax_exp_table(self.get_nodeattr("scale"), int(dt.max() - dt.min())))

    def _row_bits(self):
        """Bits of the row buffers: 3 rows in flight, one more while a row is short (N/PE < 2 beats)."""
        n, pe = self.get_normal_input_shape()[-1], self.get_nodeattr("PE")
        slots = 3 + -(-2 // max(1, n // pe))
        return slots * n * self.get_input_datatype().bitwidth()

    _TABLE_BITS = SOFTMAX_FRAC_BITS + 1  # e up to 2**16

    def bram_estimation(self, fpgapart=None):
        # the row buffers have two read ports (two copies); a block-RAM table serves a lane's two lookups
        return 2 * memory_cost(self._row_bits())[0] + self.get_nodeattr("PE") * memory_cost(
            self._lut_entries() * self._TABLE_BITS)[0]

    def lut_estimation(self, fpgapart=None):
        n, pe = self.get_normal_input_shape()[-1], self.get_nodeattr("PE")
        zw = self.get_input_datatype().bitwidth() + 1
        dw = max(1, (self._lut_entries() - 1).bit_length())
        levels = 2 ** self.get_nodeattr("out_bits")
        tw = (n * 2**SOFTMAX_FRAC_BITS).bit_length()
        pw = tw + self.get_nodeattr("out_bits") + 1
        cw = self._TABLE_BITS
        memories = 2 * memory_cost(self._row_bits())[1] + 2 * pe * memory_cost(self._lut_entries() * self._TABLE_BITS)[1]
        # per lane: max tree node, two table indices (subtract, saturate), sum tree node, L-1 comparators
        # of e with the thresholds (a LUT per bit into a carry chain), their count, pipeline and masking
        # (yosys synth_xilinx of 49-wide rows: 1272 LUTs at PE=1, 5194 at PE=7; this gives 1454 and 5000)
        lane = 2 * zw + 2 * (zw + dw) + tw + (levels - 1) * (cw + self.get_nodeattr("out_bits")) + 100
        # the row's L-1 thresholds: multiples of the total (one adder per odd multiple), one add each, saturation
        thresholds = (levels // 2 + levels) * pw + 3 * (levels - 1)
        return memories + pe * lane + thresholds + 120

    def dsp_estimation(self, fpgapart=None):
        return 0
