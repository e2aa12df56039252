"""A Verilog top (``qvit_sim_top``) that connects AXI-stream stages into a dataflow graph with FIFOs and
data-width converters: chains, forks (a stage with several outputs, e.g. DuplicateStreams) and joins (a
stage with several inputs, e.g. AddStreams, StreamMatMul).

Each stage is a module with FINN's ports (``ap_clk``, ``ap_rst_n``, ``in0_V_*``, ``in1_V_*``, ...,
``out0_V_*``, ``out1_V_*``, ...). Every connection (:class:`Edge`) goes through a ``qvit_fifo`` of its
own depth, and through a ``qvit_dwc`` first where the producer's width differs from the consumer's
(finn-rtllib's ``dwc_axi``/``vpc`` trips a Verilator 5.48 internal error for some width pairs). Edges
from the host are the top's ``in0_V``, ``in1_V``, ... in edge order; the one edge to the host is ``out0_V``.
A stage's side inputs (constants the host sends again for every image, e.g. external weights) come after
its graph inputs on the stage and after the graph inputs on the top. The FIFOs' ``maxcount`` (high-water
marks), ``count`` (occupancy when the run stops) and ``pushed`` (beats that went through, modulo 2**16), to
locate a deadlock, come out on debug ports ``hwm``, ``occ`` and ``pushed`` read by the testbench.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from build_flows.rtl import STREAM_DIR
from build_flows.sim.verilator import TOP


@dataclass
class SideStream:
    """An extra AXI-stream input of a stage that the host feeds: ``beats`` (uint8 [n, bytes]) are sent
    again for every image, as FINN's external weights are."""

    bits: int
    beats: np.ndarray


@dataclass
class Stage:
    """One layer of the graph: its module name, RTL sources, (unpadded) stream widths in bits of input and
    output 0 (``in_bits``, ``out_bits``) and of any further ones (``in_more``, ``out_more``), side inputs."""

    name: str
    module: str
    in_bits: int
    out_bits: int
    sources: list[Path] = field(default_factory=list)
    side: list[SideStream] = field(default_factory=list)
    in_more: list[int] = field(default_factory=list)
    out_more: list[int] = field(default_factory=list)

    @property
    def ins(self) -> list[int]:
        return [self.in_bits, *self.in_more]

    @property
    def outs(self) -> list[int]:
        return [self.out_bits, *self.out_more]


@dataclass(frozen=True)
class Edge:
    """A FIFO connection from ``src`` (stage index, output port), or the host when None, to ``dst``
    (stage index, input port), or the host when None, ``depth`` words deep, its memory in ``ram_style``
    (distributed, block, or auto: the synthesis tool's choice)."""

    src: tuple[int, int] | None
    dst: tuple[int, int] | None
    depth: int = 2
    ram_style: str = "auto"


def chain_edges(n_stages: int, depths: list[int]) -> list[Edge]:
    """The edges of a chain of ``n_stages``: FIFO i in front of stage i, one more after the last."""
    if len(depths) != n_stages + 1:
        raise ValueError(f"need {n_stages + 1} FIFO depths for {n_stages} stages, got {len(depths)}")
    return [Edge(None if i == 0 else (i - 1, 0), (i, 0) if i < n_stages else None, int(d))
            for i, d in enumerate(depths)]


def side_streams(stages: list[Stage]) -> list[SideStream]:
    """The stages' side inputs, in the order of the top's ports after the graph inputs."""
    return [s for st in stages for s in st.side]


def _src_bits(stages, e: Edge) -> int:
    return stages[e.src[0]].outs[e.src[1]] if e.src else stages[e.dst[0]].ins[e.dst[1]]


def _dst_bits(stages, e: Edge) -> int:
    return stages[e.dst[0]].ins[e.dst[1]] if e.dst else _src_bits(stages, e)


def host_inputs(stages: list[Stage], edges: list[Edge]) -> list[int]:
    """Widths in bits of the top's graph inputs ``in0_V``, ``in1_V``, ... (the edges from the host)."""
    return [_dst_bits(stages, e) for e in edges if e.src is None]


def output_bits(stages: list[Stage], edges: list[Edge]) -> int:
    """Width in bits of the top's ``out0_V``."""
    return _src_bits(stages, next(e for e in edges if e.dst is None))


