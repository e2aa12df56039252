"""GridPoolSum_rtl: the GridPoolSum layer in RTL (``rtl/grid_pool_sum/qvit_grid_pool_sum.sv``): a delay line
of the token grid with a masked adder per window element and lane, two lines used image by image so that
the padding's flush overlaps the next image, one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import QVIT_DOMAIN
from build_flows.layers.grid_pool_sum import GridPoolSum
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.grid_pool_sum import codegen


@register_rtl_backend
class GridPoolSum_rtl(QvitRTLBackend, GridPoolSum, RTLBackend):  # noqa: N801 (FINN's naming)
    """GridPoolSum in RTL; python execution is the layer's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "GridPoolSum", QVIT_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the GridPoolSum RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr)
