"""SystemVerilog of qvit-fpga (package data), one folder per module with its generator beside it, as
finn-rtllib lays out its modules: ``mvau/`` (the LUT-based MVAU of ``MVAU_lut_rtl``), ``stream/`` (FIFO
and width converter: stitching infrastructure, not layers)."""

from pathlib import Path

RTL_DIR = Path(__file__).parent
STREAM_DIR = RTL_DIR / "stream"


class RTLUnsupported(ValueError):
    """A layer's numbers are outside what its RTL module implements (the message says which)."""
