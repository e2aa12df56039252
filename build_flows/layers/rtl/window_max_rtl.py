"""WindowMax_rtl: the WindowMax layer (max pooling) in RTL: ``rtl/token_sum/qvit_token_sum.sv`` keeping a
running maximum per channel over each window's positions, one input beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.window_max import WindowMax
from build_flows.rtl.token_sum import codegen


@register_rtl_backend
class WindowMax_rtl(QvitRTLBackend, WindowMax, RTLBackend):  # noqa: N801 (FINN's naming)
    """WindowMax in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "WindowMax", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.window_max_params(inst.get_nodeattr, inst.get_normal_input_shape(),
                                         inst.get_normal_output_shape())
