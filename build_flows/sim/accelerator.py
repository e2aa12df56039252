"""Cycle-accurate simulation of a whole FINN dataflow graph whose layers all have RTL.

``rtl_design`` generates every layer's HDL (FINN's own RTL layers through their ``generate_hdl``, ours
likewise), connects the layers as the graph does (chains, forks through DuplicateStreams, joins) and lists
the layers that cannot be simulated. ``simulate_dataflow`` stitches them into one Verilog top with a FIFO on
every connection and width converters (:mod:`build_flows.sim.stitch`), streams images through it in
Verilator, and measures cycles per image, latency and FIFO high-water marks. Layers at the graph's ends that
the host driver does instead (fixed reorders, the float output scale: ``host_step``) run in numpy around it.
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
    """Some layers of the graph have no RTL implementation, or the graph cannot be stitched."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        lines = "\n".join(f"  - {name} ({op}): {why}" for name, op, why in problems)
        super().__init__(f"{len(problems)} layer(s) cannot be simulated in RTL:\n{lines}\n"
                         "Simulation needs every layer in RTL (FINN's *_rtl layers or qvit-fpga's); "
                         "python execution (`verify_python`) still covers the whole graph.")


@dataclass
class Design:
    """The stitched accelerator: stages (in graph order), their connections (with FIFO depths), the ends."""

    stages: list[stitch.Stage]
    edges: list[stitch.Edge]
    idt: DataType
    in_per_beat: int
    odt: DataType
    out_per_beat: int
    out_per_image: int
    expected_cycles: int
    latency_bound: int  # the sum of the layers' cycles per image: no layer holds a beat longer
    host: list[str] = field(default_factory=list)  # layers at the graph's ends that the host does (numpy)

    @property
    def first_stage(self) -> int:
        """Index of the stage that takes the host's input."""
        return next(e.dst[0] for e in self.edges if e.src is None)

    @property
    def fifo_depths(self) -> list[int]:
        return [e.depth for e in self.edges]

    def edge_names(self) -> list[str]:
        """One name per edge (FIFO): ``<consumer>`` for its input 0, ``<consumer>:<port>`` for others,
        ``output`` for the one to the host."""
        return ["output" if e.dst is None else self.stages[e.dst[0]].name + (f":{e.dst[1]}" if e.dst[1] else "")
                for e in self.edges]

    def edge_bits(self) -> list[int]:
        """The width of each FIFO in bits (its consumer's input width)."""
        return [stitch._dst_bits(self.stages, e) for e in self.edges]

    def with_depths(self, depths: list[int], ram_styles: list[str] | None = None) -> list[stitch.Edge]:
        """The edges with FIFOs ``depths`` deep (and their memories in ``ram_styles``, default the tool's choice)."""
        if len(depths) != len(self.edges):
            raise ValueError(f"{len(self.edges)} FIFO depths needed, got {len(depths)}")
        styles = ram_styles or ["auto"] * len(depths)
        return [stitch.Edge(e.src, e.dst, int(d), s) for e, d, s in zip(self.edges, depths, styles)]


def _host_step(model, node):
    try:
        return layer_facts(node).host_step(model)
    except Exception:  # noqa: BLE001 - not a hardware layer at all
        return None


def _reorder(node) -> np.ndarray | None:
    try:
        return layer_facts(node).host_reorder()
    except Exception:  # noqa: BLE001 - not a hardware layer at all
        return None


def _is_wire(node) -> bool:
    """A reorder that keeps every element in stream order (e.g. NCHW -> NHWC with one channel) is a wire; a
    selection of the first elements (the class token) is not."""
    gather = _reorder(node)
    if gather is None or not np.array_equal(gather, np.arange(len(gather))):
        return False
    return len(gather) == int(np.prod(getCustomOp(node).get_normal_input_shape()))


def split_host_steps(model) -> tuple[list, list, list]:
    """(leading, core, trailing) nodes: layers with a ``host_step`` (reorders such as NCHW <-> NHWC, the
    float output scale) at the very start or end of a graph are the host driver's job when it packs the
    input and unpacks the output buffer (as FINN's driver does), so they run in numpy around the core."""
    nodes = [n for n in model.graph.node if not _is_wire(n)]
    lead = []
    while len(lead) < len(nodes) - 1 and _host_step(model, nodes[len(lead)]) is not None \
            and _reorder(nodes[len(lead)]) is not None:  # only reorders can lead (the input is integer)
        lead.append(nodes[len(lead)])
    trail = []
    while len(lead) + len(trail) < len(nodes) - 1 and _host_step(model, nodes[-1 - len(trail)]) is not None:
        trail.insert(0, nodes[-1 - len(trail)])
    return lead, nodes[len(lead): len(nodes) - len(trail)], trail


