"""TokenSum_rtl: the TokenSum layer in RTL (``rtl/token_sum/qvit_token_sum.sv``): one accumulator per channel,
one input beat per cycle, the sums leaving while the last token streams in."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.token_sum import TokenSum
from build_flows.rtl.token_sum import codegen


@register_rtl_backend
class TokenSum_rtl(QvitRTLBackend, TokenSum, RTLBackend):  # noqa: N801 (FINN's naming)
    """TokenSum in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "TokenSum", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the TokenSum RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape())
