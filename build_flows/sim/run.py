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


def simulate(stages: list[stitch.Stage], x: np.ndarray, idt: DataType, in_per_beat: int, odt: DataType,
             out_per_beat: int, out_per_image: int, workdir: str | Path, fifo_depths: list[int] | None = None,
             stall_in: float = 0.0, stall_out: float = 0.0, seed: int = 0, max_cycles: int | None = None) -> SimResult:
    """Stream images ``x`` [images, ...] (values of ``idt``, in FINN's folded stream order) through the
    chained ``stages`` and return their outputs (values of ``odt``), cycle counts and FIFO high-water marks.

    ``in_per_beat``/``out_per_beat`` are elements per stream beat (SIMD or PE of the end stages),
    ``out_per_image`` the number of output values per image. The simulation runs in ``workdir``, where
    stages with relative memory-file paths must have put their files."""
    x = np.asarray(x)
    n_img = x.shape[0]
    flat_in = x.reshape(n_img, -1)
    if flat_in.shape[1] % in_per_beat:
        raise ValueError(f"{flat_in.shape[1]} input values per image do not split into beats of {in_per_beat}")
    fifo_depths = list(fifo_depths) if fifo_depths is not None else [2] * (len(stages) + 1)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sources = stitch.write_top(stages, fifo_depths, workdir / "qvit_sim_top.sv")
    hwm_bytes = stitch.HWM_BITS * len(fifo_depths) // 8
    sides = stitch.side_streams(stages)
    sim = verilator.build(sources, [stages[0].in_bits] + [s.bits for s in sides], stitch._pad(stages[-1].out_bits),
                          defines=dict(HWM_PORT="hwm", HWM_BYTES=hwm_bytes))
    beats = streams.pack_beats(flat_in, idt, in_per_beat)
    in_per_img = flat_in.shape[1] // in_per_beat
    out_per_img = out_per_image // out_per_beat
    side = [(np.tile(s.beats, (n_img, 1)), len(s.beats)) for s in sides]  # the same weights for every image
    out, stats = verilator.run(sim, beats, n_img * out_per_img, in_per_img, out_per_img, stall_in, stall_out, seed,
                               max_cycles, cwd=workdir, side=side)
    y = streams.unpack_beats(out, odt, out_per_beat).reshape(n_img, out_per_image)
    done = stats["last_out"]
    ii = (done[-1] - done[0]) / (len(done) - 1) if len(done) > 1 else float(done[0] - stats["first_in"][0] + 1)
    hwm_raw = int(stats["hwm_hex"], 16)
    hwm = [(hwm_raw >> (stitch.HWM_BITS * i)) & ((1 << stitch.HWM_BITS) - 1) for i in range(len(fifo_depths))]
    return SimResult(y, stats["cycles"], ii, done[0] - stats["first_in"][0] + 1, hwm, sim.build_seconds,
                     stats["seconds"], sim.cached)
