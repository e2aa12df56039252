"""TokenSum_rtl: sums over 7 tokens of INT10 values (extremes in every channel, the output type's ends
reached) for 4 images under random stalls, and a mutant that carries sums over into the next image.
WindowMax_rtl (the same RTL keeping a maximum): 2x2 windows of INT5 and of BIPOLAR values, and a mutant that
carries a window's maximum over into the next."""

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


WINDOW = 4  # window positions (2x2)
PIXELS, CHANNELS = 6, 8  # output pixels per image, channels


def _window_max_params(dtype: str, pe: int):
    get = dict(PE=pe, inputDataType=dtype, outputDataType=dtype, kernel_elems=WINDOW).get
    return token_sum.window_max_params(get, (1, PIXELS, WINDOW * CHANNELS), (1, PIXELS, CHANNELS))


def _window_max_lint(tmp):
    return token_sum.write(_window_max_params("INT5", 2), tmp, "wm_dut"), "wm_dut"


def _window_max_simulate(tmp, source=None):
    """3 images of 6 windows x 4 positions x 8 channels, INT5 (PE 2: with each channel's maximum at the type's
    lowest value in some windows and at its highest in others, and only negative values in others) and
    BIPOLAR (PE 4; codes 0/1 for -1/+1: all -1 windows give -1); golden: numpy's max over the positions."""
    rng = np.random.default_rng(11)
    gots, wants = [], []
    for dtype, pe, lo, hi in (("INT5", 2, -16, 16), ("BIPOLAR", 4, 0, 2)):
        p = _window_max_params(dtype, pe)
        files = token_sum.write(p, tmp / dtype, "wm_dut")
        if source is not None:
            files = [source, *files[1:]]
        x = rng.integers(lo, hi, size=(3, PIXELS, WINDOW, CHANNELS))
        x[0, 0], x[0, 1], x[1, 2] = lo, hi - 1, rng.integers(lo, max(lo + 1, 0), size=(WINDOW, CHANNELS))
        x[2, 3, :, 0] = [hi - 1, lo, lo, lo]  # the maximum first, then lower values
        codes = x if dtype != "BIPOLAR" else 2 * x - 1  # the stream packer takes BIPOLAR as -1/+1
        stage = stitch.Stage("dut", "wm_dut", p.in_bits, p.out_bits, files)
        res = simulate([stage], codes.reshape(3, -1), p.idt, p.pe, p.odt, p.pe, PIXELS * CHANNELS, tmp / dtype,
                       stall_in=0.3, stall_out=0.4, seed=5)
        gots.append(res.outputs.reshape(-1))
        wants.append(codes.max(axis=2).reshape(-1))
    return np.concatenate(gots), np.concatenate(wants)


CASES = {
    # the first token adds to the previous image's sums instead of starting afresh
    "TokenSum_rtl": BackendCase(_token_sum_lint, _token_sum_simulate, token_sum.SOURCE,
                                ("(first ? '0 : kept)", "kept")),
    "WindowMax_rtl": BackendCase(lambda tmp: _window_max_lint(tmp), lambda tmp, source=None: _window_max_simulate(
        tmp, source), token_sum.SOURCE, ("first || greater ? x : kept", "greater ? x : kept")),
}
