"""Cycle-accurate simulation of a whole FINN dataflow graph whose layers all have RTL.

``rtl_stages`` generates every layer's HDL (FINN's own RTL layers through their ``generate_hdl``, ours
likewise) and lists the layers that have none. ``simulate_dataflow`` stitches the chain into one
Verilog top with FIFOs and width converters (:mod:`build_flows.sim.stitch`), streams vectors through it
in Verilator, and measures cycles per image, latency and FIFO high-water marks.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType
from qonnx.custom_op.registry import getCustomOp

from build_flows.layers import layer_facts
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
    host: list[str] = field(default_factory=list)  # boundary layout layers applied by the host (numpy)


def split_host_layouts(model) -> tuple[list, list, list]:
    """(leading, core, trailing) nodes: a fixed reorder (a layer whose ``host_reorder`` is set, such as
    NCHW <-> NHWC) at the very start or end of the graph is the host driver's job when it packs the input
    and unpacks the output buffer (as FINN's driver does), so it is applied in numpy around the simulated core."""
    nodes = [n for n in model.graph.node if not _is_wire(n)]
    lead = nodes[:1] if nodes and _reorder(nodes[0]) is not None else []
    trail = nodes[-1:] if len(nodes) > 1 and _reorder(nodes[-1]) is not None else []
    return lead, nodes[len(lead): len(nodes) - len(trail)], trail


def _reorder(node) -> np.ndarray | None:
    try:
        return layer_facts(node).host_reorder()
    except Exception:  # noqa: BLE001 - not a hardware layer at all
        return None


def _is_wire(node) -> bool:
    """A reorder that keeps the stream order (e.g. NCHW -> NHWC with one channel) is a wire."""
    gather = _reorder(node)
    return gather is not None and bool(np.array_equal(gather, np.arange(len(gather))))


def host_layout(node, x: np.ndarray) -> np.ndarray:
    """Apply a boundary reorder layer to a batch [n, ...] -> [n, values]."""
    return x.reshape(len(x), -1)[:, _reorder(node)]


def _source(model, tensor: str) -> str:
    """The tensor behind any identity layouts (wires) in front of ``tensor``."""
    producer = model.find_producer(tensor)
    while producer is not None and _is_wire(producer):
        tensor = producer.input[0]
        producer = model.find_producer(tensor)
    return tensor


def _problems(model, nodes) -> list[tuple[str, str, str]]:
    problems = []
    for i, node in enumerate(nodes):
        try:
            why = layer_facts(node).rtl_reason()
        except Exception:  # noqa: BLE001 - not a custom op at all
            problems.append((node.name, node.op_type, "not a hardware layer"))
            continue
        if why is not None:
            problems.append((node.name, node.op_type, why))
        elif len([t for t in node.input if model.get_initializer(t) is None]) != 1 or len(node.output) != 1:
            problems.append((node.name, node.op_type, "not a single-stream layer (stitching supports chains)"))
        elif i > 0 and _source(model, node.input[0]) != nodes[i - 1].output[0]:
            problems.append((node.name, node.op_type, "the graph is not a single chain"))
    return problems


def layer_stage(model, node) -> stitch.Stage:
    """The stitching view of a layer whose HDL has been generated: module, stream widths, sources, side inputs."""
    inst = getCustomOp(node)
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True) if str(f).endswith((".v", ".sv"))]
    side = layer_facts(inst).side_streams(model)
    return stitch.Stage(node.name, inst.get_nodeattr("gen_top_module"), inst.get_instream_width(0),
                        inst.get_outstream_width(0), files, side)


