"""Where a benchmark writes its result files: ``--out DIR``, by default ``build/benchmarks`` (relative to the
current directory, not tracked by git); ``--out benchmarks`` regenerates the tracked files the README quotes.
The file names are each benchmark's own (``build_flow.md``, ``build_flow.json``, ...)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUT = "build/benchmarks"
OUT_HELP = "directory for the result files (default build/benchmarks; --out benchmarks regenerates the files the README quotes)"


def add_out_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--out DIR`` (default :data:`DEFAULT_OUT`) to ``parser``."""
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR", help=OUT_HELP)


def out_dir(args: argparse.Namespace) -> Path:
    """The directory ``args.out``, created (with its parents) if missing."""
    path = Path(args.out)
    path.mkdir(parents=True, exist_ok=True)
    return path
