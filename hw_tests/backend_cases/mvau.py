"""MVAU_lut_rtl: lint, random-stall simulation against the golden model, and a mutant."""

import numpy as np
from mvau_cases import case as mvau_case
from mvau_cases import golden, run, values

from backend_cases.base import BackendCase
from build_flows.rtl.mvau import codegen as mvau


def _mvau_lint(tmp):
    shape, w, thr = mvau_case("ternary-uint4-thr15")
    return mvau.write(shape, w, thr, tmp, "mvau_dut"), "mvau_dut"


def _mvau_simulate(tmp, source=None):
    shape, w, thr = mvau_case("xnor-acc")
    x = values(np.random.default_rng(7), shape.idt, (12, shape.mw))
    res = run(shape, w, thr, x, tmp, sources=source, stall=(0.3, 0.4))
    return res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, shape.act_val)


CASES = {
    "MVAU_lut_rtl": BackendCase(_mvau_lint, _mvau_simulate, mvau.SOURCE, ("~(b_x[SIMD-1:0] ^ b_w", "(b_x[SIMD-1:0] ^ b_w")),
}
