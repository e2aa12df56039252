"""Build configuration: one dataclass holding every knob of ``qvit build``, loadable from YAML and
saved into the build directory."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from build_flows.boards import DEFAULT_BOARD, get_board

MEM_MODES = ("internal_embedded", "internal_decoupled", "external")  # FINN's MVAU mem_mode values we build


@dataclass
class BuildConfig:
    """``model`` is a registered model name (shipped or given checkpoint, else random weights) or a
    QONNX file. ``until`` stops after the named step. ``clock_mhz`` defaults to the board's."""

    model: str
    out: str
    board: str = DEFAULT_BOARD
    clock_mhz: float | None = None
    target_fps: float | None = None
    folding_file: str | None = None
    checkpoint: str | None = None
    model_overrides: dict = field(default_factory=dict)
    until: str | None = None
    verify_vectors: int = 4
    seed: int = 0
    mvau_wwidth_max: int = 36
    mem_mode: str = "internal_embedded"
    sim_vectors: int = 8
    sim_stall: float = 0.3
    sim_fifo_depth: int = 32
    sim_size_fifos: bool = False

    def __post_init__(self):
        get_board(self.board)  # fail early on an unknown board
        if self.target_fps is not None and self.target_fps <= 0:
            raise ValueError(f"--target-fps must be positive, got {self.target_fps}")
        if self.mem_mode not in MEM_MODES:
            raise ValueError(f"mem_mode {self.mem_mode!r} is not one of {', '.join(MEM_MODES)}")
        if self.verify_vectors < 1:
            raise ValueError("verify_vectors must be at least 1")

    @property
    def clock(self) -> float:
        return self.clock_mhz or get_board(self.board).clock_mhz

    def fingerprint(self) -> str:
        """Hash of everything that changes a build's results up to estimates (not ``out``, ``until``, or the
        simulation settings, which `qvit sim` may change on an existing build)."""
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("out", "until") and not k.startswith("sim_")}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(dataclasses.asdict(self), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path, **overrides) -> BuildConfig:
        """Read a YAML file of BuildConfig fields; ``overrides`` (not None) replace fields."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise ValueError(f"{path}: unknown build config fields {bad}; known: {', '.join(sorted(names))}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)
