"""The benchmark scripts' command lines: each takes ``--out DIR`` (default build/benchmarks) from
benchmarks/results.py, and ``--help`` works without running anything."""

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
#: the sibling modules the scripts import (not scripts themselves)
HELPERS = {"machine.py", "results.py"}
SCRIPTS = sorted(p.name for p in BENCHMARKS.glob("*.py") if p.name not in HELPERS)


def _results():
    spec = importlib.util.spec_from_file_location("benchmarks_results", BENCHMARKS / "results.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_is_covered():
    assert set(SCRIPTS) >= {"ablation.py", "accuracy.py", "build_flow.py", "calibration.py", "finn_parity.py",
                            "rtl_sim.py", "vit_sim.py", "train_speed.py"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_shows_out_directory(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), "--help"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())  # argparse wraps the help text
    assert "--out" in text and "build/benchmarks" in text


def test_out_dir_default_and_creation(tmp_path):
    results = _results()
    parser = argparse.ArgumentParser()
    results.add_out_argument(parser)
    assert parser.parse_args([]).out == "build/benchmarks" == results.DEFAULT_OUT
    target = tmp_path / "a" / "b"
    args = parser.parse_args(["--out", str(target)])
    assert results.out_dir(args) == target and target.is_dir()
    assert results.out_dir(args) == target  # an existing directory is fine
