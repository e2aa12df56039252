"""ShiftRequant_rtl: every INT9 value of every channel under random stalls, and a rounding mutant."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.shift_requant import codegen as shift_requant
from build_flows.sim import stitch
from build_flows.sim.run import simulate

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


CASES = {
    # ties rounded up instead of to even
    "ShiftRequant_rtl": BackendCase(_shift_requant_lint, _shift_requant_simulate, shift_requant.SOURCE,
                                    ("(frac == half && down[0])", "(frac == half)")),
}