def rtl_stages(model, nodes, rtl_dir: str | Path, fpgapart: str, clk_ns: float, default_fifo: int = 32) -> ChainInfo:
    """Generate the HDL of ``nodes`` (a single chain of ``model``'s dataflow layers) into ``rtl_dir/<layer>``
    and return the chain. Raises :class:`NoRTLError` listing every layer that cannot be simulated."""
    problems = _problems(model, nodes)
    if problems:
        raise NoRTLError(problems)
    rtl_dir = Path(rtl_dir).resolve()
    stages, depths, expected = [], [], 0
    for node in nodes:
        inst = getCustomOp(node)
        code_dir = rtl_dir / node.name
        code_dir.mkdir(parents=True, exist_ok=True)
        inst.set_nodeattr("code_gen_dir_ipgen", str(code_dir))
        inst.generate_hdl(model, fpgapart, clk_ns)
        stages.append(layer_stage(model, node))
        finn_depth = inst.get_nodeattr("inFIFODepths")[0] if "inFIFODepths" in inst.get_nodeattr_types() else 2
        depths.append(max(int(finn_depth), default_fifo))
        expected = max(expected, int(inst.get_exp_cycles()))
    depths.append(default_fifo)
    first, last = getCustomOp(nodes[0]), getCustomOp(nodes[-1])
    in_fold, out_fold = first.get_folded_input_shape(0), last.get_folded_output_shape(0)
    return ChainInfo(stages, first.get_input_datatype(0), int(in_fold[-1]), last.get_output_datatype(0),
                     int(out_fold[-1]), int(np.prod(last.get_normal_output_shape(0)[1:])), depths, expected)


def sized_fifo_depths(hwm: list[int]) -> list[int]:
    """FIFO depths from high-water marks observed without stalls: one more than the peak occupancy (at
    least 2, FINN's minimum), so no FIFO fills that did not fill in the observed run."""
    return [max(2, int(h) + 1) for h in hwm]


def write_fifo_depths(model, chain: ChainInfo, depths: list[int]) -> None:
    """Record ``depths`` (one per stage input, then the output) in the layers' ``inFIFODepths`` /
    ``outFIFODepths``, the attributes FINN's InsertFIFO reads when it stitches the IP."""
    by_name = {n.name: n for n in model.graph.node}
    for stage, depth in zip(chain.stages, depths):
        getCustomOp(by_name[stage.name]).set_nodeattr("inFIFODepths", [int(depth)])
    getCustomOp(by_name[chain.stages[-1].name]).set_nodeattr("outFIFODepths", [int(depths[-1])])


def simulate_dataflow(model, x: np.ndarray, workdir: str | Path, fpgapart: str, clk_ns: float,
                      stalls: tuple[float, ...] = (0.0,), seed: int = 0, default_fifo: int = 32,
                      fifo_depths: list[int] | None = None) -> tuple[list[SimResult], ChainInfo]:
    """Simulate images ``x`` [n, *input shape] through the stitched graph once per stall probability in
    ``stalls`` (the HDL is generated once); each result's outputs are [n, values]. FIFO depths are
    ``fifo_depths`` (one per stage, then the output) or the layers' FINN depths, at least ``default_fifo``."""
    workdir = Path(workdir).resolve()
    lead, core, trail = split_host_layouts(model)
    chain = rtl_stages(model, core, workdir / "rtl", fpgapart, clk_ns, default_fifo)
    chain.host = [n.name for n in lead + trail]
    if fifo_depths is not None:
        if len(fifo_depths) != len(chain.stages) + 1:
            raise ValueError(f"{len(chain.stages) + 1} FIFO depths needed, got {len(fifo_depths)}")
        chain.fifo_depths = [int(d) for d in fifo_depths]
    for node in lead:
        x = host_layout(node, x)
    run_dir = workdir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    for st in chain.stages:  # finn-rtllib layers read their memory files relative to the working directory
        for dat in (workdir / "rtl" / st.name).glob("*.dat"):
            shutil.copy(dat, run_dir / dat.name)
    results = []
    for i, stall in enumerate(stalls):
        res = simulate(chain.stages, x.reshape(len(x), -1), chain.idt, chain.in_per_beat, chain.odt,
                       chain.out_per_beat, chain.out_per_image, run_dir, fifo_depths=chain.fifo_depths,
                       stall_in=stall, stall_out=stall, seed=seed + i,
                       max_cycles=1000 + 50 * len(x) * chain.expected_cycles + 10_000)
        for node in trail:
            res.outputs = host_layout(node, res.outputs)
        results.append(res)
    return results, chain


def python_exec_copy(model):
    """A copy of a specialised graph whose RTL layers execute in python (FINN names that mode of its
    RTL layers "cppsim": their base class's python execution)."""
    from finn.util.fpgadataflow import is_rtl_node
    from qonnx.core.modelwrapper import ModelWrapper

    copy = ModelWrapper(model.model.__deepcopy__())
    for node in copy.graph.node:
        if is_rtl_node(node):
            getCustomOp(node).set_nodeattr("exec_mode", "cppsim")
    return copy
