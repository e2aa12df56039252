"""What build steps share: the error type, the context they run in, and the step registry.

A step is ``step(model, ctx) -> model`` registered under its name with :func:`build_step`, as
FINN's ``build_dataflow_steps`` are; the runner (:mod:`build_flows.build.runner`) runs plain ordered
lists of names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from build_flows.boards import Board
from build_flows.build.report import BuildReport
from build_flows.config import BuildConfig

#: step name -> step function, filled by @build_step
STEP_FUNCTIONS: dict[str, Callable] = {}


def build_step(name: str):
    """Register ``fn(model, ctx) -> model`` as the build step ``name``."""
    def register(fn):
        if name in STEP_FUNCTIONS:
            raise ValueError(f"build step {name!r} registered twice")
        STEP_FUNCTIONS[name] = fn
        return fn
    return register


class BuildError(RuntimeError):
    """A build step failed; the message names the step, the cause and the fix."""


@dataclass
class BuildContext:
    """What steps share: the config, the board, the build directory, FINN's config and the report."""

    cfg: BuildConfig
    board: Board
    dir: Path
    finn_cfg: object
    report: BuildReport

    def golden(self):
        """The exported QONNX model, the reference every later graph is compared with."""
        from qonnx.core.modelwrapper import ModelWrapper

        return ModelWrapper(str(self.dir / "checkpoints" / "00_export.onnx"))
