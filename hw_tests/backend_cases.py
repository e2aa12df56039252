"""Per RTL backend (``build_flows.layers.rtl.BACKENDS``): how to lint it, simulate it under random stalls
against its numpy golden model, and break it. ``test_rtl_backends.py`` runs every registered backend
through these, so a backend without an entry here fails there."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mvau_cases import case as mvau_case
from mvau_cases import golden, run, values

from build_flows.rtl.mvau import codegen as mvau


@dataclass
class BackendCase:
    """``lint_files(tmp) -> (files, top)``; ``simulate(tmp, source) -> (got, want)`` under random stalls, with the
    backend's own SystemVerilog or a replacement ``source``; ``source`` the SystemVerilog file to mutate and
    ``mutant`` (old text, new text) a change the golden model must catch."""

    lint_files: object
    simulate: object
    source: Path
    mutant: tuple[str, str]


def _mvau_lint(tmp):
    shape, w, thr = mvau_case("ternary-uint4-thr15")
    return mvau.write(shape, w, thr, tmp, "mvau_dut"), "mvau_dut"


def _mvau_simulate(tmp, source=None):
    shape, w, thr = mvau_case("xnor-acc")
    x = values(np.random.default_rng(7), shape.idt, (12, shape.mw))
    res = run(shape, w, thr, x, tmp, sources=source, stall=(0.3, 0.4))
    return res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, shape.act_val)


#: RTL backend class name -> its case
CASES = {
    "MVAU_lut_rtl": BackendCase(_mvau_lint, _mvau_simulate, mvau.SOURCE, ("~(b_x[SIMD-1:0] ^ b_w", "(b_x[SIMD-1:0] ^ b_w")),
}
