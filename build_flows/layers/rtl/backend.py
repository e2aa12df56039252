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
    #: the generator module (``rtl/<module>/codegen.py``) whose ``write(params, dir, module)`` the default
    #: ``write_hdl`` calls
    CODEGEN = None

    @classmethod
    def unsupported(cls, inst) -> str | None:
        """None when the RTL implements this node instance (``rtl_params`` accepts it), else the reason."""
        from build_flows.rtl import RTLUnsupported

        try:
            cls.rtl_params(inst)
        except RTLUnsupported as e:
            return str(e)
        return None

    @staticmethod
    def rtl_params(inst):
        """The RTL module's parameters for node instance ``inst``; RTLUnsupported when it cannot be built."""
        return None

    def write_hdl(self, model, code_dir: Path) -> None:
        """Write the wrapper ``<node name>.sv`` (FINN's ports) and its memory files into ``code_dir``: by default
        the ``CODEGEN`` module's ``write`` with this node's ``rtl_params``."""
        if self.CODEGEN is None:
            raise NotImplementedError(f"{type(self).__name__} names no CODEGEN and writes no HDL")
        self.CODEGEN.write(self.rtl_params(self), code_dir, self.onnx_node.name)

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
        """Vivado IP-integrator commands: the sources and the memory files (the RTL names them without a path;
        Vivado finds project files by name), then the module as a block-design cell."""
        code_dir = Path(self.get_nodeattr("code_gen_dir_ipgen"))
        cmds = [f"add_files -norecurse {f}" for f in self.get_rtl_file_list(abspath=True)]
        cmds += [f"add_files -norecurse {f}" for f in sorted(code_dir.glob("*.dat"))]
        cmds.append(f"create_bd_cell -type module -reference {self.get_nodeattr('gen_top_module')} {self.onnx_node.name}")
        return cmds

    def stream_ports(self, graph=None) -> tuple[int, int]:
        """(input streams, output streams) of the module: the inputs that are not initializers of ``graph``
        (without a graph: two for two-stream layers, else one); one output per ONNX output."""
        from build_flows.layers.base import TwoInputLayer

        if graph is not None:
            consts = {init.name for init in graph.initializer}
            n_in = len([t for t in self.onnx_node.input if t and t not in consts])
        else:
            n_in = 2 if isinstance(self, TwoInputLayer) else 1
        return n_in, len(self.onnx_node.output)

    def get_verilog_top_module_intf_names(self):
        intf = RTLBackend.get_verilog_top_module_intf_names(self)
        n_in, n_out = self.stream_ports()
        intf["s_axis"] = [(f"in{p}_V", self.get_instream_width_padded(p)) for p in range(n_in)]
        intf["m_axis"] = [(f"out{p}_V", self.get_outstream_width_padded(p)) for p in range(n_out)]
        return intf

    def rtlsim_side_streams(self, context) -> list:
        """The side inputs to feed in ``rtlsim`` mode, from the execution context (default: none)."""
        return []

    def rtlsim_view(self, port: int) -> tuple[str, list[Path]]:
        """(module, sources) that show output ``port`` as ``out0_V`` (default: the module itself, one output)."""
        if port:
            raise NotImplementedError(f"{type(self).__name__} has one output")
        return self.get_nodeattr("gen_top_module"), [Path(f) for f in self.get_rtl_file_list(abspath=True)]

    def execute_node(self, context, graph):
        """Python execution (the layer's own), or with ``exec_mode`` "rtlsim" the generated RTL in Verilator
        (each output through its own run when there are several)."""
        if self.get_nodeattr("exec_mode") != "rtlsim":
            return super().execute_node(context, graph)
        from build_flows.sim import stitch
        from build_flows.sim.run import HostInput, simulate

        code_dir = self.get_nodeattr("code_gen_dir_ipgen")
        if not code_dir or not (Path(code_dir) / f"{self.onnx_node.name}.sv").exists():
            raise RuntimeError(f"{self.onnx_node.name}: no RTL generated; run generate_hdl (or the build's sim step) first")
        n_in, n_out = self.stream_ports(graph)
        xs = [context[self.onnx_node.input[p]] for p in range(n_in)]
        n = xs[0].shape[0]
        more = [HostInput(xs[p].reshape(n, -1), self.get_input_datatype(p), self.get_folded_input_shape(p)[-1])
                for p in range(1, n_in)]
        edges = [stitch.Edge(None, (0, p)) for p in range(n_in)] + [stitch.Edge((0, 0), None)]
        cycles = 0
        for port in range(n_out):
            module, files = self.rtlsim_view(port)
            stage = stitch.Stage(self.onnx_node.name, module, self.get_instream_width(0), self.get_outstream_width(port),
                                 files, self.rtlsim_side_streams(context), [self.get_instream_width(p) for p in range(1, n_in)])
            res = simulate([stage], xs[0].reshape(n, -1), self.get_input_datatype(0), self.get_folded_input_shape(0)[-1],
                           self.get_output_datatype(port), self.get_folded_output_shape(port)[-1],
                           int(np.prod(self.get_normal_output_shape(port)[1:])), Path(code_dir) / "sim", edges=edges,
                           more_inputs=more, max_cycles=1000 + 50 * n * int(self.get_exp_cycles()))  # a slow layer
            cycles = max(cycles, int(res.cycles_per_image))
            out = self.onnx_node.output[port]
            context[out] = res.outputs.reshape(context[out].shape)
        self.set_nodeattr("cycles_rtlsim", cycles)
