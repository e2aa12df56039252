"""The stitched design's FIFOs: where each one's memory lives and what it costs.

A FIFO (``rtl/stream/qvit_fifo.sv``, one per stream edge) keeps its words in distributed RAM or block RAM
(``RAM_STYLE``). Once the simulation has sized the FIFOs (``--size-fifos``), :func:`place_fifos` decides each one's
memory for the board, as the layers' memories are decided (the kind whose calibrated estimate takes the smaller
share of the budget), and gives their summed resources; the stitched RTL takes the same decision. The estimates are
the calibration's fits of yosys ``synth_xilinx`` counts of ``qvit_fifo`` over a grid of depths, widths and both
kinds (``benchmarks/calibration.py``, entries ``qvit_fifo_distributed`` and ``qvit_fifo_block``).
"""

from __future__ import annotations

import math

from build_flows.build import calibration
from build_flows.layers.base import bram18_for, bram_read_mux, lutram_sdp

STYLES = ("distributed", "block")


def fifo_features(depth: int, width: int, style: str) -> dict[str, float]:
    """The calibration features of a ``depth`` x ``width``-bit FIFO with its words in ``style`` memory: its own LUT
    model (the memory's LUTs, the read multiplexer over stacked memories, 4 LUT per pointer bit), the width, the
    pointer width, the distributed RAM and the block-RAM read multiplexer."""
    aw = max(1, (max(2, depth) - 1).bit_length())
    if style == "distributed":
        ram = lutram_sdp(depth, width)
        mux = width * (math.ceil(depth / 64) - 1) // 2
        return {"model": float(ram + mux + 4 * aw), "in_bits": float(width), "counter_bits": float(aw),
                "lutram_model": float(ram), "bram_mux": 0.0, "one": 1.0}
    if style == "block":
        mux = bram_read_mux(depth, width)
        return {"model": float(width + mux + 4 * aw), "in_bits": float(width), "counter_bits": float(aw),
                "lutram_model": 0.0, "bram_mux": float(mux), "one": 1.0}
    raise ValueError(f"FIFO memory style {style!r} is not one of {', '.join(STYLES)}")


def fifo_cost(depth: int, width: int, style: str) -> dict[str, int]:
    """{LUT, FF, LUTRAM, BRAM} of one FIFO (calibrated; BRAM18 from the memory's geometry)."""
    est = calibration.estimate(f"qvit_fifo_{style}", fifo_features(depth, width, style))
    return {**est, "BRAM": bram18_for(depth, width) if style == "block" else 0}


def place_fifos(depths: list[int], widths: list[int], board) -> tuple[list[str], dict[str, int]]:
    """Each FIFO's memory style for ``board`` (the kind whose cost takes the smaller share of its budget) and the
    FIFOs' summed {LUT, FF, LUTRAM, BRAM}. ``widths`` are the words' bits as the RTL stores them."""
    styles, totals = [], {"LUT": 0, "FF": 0, "LUTRAM": 0, "BRAM": 0}
    for depth, width in zip(depths, widths):
        costs = {s: fifo_cost(int(depth), int(width), s) for s in STYLES}
        style = min(STYLES, key=lambda s: board.budget_share(costs[s]))
        styles.append(style)
        for k in totals:
            totals[k] += costs[style][k]
    return styles, totals
