"""The LUT model factors per layer type fitted to yosys (``data/calibration.yaml``, written by
``benchmarks/calibration.py``): an estimate is the layer's LUT model times its type's factor (1 for types not
calibrated: finn-rtllib's layers, which yosys cannot read)."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

CALIBRATION_FILE = Path(__file__).resolve().parents[1] / "data" / "calibration.yaml"


@functools.cache
def factors() -> dict[str, float]:
    """Layer op type -> LUT factor."""
    if not CALIBRATION_FILE.exists():
        return {}
    data = yaml.safe_load(CALIBRATION_FILE.read_text()) or {}
    return {op: float(row["LUT"]) for op, row in data.items()}


def calibrated_lut(op_type: str, model_lut: float) -> int:
    """The estimate of a layer of ``op_type`` whose LUT model gives ``model_lut``."""
    return int(round(model_lut * factors().get(op_type, 1.0)))
