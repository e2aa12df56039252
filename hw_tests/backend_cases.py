"""Per RTL backend (``build_flows.layers.rtl.BACKENDS``): how to lint it, simulate it under random stalls
against its numpy golden model, and break it. ``test_rtl_backends.py`` runs every registered backend
through these, so a backend without an entry here fails there."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mvau_cases import case as mvau_case
from mvau_cases import golden, run, values

from build_flows.rtl.mvau import codegen as mvau
from build_flows.rtl.shift_requant import codegen as shift_requant
from build_flows.sim import stitch
from build_flows.sim.run import simulate


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


SHIFT_REQUANT = dict(PE=3, shift=-3, offset=[0.5, -0.25, 0.0, 0.125, 1.75, -3.5], qmin=-16, qmax=15,
                     inputDataType="INT9", outputDataType="INT5")


def _shift_requant_params():
    return shift_requant.params_from(SHIFT_REQUANT.get, len(SHIFT_REQUANT["offset"]))


def _shift_requant_lint(tmp):
    return shift_requant.write(_shift_requant_params(), tmp, "sr_dut"), "sr_dut"


def _shift_requant_simulate(tmp, source=None):
    """Every INT9 value in every channel, in random order, under stalls; golden: the float definition with
    numpy's round half to even."""
    p = _shift_requant_params()
    files = shift_requant.write(p, tmp, "sr_dut")
    if source is not None:
        files = [source, *files[1:]]
    rng = np.random.default_rng(3)
    n = np.stack([rng.permutation(np.arange(-256, 256)) for _ in range(p.channels)], axis=1).reshape(8, -1)
    stage = stitch.Stage("dut", "sr_dut", p.in_bits, p.out_bits, files)
    res = simulate([stage], n, p.idt, p.pe, p.odt, p.pe, n.shape[1], tmp, stall_in=0.3, stall_out=0.4, seed=2)
    offsets = np.tile(np.asarray(SHIFT_REQUANT["offset"]), n.shape[1] // p.channels)
    want = np.clip(np.round(n * 2.0 ** SHIFT_REQUANT["shift"] + offsets), SHIFT_REQUANT["qmin"], SHIFT_REQUANT["qmax"])
    return res.outputs, want


#: RTL backend class name -> its case
CASES = {
    "MVAU_lut_rtl": BackendCase(_mvau_lint, _mvau_simulate, mvau.SOURCE, ("~(b_x[SIMD-1:0] ^ b_w", "(b_x[SIMD-1:0] ^ b_w")),
    # ties rounded up instead of to even
    "ShiftRequant_rtl": BackendCase(_shift_requant_lint, _shift_requant_simulate, shift_requant.SOURCE,
                                    ("(frac == half && down[0])", "(frac == half)")),
}
