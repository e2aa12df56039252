"""What a backend's test case holds (see ``hw_tests/backend_cases/__init__.py``)."""

from dataclasses import dataclass
from pathlib import Path


@dataclass
class BackendCase:
    """``lint_files(tmp) -> (files, top)``; ``simulate(tmp, source) -> (got, want)`` under random stalls, with the
    backend's own SystemVerilog or a replacement ``source``; ``source`` the SystemVerilog file to mutate and
    ``mutant`` (old text, new text) a change the golden model must catch."""

    lint_files: object
    simulate: object
    source: Path
    mutant: tuple[str, str]
