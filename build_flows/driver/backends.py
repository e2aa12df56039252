"""What moves packed bytes through an accelerator: a PYNQ board (``PynqBackend``: the bitfile's overlay, buffers
from ``pynq.allocate``, the shell's IODMAs started by register writes and a time-out instead of an endless wait)
or the Verilator model of the same stitched design (``SimBackend``, on a machine with qvit-fpga installed).

Both take uint8 [n, beats, bytes] and give uint8 [n, beats, bytes]: the bytes a DMA would move.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .accelerator import DriverError

# The IODMA's AXI-lite registers (Vitis HLS control block of FINN's zynq-iodma shell)
AP_CTRL, ADDR_LO, ADDR_HI, NUM_IMAGES = 0x00, 0x10, 0x14, 0x1C
AP_START, AP_DONE, AP_IDLE = 0x1, 0x2, 0x4


class DriverTimeout(RuntimeError):
    """The output DMA did not finish in time."""


class PynqBackend:
    """The accelerator on a PYNQ board. ``overlay`` is a loaded ``pynq.Overlay`` (or anything with the IODMAs
    as attributes that have ``read``/``write``); ``allocate`` is ``pynq.allocate``."""

    name = "pynq"

    def __init__(self, overlay, allocate, desc: dict, timeout_s: float = 10.0):
        self.overlay, self.allocate, self.timeout_s = overlay, allocate, timeout_s
        self.oshape_packed = tuple(desc["oshape_packed"][0])
        names = desc["input_dma_name"][0], desc["output_dma_name"][0]
        try:
            self.idma, self.odma = (getattr(overlay, n) for n in names)
        except AttributeError as e:
            raise DriverError(f"the bitfile's design has no DMA named {names}: {e}; the bitfile and accelerator.json "
                              "must come from the same `qvit deploy`") from None
        self._stats: dict = {}

    def run(self, packed: np.ndarray) -> np.ndarray:
        n = len(packed)
        ibuf = self.allocate(shape=packed.shape, dtype=np.uint8)
        obuf = self.allocate(shape=(n, *self.oshape_packed[1:]), dtype=np.uint8)
        try:
            ibuf[:] = packed
            ibuf.flush()
            if not self.odma.read(AP_CTRL) & AP_IDLE:
                raise DriverError("the output DMA is busy with an earlier transfer: reload the bitfile (Overlay)")
            for dma, buf in ((self.odma, obuf), (self.idma, ibuf)):  # the output side first, so no beat is lost
                dma.write(ADDR_LO, buf.device_address & 0xFFFFFFFF)
                dma.write(ADDR_HI, buf.device_address >> 32)
                dma.write(NUM_IMAGES, n)
                dma.write(AP_CTRL, AP_START)
            t0 = time.perf_counter()
            while not self.odma.read(AP_CTRL) & AP_DONE:
                if time.perf_counter() - t0 > self.timeout_s:
                    raise DriverTimeout(f"the accelerator gave no result for {n} images within {self.timeout_s:g} s: "
                                        "check the bitfile matches accelerator.json and that the clock is running; "
                                        "raise --timeout for very large batches")
            obuf.invalidate()
            self._stats = {"dma_seconds": time.perf_counter() - t0}
            return np.array(obuf)
        finally:
            ibuf.freebuffer()
            obuf.freebuffer()

    def last_stats(self) -> dict:
        return dict(self._stats)


class SimBackend:
    """The Verilator model of the package's stitched accelerator (``sim/board.json`` and its RTL), fed the bytes
    the DMA would move. Needs qvit-fpga (its testbench and Verilator) where it runs, not on a board."""

    name = "sim"

    def __init__(self, sim_dir: str | Path, stall: float = 0.0, seed: int = 0):
        from build_flows.sim import verilator  # dev side only: qvit-fpga's harness

        self.dir = Path(sim_dir).resolve()
        board = self.dir / "board.json"
        if not board.exists():
            raise DriverError(f"{self.dir} holds no board.json: the package has no simulated board "
                              "(`qvit deploy` writes one for builds that ran the sim step)")
        self.board = json.loads(board.read_text())
        self.stall, self.seed = stall, seed
        self._verilator = verilator
        self.sim = verilator.build([self.dir / "rtl" / s for s in self.board["sources"]], self.board["in_bits"],
                                   self.board["out_bits"], defines=self.board["defines"])
        side = np.load(self.dir / "side_streams.npz") if self.board["side"] else {}
        self.side = [(side[s["key"]], s["beats_per_image"]) for s in self.board["side"]]
        self._stats: dict = {}

    def run(self, packed: np.ndarray) -> np.ndarray:
        n, beats, nbytes = packed.shape
        if beats != self.board["in_beats_per_image"] or nbytes != self.sim.in_bytes[0]:
            raise DriverError(f"packed input must be [n, {self.board['in_beats_per_image']}, {self.sim.in_bytes[0]}], "
                              f"got {list(packed.shape)}")
        out_beats = self.board["out_beats_per_image"]
        side = [(np.tile(b, (n, 1)), per) for b, per in self.side]
        # the same bound as the build's simulation: generous for every image plus the pipeline's fill
        max_cycles = 1000 + 50 * n * self.board["expected_cycles_per_image"] + 10_000
        try:
            out, stats = self._verilator.run(self.sim, packed.reshape(n * beats, nbytes), n * out_beats, beats,
                                             out_beats, self.stall, self.stall, self.seed, max_cycles, cwd=self.dir / "rtl",
                                             side=side, idle_cycles=self.board["idle_cycles"])
        except self._verilator.SimulatorError as e:
            raise DriverError(f"the simulated board failed: {e}") from None
        ii = self._verilator.cycles_per_image(stats)
        clock = self.board["clock_mhz"] * 1e6
        self._stats = {"simulated_cycles": stats["cycles"], "simulated_cycles_per_image": ii,
                       "simulated_images_per_s_at_clock": clock / ii, "clock_mhz": self.board["clock_mhz"],
                       "simulation_seconds": stats["seconds"]}
        return out.reshape(n, out_beats, -1)

    def last_stats(self) -> dict:
        return dict(self._stats)


def open_backend(kind: str, package: Path, desc: dict, bitfile: str | None = None, timeout_s: float = 10.0,
                 stall: float = 0.0, seed: int = 0):
    """The backend ``kind`` ("pynq" or "sim") for a deployment package."""
    if kind == "sim":
        return SimBackend(package / "sim", stall=stall, seed=seed)
    if kind != "pynq":
        raise DriverError(f"unknown backend {kind!r}: pynq (a board) or sim (the Verilator model)")
    bitfile = Path(bitfile) if bitfile else package / "bitfile" / "qvit.bit"
    if not bitfile.exists():
        raise DriverError(f"no bitfile at {bitfile}: this package was built without Vivado (the 'synthesize_bitfile' "
                          "step needs it); run the simulated board with --backend sim, or rebuild with Vivado")
    try:
        from pynq import Overlay, allocate
    except ImportError:
        raise DriverError("the pynq backend needs the pynq package (on a PYNQ board image it is installed); "
                          "use --backend sim on a machine without a board") from None
    return PynqBackend(Overlay(str(bitfile)), allocate, desc, timeout_s)
