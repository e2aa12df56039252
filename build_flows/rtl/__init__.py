"""RTL of qvit-fpga's own hardware layers (SystemVerilog, package data) and its code generators."""

from pathlib import Path

RTL_DIR = Path(__file__).parent
