"""PadStream_rtl: the PadStream layer in RTL (``rtl/pad_stream/qvit_pad_stream.sv``): counters over the output
positions driving a multiplexer between the input stream and the pad value, one output beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.pad_stream import PadStream
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.pad_stream import codegen


@register_rtl_backend
class PadStream_rtl(QvitRTLBackend, PadStream, RTLBackend):  # noqa: N801 (FINN's naming)
    """PadStream in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "PadStream", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the PadStream RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape(), inst.get_normal_output_shape())
