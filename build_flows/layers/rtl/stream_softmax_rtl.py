"""StreamSoftmax_rtl: the StreamSoftmax layer in RTL (``rtl/stream_softmax/qvit_stream_softmax.sv``): row
buffers and three overlapped passes (maximum, exp() table and sum, codes by L-1 comparisons with no
divider), one beat per cycle in steady state."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.stream_softmax import StreamSoftmax
from build_flows.rtl.stream_softmax import codegen


@register_rtl_backend
class StreamSoftmax_rtl(QvitRTLBackend, StreamSoftmax, RTLBackend):  # noqa: N801 (FINN's naming)
    """StreamSoftmax in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "StreamSoftmax", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the StreamSoftmax RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape())
