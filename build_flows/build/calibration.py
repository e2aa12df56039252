"""Resource models fitted to synthesis (``data/calibration.yaml``, written by ``benchmarks/calibration.py``).

A layer's LUT (all CLB LUTs: logic, distributed RAM and shift registers, as Vivado counts them), FF and LUTRAM
estimates are linear in a few facts of the layer (:data:`FEATURES`, :func:`features`): its own LUT model, its
stream widths, its parallel lanes, the width of its beat counter, the logic of its constant tables, the
distributed RAM of its buffers, the read multiplexers of its block RAMs stacked in depth and the input bits it
replays from a buffer. The coefficients per
layer type are fitted to yosys ``synth_xilinx`` counts over a grid of real designs (a type with few layers in the
grid gets fewer features). A type without its own fit keeps its LUT model (finn-rtllib's layers, which yosys
cannot read) and takes the FF and LUTRAM fit pooled over every calibrated layer.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from build_flows.layers.base import bram_read_mux

CALIBRATION_FILE = Path(__file__).resolve().parents[1] / "data" / "calibration.yaml"
FEATURES = ("model", "in_bits", "out_bits", "lanes", "counter_bits", "rom_logic", "lutram_model", "bram_mux",
            "replay_bits", "one")
RESOURCES = ("LUT", "FF", "LUTRAM")
POOLED = "_pooled"  # the fit over all calibrated layers, for types without their own


@functools.cache
def coefficients() -> dict[str, dict[str, dict[str, float]]]:
    """Layer op type -> resource -> feature -> coefficient (empty when no calibration is shipped)."""
    if not CALIBRATION_FILE.exists():
        return {}
    data = yaml.safe_load(CALIBRATION_FILE.read_text()) or {}
    return {op: {r: row[r] for r in RESOURCES if r in row} for op, row in data.items()}


def _attr(inst, name: str, default: int = 1) -> int:
    try:
        return int(inst.get_nodeattr(name))
    except (AttributeError, Exception):  # FINN raises a bare Exception for attributes a layer lacks
        return default


def features(inst, fpgapart: str | None = None) -> dict[str, float]:
    """The facts of a dataflow layer instance that the resource models are linear in."""
    res = inst.node_res_estimation(fpgapart)
    cycles = max(1, int(inst.get_exp_cycles()))
    return {"model": float(res.get("LUT", 0)),
            "in_bits": float(inst.get_instream_width(0)),
            "out_bits": float(inst.get_outstream_width(0)),
            "lanes": float(_attr(inst, "PE") * _attr(inst, "SIMD")),
            "counter_bits": float((cycles - 1).bit_length()),
            "rom_logic": float(inst.rom_logic()) if hasattr(inst, "rom_logic") else 0.0,
            "lutram_model": float(inst.lutram_model()) if hasattr(inst, "lutram_model") else 0.0,
            "bram_mux": float(sum(bram_read_mux(*m) for m in inst.block_memories()))
            if hasattr(inst, "block_memories") else 0.0,
            "replay_bits": float(inst.replay_bits()) if hasattr(inst, "replay_bits") else 0.0,
            "one": 1.0}


def lut_per_binary_mac() -> float:
    """LUTs per XNOR-popcount multiply-accumulate under the calibrated models: for each layer type that does binary
    MACs (MVAU_lut_rtl, StreamMatMul_rtl), the cheapest cost its fitted LUT model gives one more MAC lane: its
    coefficient on its own LUT model (times that model's LUTs per binary MAC) and on its lanes, plus the cheaper of
    the stream bit a lane adds (one more SIMD lane: an input bit; one more PE lane: at least an output bit); the
    cheaper type's. The roofline ceiling divides the LUT budget by it, so no design that fits exceeds the ceiling
    (every coefficient is non-negative)."""
    from build_flows.boards import LUT_PER_BINARY_MAC
    from build_flows.layers.rtl.mvau_lut_rtl import XNOR_LUT_PER_MAC

    per_mac = []
    for op, model_per_mac in (("MVAU_lut_rtl", XNOR_LUT_PER_MAC), ("StreamMatMul_rtl", LUT_PER_BINARY_MAC)):
        coef = coefficients().get(op, {}).get("LUT", {"model": 1.0})
        stream_bit = min(coef.get("in_bits", 0.0), coef.get("out_bits", 0.0))
        per_mac.append(coef.get("model", 0.0) * model_per_mac + coef.get("lanes", 0.0) + stream_bit)
    return min(v for v in per_mac if v > 0) if any(v > 0 for v in per_mac) else XNOR_LUT_PER_MAC


def estimate(op_type: str, feats: dict[str, float], table: dict | None = None) -> dict[str, int]:
    """{LUT, FF, LUTRAM} of a layer of ``op_type`` with ``feats``: its type's fitted model, else the LUT model
    and the pooled FF and LUTRAM fits (of ``table``, default the shipped calibration)."""
    table = coefficients() if table is None else table
    own, pooled = table.get(op_type, {}), table.get(POOLED, {})
    out = {}
    for r in RESOURCES:
        coef = own[r] if r in own else pooled.get(r) if r != "LUT" else None
        if coef is not None:  # an empty fit is a fit: none of the features costs anything
            value = sum(c * feats.get(f, 0.0) for f, c in coef.items())
        else:
            value = feats["model"] if r == "LUT" else 0.0
        out[r] = int(round(value))
    out["LUTRAM"] = min(out["LUTRAM"], out["LUT"])
    return out
