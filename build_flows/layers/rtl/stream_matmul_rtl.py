"""StreamMatMul_rtl: the StreamMatMul layer in RTL (``rtl/stream_matmul/qvit_stream_matmul.sv``): b of a slice
double-buffered on chip, rows of a past a PE x SIMD array (XNOR-popcount when both inputs are BIPOLAR)."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.stream_matmul import StreamMatMul
from build_flows.rtl.stream_matmul import codegen


@register_rtl_backend
class StreamMatMul_rtl(QvitRTLBackend, StreamMatMul, RTLBackend):  # noqa: N801 (FINN's naming)
    """StreamMatMul in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "StreamMatMul", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst) -> codegen.StreamMatMulParams:
        """The parameters of the StreamMatMul RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape(0), inst.get_normal_input_shape(1))
