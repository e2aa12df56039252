"""Build configuration: one dataclass holding every knob of ``qvit build``, loadable from YAML and
saved into the build directory. Each field is documented at the field (``#:``, as FINN's
``DataflowBuildConfig``); the command line is made from these fields (:func:`build_flows.cli_fields.add_arguments`), so a
knob and its flag never disagree."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from build_flows.boards import DEFAULT_BOARD, get_board
from build_flows.cli_fields import cli_option
from build_flows.rtl.mvau.codegen import MEM_MODES


def target_fps_arg(value) -> float | str:
    """A target FPS from the command line or a config file: "max", or a positive finite number."""
    if isinstance(value, str) and value.strip().lower() == "max":
        return "max"
    try:
        fps = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"--target-fps {value!r} is not a number or 'max'") from None
    if not math.isfinite(fps) or fps <= 0:
        raise ValueError(f"--target-fps must be a positive, finite number or 'max', got {value}")
    return fps


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cli_target_fps(value: str) -> float | str:
    try:
        return target_fps_arg(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


@dataclass
class BuildConfig:
    """Every knob of a build. ``model`` and ``out`` are required; the rest have defaults."""

    #: a registered model name (built from the given or shipped checkpoint, else random weights) or a QONNX file
    model: str = field(metadata=cli_option("build", "model"))
    #: the build directory (checkpoints per step, report.json)
    out: str = field(metadata=cli_option("build", required=True))
    #: the board (see `qvit boards`)
    board: str = field(default=DEFAULT_BOARD, metadata=cli_option("build"))
    #: the clock in MHz (default: the board's)
    clock_mhz: float | None = field(default=None, metadata=cli_option("build", type=float))
    #: frames per second the folding should reach, or "max" (the default): the highest FPS whose estimate fits the
    #: board's budget, found by bisection over balanced foldings
    target_fps: float | str | None = field(default="max", metadata=cli_option("build", type=cli_target_fps))
    #: a FINN folding JSON ({layer: {PE:, SIMD:}}) that overrides the automatic folding
    folding_file: str | None = field(default=None, metadata=cli_option("build"))
    #: a checkpoint for a registered model (default: the shipped one that fits the overrides)
    checkpoint: str | None = field(default=None, metadata=cli_option("build"))
    #: model config overrides, e.g. {img_size: 28, in_chans: 1} (`--set img_size=28`)
    model_overrides: dict = field(default_factory=dict)
    #: stop after this step (default: the last step that can run here; 'sim' adds the Verilator simulation)
    until: str | None = field(default=None, metadata=cli_option("build"))
    #: random input vectors for the python verification against QONNX
    verify_vectors: int = field(default=4, metadata=cli_option("build", "--vectors", type=int))
    #: seed of the verification and simulation inputs
    seed: int = 0
    #: FINN's cap on an MVAU's weight word width (bits) in its automatic folding
    mvau_wwidth_max: int = 36
    #: where MVAU weights live: internal_embedded or internal_decoupled (ROMs in the layer), or external (an
    #: AXI-stream input of the accelerator per layer, fed by the host)
    mem_mode: str = field(default="internal_embedded", metadata=cli_option("build", choices=MEM_MODES))
    #: what the accelerator's input takes: "float" (the model's own input, as exported) or "uint8" (raw 8-bit
    #: pixels: the export gains the pre-processing, x / 255 and for our checkpoints the dataset's
    #: standardisation, and its input is annotated UINT8, so the first quantizer becomes thresholds on 0..255
    #: and the input stream carries 8 bits per value; for a QONNX file, the model must take values in [0, 1])
    pixels: str = field(default="float", metadata=cli_option("build", choices=("float", "uint8")))
    #: random input vectors the RTL simulation compares with QONNX
    sim_vectors: int = field(default=8, metadata=cli_option("sim", "--vectors", type=int))
    #: real test images of the checkpoint's dataset simulated besides the random vectors: bit-exactness per image
    #: and the top-1 of the simulated outputs beside the torch model's on the same images
    sim_images: int = field(default=4, metadata=cli_option(("build", "sim"), "--images", type=int))
    #: valid/ready stall probability of the second, stalled simulation run
    sim_stall: float = field(default=0.3, metadata=cli_option("sim", "--stall", type=float))
    #: depth of FIFOs that FINN sized smaller, in the simulation
    sim_fifo_depth: int = field(default=32, metadata=cli_option("sim", "--fifo-depth", type=int))
    #: size every FIFO from its simulated occupancy (the host sending at the design's rate), check it by simulating
    #: again, and write the depths into the layers (FINN's inFIFODepths/outFIFODepths) for IP stitching; networks
    #: with sliding windows need it to reach their estimated rate
    sim_size_fifos: bool = field(default=False, metadata=cli_option(("build", "sim"), "--size-fifos",
                                                                     action="store_true"))

    #: build into --out even when it is a non-empty directory that holds no qvit build (its files may be overwritten)
    force: bool = field(default=False, metadata=cli_option("build", "--force", action="store_true"))

    #: the yosys step counts each layer only, not also the whole stitched design (which takes longest on large designs)
    yosys_layers_only: bool = field(default=False, metadata=cli_option("build", "--yosys-layers-only",
                                                                       action="store_true"))

    def __post_init__(self):
        get_board(self.board)  # fail early on an unknown board
        if self.target_fps is not None:
            self.target_fps = target_fps_arg(self.target_fps)
        if self.pixels not in ("float", "uint8"):
            raise ValueError(f"pixels {self.pixels!r} is not one of float, uint8")
        if self.mem_mode not in MEM_MODES:
            raise ValueError(f"mem_mode {self.mem_mode!r} is not one of {', '.join(MEM_MODES)}")
        if self.verify_vectors < 1:
            raise ValueError("verify_vectors must be at least 1")
        if self.sim_images < 0:
            raise ValueError(f"--images must be 0 or more, got {self.sim_images}")
        if self.sim_vectors < 1:
            raise ValueError(f"--vectors must be at least 1 (the random inputs that check the simulation), got "
                             f"{self.sim_vectors}")
        if not 0 <= self.sim_stall < 1:
            raise ValueError(f"--stall is a probability in [0, 1) (of a stalled valid/ready cycle), got {self.sim_stall}")
        if self.sim_fifo_depth < 2:
            raise ValueError(f"--fifo-depth must be at least 2, got {self.sim_fifo_depth}")
        if self.folding_file is not None:
            path = Path(self.folding_file)
            if not path.is_file():
                raise ValueError(f"--folding-file {path} does not exist")
            try:
                folding = json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError) as e:
                raise ValueError(f"--folding-file {path} is not a FINN folding JSON ({e})") from None
            if not isinstance(folding, dict):
                raise ValueError(f"--folding-file {path} must map layer names to {{PE: .., SIMD: ..}}")
        if self.clock_mhz is not None and not (math.isfinite(self.clock_mhz) and self.clock_mhz > 0):
            raise ValueError(f"--clock-mhz must be a positive, finite number of MHz (or left out for the board's), got "
                             f"{self.clock_mhz}")

    @property
    def clock(self) -> float:
        return get_board(self.board).clock_mhz if self.clock_mhz is None else self.clock_mhz

    def fingerprint(self) -> str:
        """Hash of everything that changes a build's results up to estimates (not ``out``, ``until``, the
        simulation settings, which `qvit sim` may change on an existing build, or whether yosys synthesises the
        stitched design too), with the contents, not only the paths, of the files it names (the model file, the
        checkpoint, the folding file): a file changed under the same path is a different build."""
        d = {k: v for k, v in dataclasses.asdict(self).items()
             if k not in ("out", "until", "force", "yosys_layers_only") and not k.startswith("sim_")}
        d["file_contents"] = {k: file_digest(d[k]) for k in ("model", "checkpoint", "folding_file")
                              if d[k] and Path(d[k]).is_file()}
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(dataclasses.asdict(self), sort_keys=False))

    @classmethod
    def load(cls, path: str | Path, **overrides) -> BuildConfig:
        """Read a YAML file of BuildConfig fields; ``overrides`` (not None) replace fields."""
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except yaml.YAMLError as e:
            raise ValueError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} must be a mapping of build config fields (field: value), got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        bad = sorted(set(data) - names)
        if bad:
            raise ValueError(f"{path}: unknown build config fields {bad}; known: {', '.join(sorted(names))}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        for f in dataclasses.fields(cls):  # numbers written as words in a YAML file: name the field
            if f.name in data and data[f.name] is not None and f.type in ("int", "float", "float | None"):
                try:
                    data[f.name] = (int if f.type == "int" else float)(data[f.name])
                except (TypeError, ValueError):
                    raise ValueError(f"{path}: {f.name} must be a number, got {data[f.name]!r}") from None
        return cls(**data)
