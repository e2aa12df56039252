"""ShiftRequant_rtl: the ShiftRequant layer in RTL (``rtl/shift_requant/qvit_shift_requant.sv``): a shift,
a per-channel offset, round half to even and a clip per lane, one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.layers.shift_requant import ShiftRequant
from build_flows.rtl.shift_requant import codegen


@register_rtl_backend
class ShiftRequant_rtl(QvitRTLBackend, ShiftRequant, RTLBackend):  # noqa: N801 (FINN's naming)
    """ShiftRequant in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "ShiftRequant", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the ShiftRequant RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr, inst.get_normal_input_shape()[-1])
