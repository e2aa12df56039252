"""StreamLayout_rtl: the StreamLayout layer in RTL (``rtl/stream_layout/qvit_stream_layout.sv``): a two-image
reorder buffer written in input order and read through a ROM of the gather, one beat per cycle each side
(a register stage when the gather keeps the order)."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.stream_layout import StreamLayout
from build_flows.rtl.stream_layout import codegen


@register_rtl_backend
class StreamLayout_rtl(QvitRTLBackend, StreamLayout, RTLBackend):  # noqa: N801 (FINN's naming)
    """StreamLayout in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "StreamLayout", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE, codegen.BUFFER)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the StreamLayout RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr)
