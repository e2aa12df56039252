"""Cycle-accurate simulation of a whole FINN dataflow graph whose layers all have RTL.

``rtl_stages`` generates every layer's HDL (FINN's own RTL layers through their ``generate_hdl``, ours
likewise) and lists the layers that have none. ``simulate_dataflow`` stitches the chain into one
Verilog top with FIFOs and width converters (:mod:`build_flows.sim.stitch`), streams vectors through it
in Verilator, and measures cycles per image, latency and FIFO high-water marks.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from build_flows.sim import stitch
from build_flows.sim.run import SimResult, simulate


class NoRTLError(ValueError):
    """Some layers of the graph have no RTL implementation (or the graph is not a single chain)."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        lines = "\n".join(f"  - {name} ({op}): {why}" for name, op, why in problems)
        super().__init__(f"{len(problems)} layer(s) cannot be simulated in RTL:\n{lines}\n"
                         "Simulation needs every layer in RTL (FINN's *_rtl layers or qvit-fpga's); "
                         "python execution (`verify_python`) still covers the whole graph.")


@dataclass
class ChainInfo:
    stages: list[stitch.Stage]
    idt: DataType
    in_per_beat: int
    odt: DataType
    out_per_beat: int
    out_per_image: int
    fifo_depths: list[int]
    expected_cycles: int


def _problems(model) -> list[tuple[str, str, str]]:
    from finn.custom_op.fpgadataflow.rtlbackend import RTLBackend

    problems = []
    nodes = list(model.graph.node)
    for i, node in enumerate(nodes):
        try:
            inst = getCustomOp(node)
        except Exception:  # noqa: BLE001 - not a custom op at all
            problems.append((node.name, node.op_type, "not a hardware layer"))
            continue
        if not isinstance(inst, RTLBackend):
            problems.append((node.name, node.op_type, "no RTL implementation (HLS or python-only layer)"))
        elif len([t for t in node.input if model.get_initializer(t) is None]) != 1 or len(node.output) != 1:
            problems.append((node.name, node.op_type, "not a single-stream layer (stitching supports chains)"))
        elif i > 0 and node.input[0] != nodes[i - 1].output[0]:
            problems.append((node.name, node.op_type, "the graph is not a single chain"))
    return problems


def rtl_stages(model, rtl_dir: str | Path, fpgapart: str, clk_ns: float, default_fifo: int = 32) -> ChainInfo:
    """Generate the HDL of every layer of a single-chain dataflow graph into ``rtl_dir/<layer>`` and
    return the chain. Raises :class:`NoRTLError` listing every layer that cannot be simulated."""
    problems = _problems(model)
    if problems:
        raise NoRTLError(problems)
    rtl_dir = Path(rtl_dir).resolve()
    stages, depths, expected = [], [], 0
    for node in model.graph.node:
        inst = getCustomOp(node)
        code_dir = rtl_dir / node.name
        code_dir.mkdir(parents=True, exist_ok=True)
        inst.set_nodeattr("code_gen_dir_ipgen", str(code_dir))
        inst.generate_hdl(model, fpgapart, clk_ns)
        files = [Path(f) for f in inst.get_rtl_file_list(abspath=True) if str(f).endswith((".v", ".sv"))]
        stages.append(stitch.Stage(node.name, inst.get_nodeattr("gen_top_module"), inst.get_instream_width(0),
                                   inst.get_outstream_width(0), files))
        finn_depth = inst.get_nodeattr("inFIFODepths")[0] if "inFIFODepths" in inst.get_nodeattr_types() else 2
        depths.append(max(int(finn_depth), default_fifo))
        expected = max(expected, int(inst.get_exp_cycles()))
    depths.append(default_fifo)
    first, last = getCustomOp(model.graph.node[0]), getCustomOp(model.graph.node[-1])
    in_fold, out_fold = first.get_folded_input_shape(0), last.get_folded_output_shape(0)
    return ChainInfo(stages, first.get_input_datatype(0), int(in_fold[-1]), last.get_output_datatype(0),
                     int(out_fold[-1]), int(np.prod(last.get_normal_output_shape(0)[1:])), depths, expected)


def simulate_dataflow(model, x: np.ndarray, workdir: str | Path, fpgapart: str, clk_ns: float,
                      stall: float = 0.0, seed: int = 0, default_fifo: int = 32) -> tuple[SimResult, ChainInfo]:
    """Simulate images ``x`` [n, *input shape] through the stitched graph; outputs [n, values]."""
    workdir = Path(workdir).resolve()
    chain = rtl_stages(model, workdir / "rtl", fpgapart, clk_ns, default_fifo)
    run_dir = workdir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    for st in chain.stages:  # finn-rtllib layers read their memory files relative to the working directory
        for dat in (workdir / "rtl" / st.name).glob("*.dat"):
            shutil.copy(dat, run_dir / dat.name)
    res = simulate(chain.stages, x.reshape(len(x), -1), chain.idt, chain.in_per_beat, chain.odt, chain.out_per_beat,
                   chain.out_per_image, run_dir, fifo_depths=chain.fifo_depths, stall_in=stall, stall_out=stall,
                   seed=seed, max_cycles=1000 + 50 * len(x) * chain.expected_cycles + 10_000)
    return res, chain
