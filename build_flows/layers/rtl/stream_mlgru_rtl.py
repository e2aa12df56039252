"""StreamMLGRU_rtl: the StreamMLGRU layer in RTL (``rtl/stream_mlgru/qvit_stream_mlgru.sv``): the state of
every channel in distributed RAM, a multiply-add, round and shift per lane, one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.stream_mlgru import StreamMLGRU
from build_flows.rtl.stream_mlgru import codegen


@register_rtl_backend
class StreamMLGRU_rtl(QvitRTLBackend, StreamMLGRU, RTLBackend):  # noqa: N801 (FINN's naming)
    """StreamMLGRU in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "StreamMLGRU", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the StreamMLGRU RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape())