def host_step_names(model) -> set[str]:
    """Names of the layers the host driver runs (:func:`split_host_steps`' leading and trailing ones)."""
    lead, _, trail = split_host_steps(model)
    return {n.name for n in lead + trail}


def core_model(model):
    """A copy of ``model`` holding only the accelerator core (:func:`split_host_steps`): the host's steps at
    either end removed, the graph's input and output those of the core, as FINN stitches and packages it."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper

    drop = host_step_names(model)
    copy = ModelWrapper(model.model.__deepcopy__())
    keep = [n for n in copy.graph.node if n.name not in drop]
    ends = (keep[0].input[0], keep[-1].output[0])
    for n in [n for n in copy.graph.node if n.name in drop]:
        copy.graph.node.remove(n)
    for graph_list, name in ((copy.graph.input, ends[0]), (copy.graph.output, ends[1])):
        old = graph_list[0]
        if old.name == name:
            continue
        vi = helper.make_tensor_value_info(name, TensorProto.FLOAT, copy.get_tensor_shape(name))
        for v in list(copy.graph.value_info):
            if v.name == name:
                copy.graph.value_info.remove(v)
        graph_list.remove(old)
        graph_list.append(vi)
    return copy


def _source(model, tensor: str) -> str:
    """The tensor behind any identity layouts (wires) in front of ``tensor``."""
    producer = model.find_producer(tensor)
    while producer is not None and _is_wire(producer):
        tensor = producer.input[0]
        producer = model.find_producer(tensor)
    return tensor


def stream_inputs(model, node) -> list[str]:
    """The inputs of ``node`` that are streams (not initializers), in port order."""
    return [t for t in node.input if t and model.get_initializer(t) is None]


def _connections(model, nodes) -> tuple[list[stitch.Edge], list[tuple[str, str, str]]]:
    """The edges among ``nodes`` (depth 0 for now) and the problems that stop stitching."""
    index = {t: (i, q) for i, n in enumerate(nodes) for q, t in enumerate(n.output)}
    core_in = _source(model, nodes[0].input[0])
    core_out = nodes[-1].output[0]
    edges, problems, used = [], [], {}
    for i, node in enumerate(nodes):
        for p, tensor in enumerate(stream_inputs(model, node)):
            src = _source(model, tensor)
            if src == core_in and src not in index:
                edges.append(stitch.Edge(None, (i, p)))
                used[src] = used.get(src, 0) + 1
            elif src in index:
                edges.append(stitch.Edge(index[src], (i, p)))
                used[src] = used.get(src, 0) + 1
                try:
                    gives = getCustomOp(nodes[index[src][0]]).get_output_datatype(index[src][1])
                    takes = getCustomOp(node).get_input_datatype(p)
                except Exception:  # noqa: BLE001 - not a hardware layer: reported by _problems
                    continue
                if gives.bitwidth() != takes.bitwidth():
                    problems.append((node.name, node.op_type, f"input {p} takes {takes.name} but {nodes[index[src][0]].name} "
                                     f"gives {gives.name}: the packing differs (run qonnx's InferDataTypes)"))
            else:
                problems.append((node.name, node.op_type, f"input {p} ({tensor}) comes from outside the accelerator"))
    edges.append(stitch.Edge(index[core_out], None))
    used[core_out] = used.get(core_out, 0) + 1
    for tensor, count in used.items():
        if count > 1:
            who = nodes[index[tensor][0]] if tensor in index else None
            problems.append((who.name if who else tensor, who.op_type if who else "input",
                             f"output {tensor} feeds {count} layers: a fork needs a DuplicateStreams layer "
                             "(FINN's InsertDuplicateStreams)"))
    for t, (i, q) in index.items():
        if t not in used:
            problems.append((nodes[i].name, nodes[i].op_type, f"output {q} ({t}) is not used"))
    return edges, problems


def _problems(nodes) -> list[tuple[str, str, str]]:
    problems = []
    for node in nodes:
        try:
            why = layer_facts(node).rtl_reason()
        except Exception:  # noqa: BLE001 - not a custom op at all
            problems.append((node.name, node.op_type, "not a hardware layer"))
            continue
        if why is not None:
            problems.append((node.name, node.op_type, why))
    return problems


def layer_stage(model, node) -> stitch.Stage:
    """The stitching view of a layer whose HDL has been generated: module, stream widths, sources, side inputs."""
    inst = getCustomOp(node)
    files = [Path(f) for f in inst.get_rtl_file_list(abspath=True) if str(f).endswith((".v", ".sv"))]
    side = layer_facts(inst).side_streams(model)
    n_in, n_out = len(stream_inputs(model, node)), len(node.output)
    return stitch.Stage(node.name, inst.get_nodeattr("gen_top_module"), inst.get_instream_width(0),
                        inst.get_outstream_width(0), files, side, [inst.get_instream_width(p) for p in range(1, n_in)],
                        [inst.get_outstream_width(p) for p in range(1, n_out)])


def _fifo_depth(inst, port: int, default: int) -> int:
    depths = inst.get_nodeattr("inFIFODepths") if "inFIFODepths" in inst.get_nodeattr_types() else []
    return max(int(depths[port]) if port < len(depths) else 2, default)


FORK_FIFO_IMAGES = 4  # images a FIFO of a graph with forks holds before sizing


def _beats(nodes, e: stitch.Edge) -> int:
    """:data:`FORK_FIFO_IMAGES` images of beats on edge ``e``: a skip path must hold what enters while its
    branch is busy with an image (a reorder, K and V of attention buffer whole images, so a branch's latency is
    several images' worth of beats); one image only would make the fork wait and slow the whole design."""
    i, q = e.src if e.src else e.dst
    inst = getCustomOp(nodes[i])
    shape = inst.get_folded_output_shape(q) if e.src else inst.get_folded_input_shape(q)
    return FORK_FIFO_IMAGES * int(np.prod(shape[1:-1])) + 2


def rtl_design(model, nodes, rtl_dir: str | Path, fpgapart: str, clk_ns: float, default_fifo: int = 32) -> Design:
    """Generate the HDL of ``nodes`` (``model``'s dataflow layers in graph order, one input from the host,
    one output to it) into ``rtl_dir/<layer>`` and connect them. In a graph with forks every FIFO starts
    :data:`FORK_FIFO_IMAGES` images deep (no deadlock while a branch buffers an image, no fork waiting on a
    busy branch); ``--size-fifos`` then shrinks them to what the simulation needed. Raises :class:`NoRTLError` listing every
    layer that cannot be simulated and every connection that cannot be stitched."""
    problems = _problems(nodes)
    edges, wiring = _connections(model, nodes)
    if problems or wiring:
        raise NoRTLError(problems + wiring)
    rtl_dir = Path(rtl_dir).resolve()
    stages, expected, total = [], 0, 0
    for node in nodes:
        inst = getCustomOp(node)
        code_dir = rtl_dir / node.name
        code_dir.mkdir(parents=True, exist_ok=True)
        inst.set_nodeattr("code_gen_dir_ipgen", str(code_dir))
        inst.generate_hdl(model, fpgapart, clk_ns)
        stages.append(layer_stage(model, node))
        expected = max(expected, int(inst.get_exp_cycles()))
        total += int(inst.get_exp_cycles())
    forks = any(len(st.outs) > 1 for st in stages)
    edges = [stitch.Edge(e.src, e.dst, max(_beats(nodes, e) if forks else 0, default_fifo if e.dst is None else
                                           _fifo_depth(getCustomOp(nodes[e.dst[0]]), e.dst[1], default_fifo)))
             for e in edges]
    first = getCustomOp(nodes[edges[0].dst[0]]) if edges[0].src is None else getCustomOp(nodes[0])
    last = getCustomOp(nodes[-1])
    in_fold, out_fold = first.get_folded_input_shape(0), last.get_folded_output_shape(0)
    return Design(stages, edges, first.get_input_datatype(0), int(in_fold[-1]), last.get_output_datatype(0),
                  int(out_fold[-1]), int(np.prod(last.get_normal_output_shape(0)[1:])), expected, total)


def sized_fifo_depths(hwm: list[int]) -> list[int]:
    """FIFO depths from high-water marks observed without stalls: one more than the peak occupancy (at
    least 2, FINN's minimum), so no FIFO fills that did not fill in the observed run."""
    return [max(2, int(h) + 1) for h in hwm]


def write_fifo_depths(model, design: Design, depths: list[int]) -> None:
    """Record ``depths`` (one per edge) in the layers' ``inFIFODepths`` (per input port) and the last
    layer's ``outFIFODepths``, the attributes FINN's InsertFIFO reads when it stitches the IP."""
    by_name = {n.name: n for n in model.graph.node}
    per_node: dict[str, dict[int, int]] = {}
    for e, depth in zip(design.edges, depths):
        if e.dst is None:
            getCustomOp(by_name[design.stages[e.src[0]].name]).set_nodeattr("outFIFODepths", [int(depth)])
        else:
            per_node.setdefault(design.stages[e.dst[0]].name, {})[e.dst[1]] = int(depth)
    for name, ports in per_node.items():
        getCustomOp(by_name[name]).set_nodeattr("inFIFODepths", [ports[p] for p in sorted(ports)])


def simulate_dataflow(model, x: np.ndarray, workdir: str | Path, fpgapart: str, clk_ns: float,
                      stalls: tuple[float, ...] = (0.0,), seed: int = 0, default_fifo: int = 32,
                      fifo_depths: list[int] | None = None, in_period: int = 0) -> tuple[list[SimResult], Design]:
    """Simulate images ``x`` [n, *input shape] through the stitched graph once per stall probability in
    ``stalls`` (the HDL is generated once); each result's outputs are [n, values] after the host's steps.
    FIFO depths are ``fifo_depths`` (one per edge of the design) or the layers' FINN depths, at least
    ``default_fifo``. ``in_period`` > 0: the host sends one image per ``in_period`` cycles (FIFO sizing at
    the design's rate, as FINN's throttled FIFO-sizing simulation)."""
    workdir = Path(workdir).resolve()
    lead, core, trail = split_host_steps(model)
    design = rtl_design(model, core, workdir / "rtl", fpgapart, clk_ns, default_fifo)
    design.host = [n.name for n in lead + trail]
    if fifo_depths is not None:
        design.edges = design.with_depths(fifo_depths)
    for node in lead:
        x = _host_step(model, node)(x)
    run_dir = workdir / "run"  # where the memory files are gathered (build_flows.sim.run.simulate)
    results = []
    for i, stall in enumerate(stalls):
        res = simulate(design.stages, x.reshape(len(x), -1), design.idt, design.in_per_beat, design.odt,
                       design.out_per_beat, design.out_per_image, run_dir, edges=design.edges,
                       stall_in=stall, stall_out=stall, seed=seed + i,
                       max_cycles=1000 + 50 * len(x) * max(design.expected_cycles, in_period) + 10_000,
                       idle_cycles=2 * design.latency_bound + 10_000, in_period=in_period)
        for node in trail:
            res.outputs = _host_step(model, node)(res.outputs)
        results.append(res)
    return results, design


def export_simulated_board(model, rtl_dir: str | Path, out_dir: str | Path, fpgapart: str, clock_mhz: float,
                           fifo_depths: list[int] | None = None) -> Design:
    """Write the stitched accelerator of ``model``'s core (its HDL regenerated into ``rtl_dir``, FIFOs of
    ``fifo_depths`` as simulated) as a self-contained simulated board in ``out_dir``: ``rtl/`` (every source and
    memory file), ``board.json`` (what :class:`build_flows.driver.backends.
    SimBackend` builds and runs) and ``side_streams.npz`` (beats of external weights). Gives the design."""
    import json

    _, core, _ = split_host_steps(model)
    design = rtl_design(model, core, rtl_dir, fpgapart, 1000.0 / clock_mhz)
    if fifo_depths is not None:
        design.edges = design.with_depths(fifo_depths)
    out = Path(out_dir)
    (out / "rtl").mkdir(parents=True, exist_ok=True)
    sources = stitch.write_top(design.stages, design.edges, out / "rtl" / f"{stitch.TOP}.sv")
    names = []
    for src in sources:  # the RTL names its memory files without a path (build_flows.rtl.write_wrapper)
        src = Path(src)
        text = src.read_text()
        target = out / "rtl" / src.name
        if target.exists() and src.resolve() != target.resolve() and target.read_text() != text:
            raise ValueError(f"two different RTL sources are both named {src.name}: cannot flatten the design")
        target.write_text(text)
        names.append(src.name)
    for st in design.stages:  # finn-rtllib layers read their memory files relative to the working directory
        for dat in (Path(rtl_dir) / st.name).glob("*.dat"):
            shutil.copy(dat, out / "rtl" / dat.name)
    sides = stitch.side_streams(design.stages)
    if sides:
        np.savez(out / "side_streams.npz", **{f"side{k}": s.beats for k, s in enumerate(sides)})
    first = getCustomOp(next(n for n in model.graph.node if n.name == design.stages[design.first_stage].name))
    in_beats = int(np.prod(first.get_folded_input_shape(0)[1:-1]))
    board = {"sources": names, "in_bits": stitch.host_inputs(design.stages, design.edges) + [s.bits for s in sides],
             "out_bits": stitch.padded_bits(stitch.output_bits(design.stages, design.edges)),
             "defines": dict(HWM_PORT="hwm", OCC_PORT="occ", PUSHED_PORT="pushed",
                             HWM_BYTES=stitch.HWM_BITS * len(design.edges) // 8),
             "in_beats_per_image": in_beats, "out_beats_per_image": design.out_per_image // design.out_per_beat,
             "side": [{"key": f"side{k}", "beats_per_image": len(s.beats)} for k, s in enumerate(sides)],
             "idle_cycles": 2 * design.latency_bound + 10_000, "expected_cycles_per_image": design.expected_cycles,
             "clock_mhz": clock_mhz,
             "fifo_depths": design.fifo_depths}
    (out / "board.json").write_text(json.dumps(board, indent=1))
    return design


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
