"""InsertTokens_rtl: the InsertTokens layer in RTL (``rtl/insert_tokens/qvit_insert_tokens.sv``): a counter over
the output beats choosing between the constant tokens' beats and the input stream, one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.insert_tokens import InsertTokens
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.insert_tokens import codegen


@register_rtl_backend
class InsertTokens_rtl(QvitRTLBackend, InsertTokens, RTLBackend):  # noqa: N801 (FINN's naming)
    """InsertTokens in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "InsertTokens", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape(), inst.get_normal_output_shape())