def check_graph(stages: list[Stage], edges: list[Edge]) -> None:
    """Raise ValueError unless every stage port has exactly one edge and exactly one edge goes to the host."""
    ins = [(e.dst[0], e.dst[1]) for e in edges if e.dst]
    outs = [(e.src[0], e.src[1]) for e in edges if e.src]
    want_in = [(i, p) for i, st in enumerate(stages) for p in range(len(st.ins))]
    want_out = [(i, p) for i, st in enumerate(stages) for p in range(len(st.outs))]
    for have, want, what in ((ins, want_in, "input"), (outs, want_out, "output")):
        if sorted(have) != sorted(want):
            bad = sorted(set(want) ^ set(have)) or sorted({x for x in have if have.count(x) > 1})
            names = ", ".join(f"{stages[i].name} port {p}" for i, p in bad)
            raise ValueError(f"every stage {what} needs exactly one connection; not so for: {names}")
    if sum(e.dst is None for e in edges) != 1:
        raise ValueError("the graph needs exactly one output to the host")


def padded_bits(bits: int) -> int:
    """The width in bits a stream of ``bits`` has in the stitched RTL (whole bytes, as AXI-stream carries it)."""
    return (bits + 7) // 8 * 8


HWM_BITS = 16  # per FIFO


def write_top(stages: list[Stage], edges: list[Edge], path: str | Path, hwm: bool = True) -> list[Path]:
    """Write ``qvit_sim_top`` connecting ``stages`` by ``edges`` (one FIFO each, high-water mark i on
    ``hwm`` for edge i) to ``path``; ``hwm`` adds the high-water-mark debug port (for simulation;
    synthesis leaves it out). Gives the full, de-duplicated source list."""
    check_graph(stages, edges)
    n_host = sum(e.src is None for e in edges)
    lines = ["// Generated by qvit-fpga: stitched accelerator.", f"module {TOP} (",
             "\tinput  logic ap_clk,", "\tinput  logic ap_rst_n,"]
    for k, bits in enumerate(host_inputs(stages, edges) + [s.bits for s in side_streams(stages)]):
        lines += [f"\toutput logic in{k}_V_TREADY,", f"\tinput  logic in{k}_V_TVALID,",
                  f"\tinput  logic [{padded_bits(bits) - 1}:0] in{k}_V_TDATA,"]
    lines += ["\tinput  logic out0_V_TREADY,", "\toutput logic out0_V_TVALID,",
              f"\toutput logic [{padded_bits(output_bits(stages, edges)) - 1}:0] out0_V_TDATA,"]
    if hwm:
        lines.append(f"\toutput logic [{HWM_BITS * len(edges) - 1}:0] hwm,")
        lines.append(f"\toutput logic [{HWM_BITS * len(edges) - 1}:0] occ,")
        lines.append(f"\toutput logic [{HWM_BITS * len(edges) - 1}:0] pushed,")
    lines[-1] = lines[-1].rstrip(",")
    lines.append(");")

    def wires(name, bits):
        lines.extend([f"\tlogic [{padded_bits(bits) - 1}:0] {name}_tdata;", f"\tlogic {name}_tvalid, {name}_tready;"])

    def port(prefix, k, sig):
        return f"\tassign {sig}_tdata = {prefix}{k}_V_TDATA;\n\tassign {sig}_tvalid = {prefix}{k}_V_TVALID;\n" \
               f"\tassign {prefix}{k}_V_TREADY = {sig}_tready;"

    for i, st in enumerate(stages):
        for p, bits in enumerate(st.ins):
            wires(f"s{i}_i{p}", bits)
        for p, bits in enumerate(st.outs):
            wires(f"s{i}_o{p}", bits)
    host = 0
    for idx, e in enumerate(edges):
        src_bits, dst_bits = _src_bits(stages, e), _dst_bits(stages, e)
        if e.src is None:
            src = f"host{host}"
            wires(src, src_bits)
            lines.append(port("in", host, src))
            host += 1
        else:
            src = f"s{e.src[0]}_o{e.src[1]}"
        if src_bits != dst_bits:
            wires(f"dwc{idx}", dst_bits)
            lines.append(f"\tqvit_dwc #(.IBITS({src_bits}), .OBITS({dst_bits})) dwc{idx} (.ap_clk(ap_clk), "
                         f".ap_rst_n(ap_rst_n), .s_axis_tready({src}_tready), .s_axis_tvalid({src}_tvalid), "
                         f".s_axis_tdata({src}_tdata), .m_axis_tready(dwc{idx}_tready), .m_axis_tvalid(dwc{idx}_tvalid), "
                         f".m_axis_tdata(dwc{idx}_tdata));")
            src = f"dwc{idx}"
        if e.dst is None:
            dst = "top_out"
            wires(dst, dst_bits)
            lines += ["\tassign out0_V_TDATA = top_out_tdata;", "\tassign out0_V_TVALID = top_out_tvalid;",
                      "\tassign top_out_tready = out0_V_TREADY;"]
        else:
            dst = f"s{e.dst[0]}_i{e.dst[1]}"
        depth = max(2, int(e.depth))
        lines.append(f"\tlogic [$clog2({depth}+1):0] fifo{idx}_count, fifo{idx}_max;")
        # the FIFO stores the stream's own bits; the byte padding around it is zero and not stored
        lines.append(f"\tlogic [{dst_bits - 1}:0] fifo{idx}_odat;")
        lines.append(f"\tassign {dst}_tdata = {padded_bits(dst_bits)}'(fifo{idx}_odat);")
        lines.append(f"\tqvit_fifo #(.DEPTH({depth}), .DATA_WIDTH({dst_bits}), .RAM_STYLE(\"{e.ram_style}\")) "
                     f"fifo{idx} (")
        lines.append("\t\t.clk(ap_clk), .rst(!ap_rst_n),")
        lines.append(f"\t\t.idat({src}_tdata[{dst_bits - 1}:0]), .ivld({src}_tvalid), .irdy({src}_tready),")
        lines.append(f"\t\t.odat(fifo{idx}_odat), .ovld({dst}_tvalid), .ordy({dst}_tready),")
        pushed = f"pushed[{HWM_BITS * idx} +: {HWM_BITS}]" if hwm else ""
        lines.append(f"\t\t.count(fifo{idx}_count), .maxcount(fifo{idx}_max), .pushed({pushed}));")
        if hwm:
            lines.append(f"\tassign hwm[{HWM_BITS * idx} +: {HWM_BITS}] = {HWM_BITS}'(fifo{idx}_max);")
            lines.append(f"\tassign occ[{HWM_BITS * idx} +: {HWM_BITS}] = {HWM_BITS}'(fifo{idx}_count);")
    k_side = n_host
    for i, st in enumerate(stages):
        ports = [f".in{p}_V_TREADY(s{i}_i{p}_tready), .in{p}_V_TVALID(s{i}_i{p}_tvalid), .in{p}_V_TDATA(s{i}_i{p}_tdata)"
                 for p in range(len(st.ins))]
        for j in range(len(st.side)):
            p = len(st.ins) + j
            ports.append(f".in{p}_V_TREADY(in{k_side}_V_TREADY), .in{p}_V_TVALID(in{k_side}_V_TVALID), "
                         f".in{p}_V_TDATA(in{k_side}_V_TDATA)")
            k_side += 1
        ports += [f".out{p}_V_TREADY(s{i}_o{p}_tready), .out{p}_V_TVALID(s{i}_o{p}_tvalid), .out{p}_V_TDATA(s{i}_o{p}_tdata)"
                  for p in range(len(st.outs))]
        lines.append(f"\t{st.module} {st.name} (.ap_clk(ap_clk), .ap_rst_n(ap_rst_n),\n\t\t" + ",\n\t\t".join(ports) + ");")
    lines += ["endmodule", ""]
    path = Path(path)
    path.write_text("\n".join(lines))
    sources = [STREAM_DIR / "qvit_fifo.sv", STREAM_DIR / "qvit_dwc.sv"]
    for st in stages:
        sources += st.sources
    sources.append(path)
    seen, unique = set(), []
    for s in sources:
        key = Path(s).resolve()
        if key not in seen:
            seen.add(key)
            unique.append(key)
    return unique
