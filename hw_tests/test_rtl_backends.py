"""Every registered RTL backend: Verilator -Wall lint, yosys elaboration (the resource counts read the same
SystemVerilog), random-stall simulation equal to its numpy golden model, and a mutated RTL caught (cases in
backend_cases.py)."""

import numpy as np
import pytest
from backend_cases import CASES
from lint_filter import lint_problems

from build_flows.layers.rtl import BACKENDS
from build_flows.sim.verilator import SimulatorError, lint
from build_flows.synth.yosys import elaborate

NAMES = [b.__name__ for b in BACKENDS]


@pytest.mark.parametrize("name", NAMES)
def test_backend_has_cases_and_lints_clean(name, tmp_path):
    assert name in CASES, f"RTL backend {name} has no case in hw_tests/backend_cases.py"
    files, top = CASES[name].lint_files(tmp_path)
    assert lint_problems(lint(files, top)) == []


@pytest.mark.parametrize("name", NAMES)
def test_backend_elaborates_in_yosys(name, tmp_path):
    files, top = CASES[name].lint_files(tmp_path)
    elaborate(files, top)


@pytest.mark.parametrize("name", NAMES)
def test_backend_matches_golden_under_stalls(name, tmp_path):
    got, want = CASES[name].simulate(tmp_path)
    assert got.shape == want.shape and np.array_equal(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_backend_mutant_is_caught(name, tmp_path):
    case = CASES[name]
    old, new = case.mutant
    src = case.source.read_text()
    assert src.count(old) == 1, "mutation site moved: update backend_cases.py"
    bad = tmp_path / case.source.name
    bad.write_text(src.replace(old, new))
    try:
        got, want = case.simulate(tmp_path, bad)
    except SimulatorError as e:  # a mutant that loses beats never delivers them all: caught as a stopped run
        assert "output beats" in str(e)
        return
    assert not np.array_equal(got, want)
