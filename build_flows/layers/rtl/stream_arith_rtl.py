"""AddStreams_rtl and MulStreams_rtl: the element-wise layers of two streams in RTL
(``rtl/stream_arith/qvit_stream_arith.sv``), one beat of PE lanes per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.add_streams import AddStreams
from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.mul_streams import MulStreams
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.stream_arith import codegen


class _StreamArithRTL(QvitRTLBackend):
    """The shared part: parameters from the node, one module for both layers."""

    SOURCES = (codegen.SOURCE,)

    @classmethod
    def unsupported(cls, inst) -> str | None:
        """None when the RTL implements this node instance, else the reason it does not."""
        try:
            codegen.params_from(cls.implements, inst.get_nodeattr, inst.get_normal_input_shape()[-1])
        except codegen.RTLUnsupported as e:
            return str(e)
        return None

    def write_hdl(self, model, code_dir):
        const_b = model.get_initializer(self.onnx_node.input[1])
        codegen.write(codegen.params_from(self.implements, self.get_nodeattr, self.get_normal_input_shape()[-1],
                                          const_b), code_dir, self.onnx_node.name)


@register_rtl_backend
class AddStreams_rtl(_StreamArithRTL, AddStreams, RTLBackend):  # noqa: N801 (FINN's naming)
    """AddStreams in RTL (per-channel signs); python execution is the layer's, ``rtlsim`` runs the RTL."""

    implements, implements_domain = "AddStreams", QVIT_DOMAIN


@register_rtl_backend
class MulStreams_rtl(_StreamArithRTL, MulStreams, RTLBackend):  # noqa: N801 (FINN's naming)
    """MulStreams in RTL; python execution is the layer's, ``rtlsim`` runs the RTL."""

    implements, implements_domain = "MulStreams", QVIT_DOMAIN
