"""finn-plus's environment needs, handled in one place.

finn-plus reads ``FINN_BUILD_DIR`` and ``XILINX_VIVADO`` at import time, and its builder module
imports the Vivado simulator binding (``finn.xsi``) eagerly. ``prepare_finn()`` must run before any
``finn`` import of ours: it sets a build directory, and, when Vivado is not installed, puts a stand-in
for the simulator class in place that fails with a clear message if a step really needs it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class VivadoRequiredError(RuntimeError):
    """A step needs Vivado/Vitis, which is not installed."""


def vivado_available() -> bool:
    """True when XILINX_VIVADO points at an installation with a ``vivado`` binary."""
    path = os.environ.get("XILINX_VIVADO")
    return bool(path) and (Path(path) / "bin" / "vivado").exists()


def require_vivado(step: str, board=None, written: str = "") -> None:
    """Raise :class:`VivadoRequiredError` naming ``step``, the Vivado version ``board`` needs (``qvit boards``) and
    what the step has ``written`` so far, when Vivado is not installed."""
    if not vivado_available():
        version = f" ({board.name} needs Vivado {board.vivado}; see `qvit boards`)" if board is not None else ""
        raise VivadoRequiredError(
            f"step '{step}' needs Vivado/Vitis (AMD){version}, which is not installed here (XILINX_VIVADO unset or "
            f"without bin/vivado). {written + '. ' if written else ''}Install Vivado and source its settings64.sh, "
            "or use the Docker image with Vivado mounted (README: Docker); everything up to this step is in the build "
            "directory and the build resumes from it.")


class _SimEngineNeedsVivado:
    """Stand-in for ``finn.xsi.SimEngine`` when Vivado is absent."""

    def __init__(self, *args, **kwargs):
        require_vivado("xsim simulation (finn.xsi)")


def prepare_finn(build_dir: str | Path | None = None) -> None:
    """Set finn-plus's environment for Python-only use (idempotent)."""
    if build_dir is not None:
        os.environ["FINN_BUILD_DIR"] = str(build_dir)
    os.environ.setdefault("FINN_BUILD_DIR", str(Path(tempfile.gettempdir()) / "qvit_finn_build"))
    Path(os.environ["FINN_BUILD_DIR"]).mkdir(parents=True, exist_ok=True)
    if not vivado_available():
        import finn.xsi

        if "SimEngine" not in vars(finn.xsi):
            finn.xsi.SimEngine = _SimEngineNeedsVivado
