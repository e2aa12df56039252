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

    @staticmethod
    def unsupported(inst) -> str | None:
        """None when the RTL implements this StreamMLGRU node instance, else the reason it does not."""
        try:
            codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape())
        except codegen.RTLUnsupported as e:
            return str(e)
        return None

    def write_hdl(self, model, code_dir):
        codegen.write(codegen.params_from(self.get_nodeattr, self.get_normal_input_shape()), code_dir,
                      self.onnx_node.name)
