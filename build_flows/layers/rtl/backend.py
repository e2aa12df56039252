"""What every RTL backend of ours shares: FINN's ``RTLBackend`` code generation into ``code_gen_dir_ipgen``,
the file list, IP-integrator commands, FINN's port names, and the ``rtlsim`` execution mode (the layer alone
in Verilator through :mod:`build_flows.sim`). A backend says what is its own: ``SOURCES`` (the shared
SystemVerilog of its module) and ``write_hdl`` (the generated wrapper ``<node name>.sv`` and its memory files).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

from build_flows.layers.base import LayerFacts


class QvitRTLBackend(LayerFacts):
    """Base of our RTL backends. Combine it with the layer class and FINN's ``RTLBackend``, in this order,
    so that the layer's methods come before FINN's defaults: ``class X_rtl(QvitRTLBackend, X, RTLBackend)``."""

    #: the module's SystemVerilog files that every instance shares (before the generated wrapper)
    SOURCES: tuple[Path, ...] = ()

    def write_hdl(self, model, code_dir: Path) -> None:
        """Write the wrapper ``<node name>.sv`` (FINN's ports) and its memory files into ``code_dir``."""
        raise NotImplementedError

    def rtl_reason(self):
        return None

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update(RTLBackend.get_nodeattr_types(self))
        return attrs

    def generate_hdl(self, model, fpgapart, clk):
        """Write ``<node name>.sv`` and its memory files into ``code_gen_dir_ipgen`` (made if unset)."""
        code_dir = self.get_nodeattr("code_gen_dir_ipgen")
        if not code_dir:
            from finn.util.basic import make_build_dir

            code_dir = make_build_dir(f"code_gen_ipgen_{self.onnx_node.name}_")
            self.set_nodeattr("code_gen_dir_ipgen", code_dir)
        self.write_hdl(model, Path(code_dir))
        self.set_nodeattr("gen_top_module", self.onnx_node.name)
        self.set_nodeattr("ipgen_path", code_dir)
        self.set_nodeattr("ip_path", code_dir)

    def get_rtl_file_list(self, abspath=False):
        name = self.onnx_node.name
        if not abspath:
            return [s.name for s in self.SOURCES] + [f"{name}.sv"]
        return [*self.SOURCES, Path(self.get_nodeattr("code_gen_dir_ipgen")) / f"{name}.sv"]

    def code_generation_ipi(self):
        """Vivado IP-integrator commands (untested here: no Vivado)."""
        cmds = [f"add_files -norecurse {f}" for f in self.get_rtl_file_list(abspath=True)]
        cmds.append(f"create_bd_cell -type module -reference {self.get_nodeattr('gen_top_module')} {self.onnx_node.name}")
        return cmds

    def get_verilog_top_module_intf_names(self):
        intf = RTLBackend.get_verilog_top_module_intf_names(self)
        intf["s_axis"] = [("in0_V", self.get_instream_width_padded(0))]
        intf["m_axis"] = [("out0_V", self.get_outstream_width_padded(0))]
        return intf

    def rtlsim_side_streams(self, context) -> list:
        """The side inputs to feed in ``rtlsim`` mode, from the execution context (default: none)."""
        return []

    def execute_node(self, context, graph):
        """Python execution (the layer's own), or with ``exec_mode`` "rtlsim" the generated RTL in Verilator."""
        if self.get_nodeattr("exec_mode") != "rtlsim":
            return super().execute_node(context, graph)
        from build_flows.sim import stitch
        from build_flows.sim.run import simulate

        code_dir = self.get_nodeattr("code_gen_dir_ipgen")
        if not code_dir or not (Path(code_dir) / f"{self.onnx_node.name}.sv").exists():
            raise RuntimeError(f"{self.onnx_node.name}: no RTL generated; run generate_hdl (or the build's sim step) first")
        x = context[self.onnx_node.input[0]]
        files = [Path(f) for f in self.get_rtl_file_list(abspath=True)]
        stage = stitch.Stage(self.onnx_node.name, self.onnx_node.name, self.get_instream_width(0),
                             self.get_outstream_width(0), files, self.rtlsim_side_streams(context))
        n = x.shape[0]
        res = simulate([stage], x.reshape(n, -1), self.get_input_datatype(0), self.get_folded_input_shape(0)[-1],
                       self.get_output_datatype(), self.get_folded_output_shape()[-1],
                       int(np.prod(self.get_normal_output_shape()[1:])), Path(code_dir) / "sim",
                       max_cycles=1000 + 50 * n * int(self.get_exp_cycles()))  # a layer slower than its beats
        self.set_nodeattr("cycles_rtlsim", int(res.cycles_per_image))
        context[self.onnx_node.output[0]] = res.outputs.reshape(context[self.onnx_node.output[0]].shape)
