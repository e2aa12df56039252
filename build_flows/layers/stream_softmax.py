"""StreamSoftmax: the hardware layer of the integer softmax (the ``IntSoftmax`` node of the export)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, bram18_for, memory_cost, register_layer
from build_flows.rtl.stream_softmax.codegen import E_BITS, buffer_in_block, buffer_shapes, threshold_lanes
from quant_models.int_ops import SOFTMAX_FRAC_BITS, int_softmax_codes, softmax_exp_table


@register_layer
class StreamSoftmax(QvitLayer):
    """Integer softmax over the last axis (:func:`quant_models.int_ops.int_softmax_codes`): integer
    scores in, probability codes 0..2**out_bits-1 out. Hardware (StreamSoftmax_rtl): pass 1 stores a row
    and finds its maximum, pass 2 reads exp(-d*scale) from a lookup table, sums it and stores it, a threshold
    unit computes the row's 2**out_bits - 1 thresholds of the total once, and pass 3 gives each code by a
    binary search of e over them (no divider, no DSP); passes overlap across rows, so one row takes N/PE
    cycles."""

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

    def _buffers(self):
        """(BRAM18, LUT) of the score and e row buffers, where the RTL puts them (codegen.buffer_in_block)."""
        n, pe = self.get_normal_input_shape()[-1], self.get_nodeattr("PE")
        shapes = buffer_shapes(n, pe, self.get_input_datatype().bitwidth(), self.get_nodeattr("out_bits"))
        return [(bram18_for(d, w), 0) if buffer_in_block(d, w) else (0, memory_cost(d * w)[1]) for d, w in shapes]

    def bram_estimation(self, fpgapart=None):
        # a lane's table serves one lookup
        return sum(b for b, _ in self._buffers()) + self.get_nodeattr("PE") * memory_cost(
            self._lut_entries() * E_BITS)[0]

    def lut_estimation(self, fpgapart=None):
        n, pe = self.get_normal_input_shape()[-1], self.get_nodeattr("PE")
        out_bits = self.get_nodeattr("out_bits")
        zw = self.get_input_datatype().bitwidth() + 1
        dw = max(1, (self._lut_entries() - 1).bit_length())
        levels = 2**out_bits
        tw = (n * 2**SOFTMAX_FRAC_BITS).bit_length()
        pw = tw + out_bits + 1
        cw = E_BITS
        memories = sum(lut for _, lut in self._buffers()) + pe * memory_cost(
            self._lut_entries() * E_BITS)[1]
        # per lane: max tree node, table index (subtract, saturate), sum tree node, and the binary search: a
        # comparator per code bit and bit j's 2**j candidate thresholds multiplexed (about a LUT per bit for
        # each two candidates), the masking, the pipeline (yosys synth_xilinx, 64-wide rows at PE 4: 2031 LUT,
        # 16-wide at PE 1: 616; this gives 1972 and 670)
        search = out_bits * cw + cw * sum(2**j // 2 for j in range(1, out_bits))
        lane = 2 * zw + (zw + dw) + tw + search + 100
        # the threshold unit: an adder per threshold of a cycle, one per odd multiple of 2T above 1, one for the
        # next cycle's start; a saturating compare per threshold
        tu = threshold_lanes(n // pe, out_bits)
        thresholds = (tu + (tu - 1) // 2 + 1) * pw + (levels - 1) * 4
        return memories + pe * lane + thresholds + 120

    def dsp_estimation(self, fpgapart=None):
        return 0
