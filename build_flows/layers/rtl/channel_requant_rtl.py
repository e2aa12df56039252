"""ChannelRequant_rtl: the ChannelRequant layer in RTL (``rtl/channel_requant/qvit_channel_requant.sv``): a
per-channel multiply-add, a floor shift and a clip per lane, one beat per cycle."""

from __future__ import annotations

import numpy as np
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN, bit_matrix, rom_logic_lut
from build_flows.layers.channel_requant import ChannelRequant
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.channel_requant import codegen


@register_rtl_backend
class ChannelRequant_rtl(QvitRTLBackend, ChannelRequant, RTLBackend):  # noqa: N801 (FINN's naming)
    """ChannelRequant in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "ChannelRequant", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the ChannelRequant RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.channels())

    def rom_logic(self) -> int:
        """The multiplier and addend tables as the RTL holds them: per lane, one word per channel group (one
        table for all lanes when the channel is an outer axis)."""
        try:
            p = self.rtl_params(self)
        except codegen.RTLUnsupported:
            return 0
        lanes = []
        for values, bits in ((p.mults, p.mult_bits), (p.adds, p.width)):
            table = np.asarray(values, dtype=object).reshape(-1, 1 if p.inner > 1 else p.pe)
            lanes += [bit_matrix([int(v) & ((1 << bits) - 1) for v in column], bits) for column in table.T]
        return rom_logic_lut(np.concatenate(lanes, axis=1))
