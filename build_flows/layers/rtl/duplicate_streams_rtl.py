"""DuplicateStreams_rtl: FINN's DuplicateStreams layer (a fork; FINN has it only in HLS) in RTL
(``rtl/duplicate_streams/qvit_duplicate_streams.sv``), one beat per cycle."""

from __future__ import annotations

from finn.custom_op.fpgadataflow.duplicatestreams import DuplicateStreams
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import FINN_HW_DOMAIN
from build_flows.layers.rtl import register_rtl_backend
from build_flows.layers.rtl.backend import QvitRTLBackend
from build_flows.rtl.duplicate_streams import codegen


@register_rtl_backend
class DuplicateStreams_rtl(QvitRTLBackend, DuplicateStreams, RTLBackend):  # noqa: N801 (FINN's naming)
    """DuplicateStreams in RTL; python execution is FINN's, ``rtlsim`` runs each output of the RTL."""

    implements, implements_domain = "DuplicateStreams", FINN_HW_DOMAIN
    SOURCES = (codegen.SOURCE,)

    @staticmethod
    def unsupported(inst) -> str | None:
        return None if inst.get_nodeattr("NumOutputStreams") >= 2 else "fewer than two outputs"

    def folding_knobs(self):
        return [("PE", self.get_nodeattr("NumChannels"))]

    def lut_estimation(self, fpgapart=None):
        return self.get_nodeattr("NumOutputStreams") + 2  # the data register is the output

    def write_hdl(self, model, code_dir):
        codegen.write(self.get_nodeattr("NumOutputStreams"), self.get_instream_width(0), code_dir, self.onnx_node.name)

    def rtlsim_view(self, port):
        path = codegen.write_port_view(self.get_nodeattr("NumOutputStreams"), self.get_instream_width(0), port,
                                       self.get_nodeattr("code_gen_dir_ipgen"), self.onnx_node.name)
        return path.stem, [*self.get_rtl_file_list(abspath=True), path]
