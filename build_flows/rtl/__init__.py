"""SystemVerilog of qvit-fpga (package data), one folder per module with its generator beside it, as
finn-rtllib lays out its modules: ``mvau/`` (the LUT-based MVAU of ``MVAU_lut_rtl``), ``stream/`` (FIFO
and width converter: stitching infrastructure, not layers)."""

from __future__ import annotations

import re
from pathlib import Path

RTL_DIR = Path(__file__).parent
STREAM_DIR = RTL_DIR / "stream"


class RTLUnsupported(ValueError):
    """A layer's numbers are outside what its RTL module implements (the message says which)."""


def write_wrapper(path: Path, module: str, core: str, plist: str, in_widths: list[int], out_width: int, comment: str,
                  body: str = "") -> Path:
    """Write ``module``: FINN's ports (``ap_clk``, ``ap_rst_n``, AXI streams ``in<k>_V`` of ``in_widths`` bits
    and ``out0_V`` of ``out_width`` bits) around an instance of ``core`` with the parameter list ``plist``
    (``.NAME(value)`` entries), connected by name; ``comment`` heads the file (``//`` lines), ``body`` goes
    before the instance (ties of ports the core has but the wrapper does not). Gives ``path``."""
    ports = ["\tinput  logic ap_clk,", "\tinput  logic ap_rst_n,"]
    for k, w in enumerate(in_widths):
        ports += [f"\toutput logic in{k}_V_TREADY,", f"\tinput  logic in{k}_V_TVALID,",
                  f"\tinput  logic [{w - 1}:0] in{k}_V_TDATA,"]
    ports += ["\tinput  logic out0_V_TREADY,", "\toutput logic out0_V_TVALID,",
              f"\toutput logic [{out_width - 1}:0] out0_V_TDATA"]
    nl = "\n"
    # memory files by name, not by path: the same design generated in two directories is the same text (one
    # simulator build serves both); the simulation runs where the files are (build_flows.sim.run.simulate)
    plist = re.sub(r'"/[^"]*/([^/"]+\.dat)"', r'"\1"', plist)
    path.write_text(f"{comment.rstrip()}{nl}module {module} ({nl}{nl.join(ports)}{nl});{nl}{body}"
                    f"\t{core} #({nl}\t\t{plist}{nl}\t) core (.*);{nl}endmodule{nl}")
    return path
