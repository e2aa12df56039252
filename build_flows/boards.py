"""Boards as data: :data:`BOARDS` is read from ``data/boards.yaml``; ``get_board(name)`` looks one up."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

#: the estimate's resource keys and how the summary names them
RESOURCE_NAMES = {"LUT": "LUT", "FF": "FF", "LUTRAM": "LUTRAM", "BRAM": "BRAM18", "URAM": "URAM", "DSP": "DSP"}
LUT_BUDGET = 0.70  # FINN plans designs to 70 % of a device's LUTs; FFs and LUTRAM are planned the same way
LUT_PER_BINARY_MAC = 6.6  # FINN's LUT model of an XNOR-popcount MAC (StreamMatMul's estimate until it is calibrated)


@dataclass(frozen=True)
class Board:
    """One board: device part, resources, default clock, shell and the tool versions it needs."""

    name: str
    finn_name: str
    part: str
    family: str
    lut: int
    lutram: int  # LUTs that can be distributed RAM (those of SLICEMs)
    ff: int
    bram36: int
    uram: int
    dsp: int
    clock_mhz: float
    shell: str
    axi_width: int
    vivado: str
    pynq: str
    default: bool = False

    def budget(self) -> dict[str, float]:
        """What a design may use, per resource of the estimate: LUT, FF and LUTRAM (FINN's 70 % plan), BRAM (18k
        halves of the BRAM36), URAM and DSP (all of them)."""
        return {"LUT": LUT_BUDGET * self.lut, "FF": LUT_BUDGET * self.ff, "LUTRAM": LUT_BUDGET * self.lutram,
                "BRAM": 2 * self.bram36, "URAM": self.uram, "DSP": self.dsp}

    def budget_share(self, cost: dict) -> float:
        """The summed share of :meth:`budget` that ``cost`` ({resource: amount}) takes: how memory placement weighs
        a choice between LUTs and block RAM."""
        budget = self.budget()
        return sum(v / max(budget[k], 1) for k, v in cost.items())

    def over_budget(self, totals: dict) -> list[str]:
        """One line per resource of ``totals`` ({LUT, FF, LUTRAM, BRAM, URAM, DSP}) above :meth:`budget`; empty
        when it fits."""
        of = {"LUT": f" (70 % of {self.lut:,})", "FF": f" (70 % of {self.ff:,})", "LUTRAM": f" (70 % of {self.lutram:,})"}
        return [f"{totals[k]:,} {RESOURCE_NAMES[k]} > {limit:,.0f}{of.get(k, '')}" for k, limit in self.budget().items()
                if totals.get(k, 0) > limit]

    def binary_op_ceiling(self, lut_per_mac: float, clock_mhz: float | None = None) -> float:
        """Binary operations per second (2 per XNOR-popcount MAC) the LUT budget could sustain if every LUT of it
        were a MAC of ``lut_per_mac`` LUTs, one MAC per cycle: no design that fits does more."""
        return 2 * self.lut * LUT_BUDGET / lut_per_mac * (clock_mhz or self.clock_mhz) * 1e6


def _load() -> dict[str, Board]:
    entries = yaml.safe_load((Path(__file__).parent / "data" / "boards.yaml").read_text())
    return {e["name"]: Board(**e) for e in entries}


BOARDS = _load()
DEFAULT_BOARD = next(b.name for b in BOARDS.values() if b.default)


def get_board(name: str) -> Board:
    """Board by our name or FINN's name (case-insensitive); unknown names list the choices."""
    for b in BOARDS.values():
        if name.lower() in (b.name.lower(), b.finn_name.lower()):
            return b
    raise ValueError(f"unknown board {name!r}; available boards: {', '.join(BOARDS)} (see `qvit boards`)")
