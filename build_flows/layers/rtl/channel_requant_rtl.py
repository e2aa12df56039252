"""ChannelRequant_rtl: the ChannelRequant layer in RTL (``rtl/channel_requant/qvit_channel_requant.sv``): a
per-channel multiply-add, a floor shift and a clip per lane, one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
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
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape()[-1])
