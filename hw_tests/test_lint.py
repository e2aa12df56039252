"""Verilator -Wall lint of our RTL in every configuration the tests simulate: no warnings beyond signals
that a configuration leaves unused (stream padding bits, the ROM of a streamed layer, the thresholds of
an accumulator output) and the string comparison of the ROM-style parameter."""

import dataclasses

import pytest
from lint_filter import lint_problems
from mvau_cases import CASES
from mvau_cases import case as _case

from build_flows.rtl import STREAM_DIR
from build_flows.rtl.mvau import codegen as mvau
from build_flows.sim.verilator import lint


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("stream", [False, True], ids=["rom", "stream"])
def test_mvau_lints_clean(name, stream, tmp_path):
    shape, w, thr = _case(name)
    files = mvau.write(dataclasses.replace(shape, weight_stream=stream), w, thr, tmp_path, "mvau_dut")
    assert lint_problems(lint(files, "mvau_dut")) == []


def test_lint_reports_a_real_problem(tmp_path):
    """The filter lets real warnings through: a truncating assignment is reported."""
    bad = tmp_path / "bad.sv"
    bad.write_text("module bad (input logic [7:0] a, output logic [3:0] y);\n\tassign y = a;\nendmodule\n")
    assert any("WIDTHTRUNC" in m for m in lint_problems(lint([bad], "bad")))


@pytest.mark.parametrize("module,params", [("qvit_fifo", dict(DEPTH=5, DATA_WIDTH=12)),
                                           ("qvit_dwc", dict(IBITS=12, OBITS=20)),
                                           ("qvit_dwc", dict(IBITS=20, OBITS=12))])
def test_stream_helpers_lint_clean(module, params):
    assert lint_problems(lint([STREAM_DIR / f"{module}.sv"], module, params)) == []
