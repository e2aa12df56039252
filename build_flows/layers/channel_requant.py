"""ChannelRequant: a quantizer as a per-channel fixed-point multiply-add."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, memory_cost, register_layer


@register_layer
class ChannelRequant(QvitLayer):
    """A quantizer as a per-channel fixed-point affine map: ``out = qmin + clip(floor((mult_c * n +
    add_c) / 2**shift), 0, levels)``, fitted so that it equals the thresholds it replaces on every
    input value (:func:`build_flows.lowering.thresholds.fit_fixed_point`). Hardware: one multiply-add
    per lane (DSP) and the per-channel constants, instead of 2**bits - 1 thresholds per channel.

    The channel is the last axis (``inner`` 1), or an outer one: with ``inner`` > 1 the channel of the flat
    element e is ``(e // inner) % channels`` (per-head constants on a head-major stream, no reorder around it),
    and all PE lanes of a beat share one channel."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"mult": ("ints", True, []), "add": ("ints", True, []), "shift": ("i", True, 0),
                      "levels": ("i", True, 1), "qmin": ("i", True, 0), "inner": ("i", False, 1)})
        return attrs

    def channels(self) -> int:
        """The number of channels: the last axis, or the constants' count when the channel is an outer axis."""
        if self.get_nodeattr("inner") > 1:
            return len(self.get_nodeattr("mult"))
        return self.get_normal_input_shape()[-1]

    def folding_knobs(self):
        inner = self.get_nodeattr("inner")
        return [("PE", inner)] if inner > 1 else super().folding_knobs()

    def execute_node(self, context, graph):
        n = np.round(context[self.onnx_node.input[0]]).astype(np.int64)
        inner = self.get_nodeattr("inner")
        per_channel = (-1, len(self.get_nodeattr("mult")), inner) if inner > 1 else self.get_normal_input_shape()
        mult = np.asarray(self.get_nodeattr("mult"), dtype=np.int64)
        add = np.asarray(self.get_nodeattr("add"), dtype=np.int64)
        if inner > 1:
            mult, add = mult[:, None], add[:, None]
        count = np.clip((mult * n.reshape(per_channel) + add) >> self.get_nodeattr("shift"), 0,
                        self.get_nodeattr("levels"))
        self._store(context, (count + self.get_nodeattr("qmin")).reshape(self.get_normal_output_shape()))

    def _mult_bits(self):
        return max(int(abs(m)).bit_length() for m in self.get_nodeattr("mult")) + 1

    def dsp_estimation(self, fpgapart=None):
        per_lane = -(-self._mult_bits() // 18) * -(-self.get_input_datatype().bitwidth() // 27)
        return self.get_nodeattr("PE") * per_lane

    def lut_estimation(self, fpgapart=None):
        c = self.channels()
        params = memory_cost(c * (self._mult_bits() + self._mult_bits() + self.get_input_datatype().bitwidth()))[1]
        return params + self.get_nodeattr("PE") * (2 * self.get_output_datatype().bitwidth() + 30) + 20
