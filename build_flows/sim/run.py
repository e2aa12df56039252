"""Simulate a chain of RTL stages on numpy tensors: pack, build (cached), stream under stalls, unpack.

``simulate`` is the one entry point used by the per-node rtlsim of our custom ops, the hardware tests
and the stitched accelerator (`qvit sim`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.sim import stitch, streams, verilator


@dataclass
class SimResult:
    outputs: np.ndarray          # [images, out_values_per_image] float32
    cycles: int                  # total simulated cycles
    cycles_per_image: float      # initiation interval: cycles between consecutive images leaving, steady state
    latency_cycles: int          # first input beat of image 0 in -> last output beat of image 0 out
    fifo_hwm: list[int]          # high-water mark of each FIFO (in front of each stage, then the output FIFO)
    build_seconds: float
    sim_seconds: float
    cached_build: bool

    @property
    def cycles_per_second(self) -> float:
        return self.cycles / self.sim_seconds if self.sim_seconds > 0 else float("nan")


@dataclass
class HostInput:
    """A further graph input of the design (the top's ``in1_V``, ``in2_V``, ...): images ``x``
    [images, ...] of ``dt`` values, ``per_beat`` values per beat."""

    x: np.ndarray
    dt: DataType
    per_beat: int


def simulate(stages: list[stitch.Stage], x: np.ndarray, idt: DataType, in_per_beat: int, odt: DataType,
             out_per_beat: int, out_per_image: int, workdir: str | Path, fifo_depths: list[int] | None = None,
             stall_in: float = 0.0, stall_out: float = 0.0, seed: int = 0, max_cycles: int | None = None,
             edges: list[stitch.Edge] | None = None, more_inputs: list[HostInput] = (),
             idle_cycles: int = 0, in_period: int = 0) -> SimResult:
    """Stream images ``x`` [images, ...] (values of ``idt``, in FINN's folded stream order) through the
    stages and return their outputs (values of ``odt``), cycle counts and FIFO high-water marks.

    The stages form a chain with FIFOs of ``fifo_depths`` (one per stage input, then the output; 2 when
    None), or the graph of ``edges`` (:class:`stitch.Edge`, each with its depth), whose further inputs from
    the host take ``more_inputs``. ``in_per_beat``/``out_per_beat`` are elements per stream beat (SIMD or
    PE of the end stages), ``out_per_image`` the number of output values per image. The simulation runs
    in ``workdir``, where stages with relative memory-file paths must have put their files. High-water
    marks are per edge (for a chain: per FIFO). A run that stops early (``max_cycles``, or ``idle_cycles``
    without a beat entering or leaving) raises SimulatorError naming the full FIFOs, where a deadlock sits.
    ``in_period`` > 0: the host offers image k no earlier than cycle k * in_period (see verilator.run)."""
    x = np.asarray(x)
    n_img = x.shape[0]
    if edges is None:
        edges = stitch.chain_edges(len(stages), list(fifo_depths) if fifo_depths is not None else [2] * (len(stages) + 1))
    elif fifo_depths is not None:
        raise ValueError("give FIFO depths either in fifo_depths (chains) or in the edges, not both")
    hosts = [HostInput(x, idt, in_per_beat), *more_inputs]
    if len(hosts) != len(stitch.host_inputs(stages, edges)):
        raise ValueError(f"the design has {len(stitch.host_inputs(stages, edges))} graph input(s), got {len(hosts)} arrays")
    beats, per_img = [], []
    for k, h in enumerate(hosts):
        flat = np.asarray(h.x).reshape(n_img, -1)
        if flat.shape[1] % h.per_beat:
            raise ValueError(f"input {k}: {flat.shape[1]} values per image do not split into beats of {h.per_beat}")
        beats.append(streams.pack_beats(flat, h.dt, h.per_beat))
        per_img.append(flat.shape[1] // h.per_beat)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _gather_memory_files(stages, workdir)
    sources = stitch.write_top(stages, edges, workdir / "qvit_sim_top.sv")
    hwm_bytes = stitch.HWM_BITS * len(edges) // 8
    sides = stitch.side_streams(stages)
    sim = verilator.build(sources, stitch.host_inputs(stages, edges) + [s.bits for s in sides],
                          stitch.padded_bits(stitch.output_bits(stages, edges)),
                          defines=dict(HWM_PORT="hwm", OCC_PORT="occ", PUSHED_PORT="pushed", HWM_BYTES=hwm_bytes))
    out_per_img = out_per_image // out_per_beat
    side = [(b, n) for b, n in zip(beats[1:], per_img[1:])]
    side += [(np.tile(s.beats, (n_img, 1)), len(s.beats)) for s in sides]  # the same weights for every image
    try:
        out, stats = verilator.run(sim, beats[0], n_img * out_per_img, per_img[0], out_per_img, stall_in, stall_out,
                                   seed, max_cycles, cwd=workdir, side=side, idle_cycles=idle_cycles,
                                   in_period=in_period)
    except verilator.SimulatorError as e:
        if e.stats is None or "occ_hex" not in e.stats:
            raise
        occ = _fields(e.stats["occ_hex"], len(edges))
        full = [f"{_edge_name(stages, edge)} ({n}/{max(2, edge.depth)})" for edge, n in zip(edges, occ)
                if n >= max(2, edge.depth)]
        raise verilator.SimulatorError(f"{e}\nFIFOs full when it stopped: {', '.join(full) or 'none'}", e.stats) from None
    y = streams.unpack_beats(out, odt, out_per_beat).reshape(n_img, out_per_image)
    done = stats["last_out"]
    ii = verilator.cycles_per_image(stats)
    hwm = _fields(stats["hwm_hex"], len(edges))
    return SimResult(y, stats["cycles"], ii, done[0] - stats["first_in"][0] + 1, hwm, sim.build_seconds,
                     stats["seconds"], sim.cached)


def _gather_memory_files(stages: list[stitch.Stage], workdir: Path) -> None:
    """The memory files of every stage (next to its generated sources; the RTL names them without a path, as
    finn-rtllib's does) copied into ``workdir``, where the simulation runs."""
    import shutil

    for st in stages:
        for folder in {Path(src).parent for src in st.sources}:
            for dat in folder.glob("*.dat"):
                target = workdir / dat.name
                if dat.resolve() != target.resolve():
                    shutil.copy(dat, target)


def _fields(hex_text: str, n: int) -> list[int]:
    """The ``n`` per-FIFO counts of a debug port read as hex."""
    raw = int(hex_text, 16)
    return [(raw >> (stitch.HWM_BITS * i)) & ((1 << stitch.HWM_BITS) - 1) for i in range(n)]


def _edge_name(stages, e: stitch.Edge) -> str:
    src = "host" if e.src is None else f"{stages[e.src[0]].name}:{e.src[1]}"
    dst = "host" if e.dst is None else f"{stages[e.dst[0]].name}:{e.dst[1]}"
    return f"{src} -> {dst}"
