"""ConcatStreams_rtl: the ConcatStreams layer in RTL (``rtl/concat_streams/qvit_concat_streams.sv``): runs of
beats from each input in turn, one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.concat_streams import ConcatStreams
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.concat_streams import codegen


@register_rtl_backend
class ConcatStreams_rtl(QvitRTLBackend, ConcatStreams, RTLBackend):  # noqa: N801 (FINN's naming)
    """ConcatStreams in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "ConcatStreams", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape(0), inst.get_normal_input_shape(1))
