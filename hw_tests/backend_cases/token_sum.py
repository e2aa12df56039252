"""TokenSum_rtl: sums over 7 tokens of INT10 values (extremes in every channel, the output type's ends
reached) for 4 images under random stalls, and a mutant that carries sums over into the next image."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.token_sum import codegen as token_sum
from build_flows.sim import stitch
from build_flows.sim.run import simulate

TOKEN_SUM = dict(PE=4, inputDataType="INT10", outputDataType="INT14")
SHAPE = (7, 12)  # tokens, channels


def _token_sum_params():
    return token_sum.params_from(TOKEN_SUM.get, (1, *SHAPE))


def _token_sum_lint(tmp):
    return token_sum.write(_token_sum_params(), tmp, "ts_dut"), "ts_dut"


def _token_sum_simulate(tmp, source=None):
    """4 images [7, 12] of INT10: random values, with channel 0 all -512 (the lowest sum), channel 1 all 511
    (the highest) and channel 2 alternating ends; golden: numpy's sum over tokens."""
    p = _token_sum_params()
    files = token_sum.write(p, tmp, "ts_dut")
    if source is not None:
        files = [source, *files[1:]]
    rng = np.random.default_rng(7)
    x = rng.integers(-512, 512, size=(4, *SHAPE))
    x[:, :, 0], x[:, :, 1] = -512, 511
    x[:, :, 2] = np.where(np.arange(SHAPE[0]) % 2, 511, -512)
    x[1] = -x[1].clip(-511)  # another image, mostly of the opposite sign
    stage = stitch.Stage("dut", "ts_dut", p.in_bits, p.out_bits, files)
    res = simulate([stage], x.reshape(4, -1), p.idt, p.pe, p.odt, p.pe, SHAPE[1], tmp, stall_in=0.3,
                   stall_out=0.4, seed=6)
    return res.outputs, x.sum(axis=1)


CASES = {
    # the first token adds to the previous image's sums instead of starting afresh
    "TokenSum_rtl": BackendCase(_token_sum_lint, _token_sum_simulate, token_sum.SOURCE,
                                ("first ? '0 : sums[fold]", "sums[fold]")),
}
