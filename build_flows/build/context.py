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


class FifosOverBudget(BuildError):
    """The design is over the board's budget once the simulation has sized its FIFOs; ``fifos`` holds their
    {LUT, FF, LUTRAM, BRAM}. Under ``--target-fps max`` the runner folds again with them reserved."""

    def __init__(self, message: str, fifos: dict[str, int]):
        super().__init__(message)
        self.fifos = fifos


@dataclass
class BuildContext:
    """What steps share: the config, the board, the build directory, FINN's config and the report."""

    cfg: BuildConfig
    board: Board
    dir: Path
    finn_cfg: object
    report: BuildReport
    #: resources kept free for the FIFOs when ``--target-fps max`` searches the folding (their sized cost, known after
    #: a simulation; None before)
    fifo_reserve: dict[str, int] | None = None

    def random_inputs(self, n: int, seed: int):
        """``n`` random inputs of the golden model: integers over the whole range of an integer input (raw
        pixels), else standard normal floats; float32 [n, *input shape without the batch]."""
        import numpy as np

        golden = self.golden()
        name = golden.graph.input[0].name
        shape = (n, *golden.get_tensor_shape(name)[1:])
        dt = golden.get_tensor_datatype(name)
        rng = np.random.default_rng(seed)
        if dt.is_integer():
            return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape).astype(np.float32)
        return rng.standard_normal(shape).astype(np.float32)

    def golden(self):
        """The exported QONNX model, the reference every later graph is compared with."""
        from qonnx.core.modelwrapper import ModelWrapper

        return ModelWrapper(str(self.dir / "checkpoints" / "00_export.onnx"))
