"""UpsampleNearestNeighbour_rtl: FINN's nearest-neighbour upsampler (HLS only in FINN) in RTL
(``rtl/upsample/qvit_upsample.sv``): two row banks, one output beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend
from finn.custom_op.fpgadataflow.upsampler import UpsampleNearestNeighbour

from build_flows.layers.base import FINN_HW_DOMAIN, memory_cost
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.upsample import codegen


@register_rtl_backend
class UpsampleNearestNeighbour_rtl(QvitRTLBackend, UpsampleNearestNeighbour, RTLBackend):  # noqa: N801 (FINN's naming)
    """UpsampleNearestNeighbour in RTL; python execution is FINN's, ``rtlsim`` runs the generated RTL."""

    implements, implements_domain = "UpsampleNearestNeighbour", FINN_HW_DOMAIN
    SOURCES = (codegen.SOURCE,)
    CODEGEN = codegen

    @staticmethod
    def rtl_params(inst):
        """The parameters of the RTL for ``inst`` (RTLUnsupported: why not)."""
        return codegen.params_from(inst.get_nodeattr)

    def folding_knobs(self):
        return [("SIMD", self.get_nodeattr("NumChannels"))]

    def _banks(self) -> tuple[int, int]:
        return memory_cost(2 * self.get_nodeattr("WI") * self.get_nodeattr("NumChannels")
                           * self.get_input_datatype().bitwidth())

    def bram_estimation(self, fpgapart=None):
        return self._banks()[0]

    def lut_estimation(self, fpgapart=None):
        return self._banks()[1] + self.get_outstream_width() + 40  # banks, output register and its mux, counters

    def uram_estimation(self, fpgapart=None):
        return 0

    def dsp_estimation(self, fpgapart=None):
        return 0
