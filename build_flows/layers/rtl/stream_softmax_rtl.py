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

    @staticmethod
    def unsupported(inst) -> str | None:
        """None when the RTL implements this StreamSoftmax node instance, else the reason it does not."""
        try:
            codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape())
        except codegen.RTLUnsupported as e:
            return str(e)
        return None

    def write_hdl(self, model, code_dir):
        codegen.write(codegen.params_from(self.get_nodeattr, self.get_normal_input_shape()), code_dir,
                      self.onnx_node.name)
