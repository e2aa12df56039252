"""PadStream_rtl: INT6 images padded on all four axes after the batch (the last one by whole beats of PE=4,
one axis only after) with a negative value, 4 images under random stalls, and an off-by-one mutant of the input box."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.pad_stream import codegen as pad_stream
from build_flows.sim import stitch
from build_flows.sim.run import simulate

IN_SHAPE = (1, 2, 3, 2, 8)
# (before, after) per axis; padding after on every axis keeps the mutant's shifted box inside the output
PAD_WIDTHS = [(0, 0), (0, 1), (1, 2), (2, 1), (4, 8)]
PAD_STREAM = dict(PE=4, inputDataType="INT6", outputDataType="INT6", value=-3.0,
                  pads=[p for pair in PAD_WIDTHS for p in pair])
OUT_SHAPE = tuple(d + b + a for d, (b, a) in zip(IN_SHAPE, PAD_WIDTHS))


def _pad_stream_params():
    return pad_stream.params_from(PAD_STREAM.get, IN_SHAPE, OUT_SHAPE)


def _pad_stream_lint(tmp):
    return pad_stream.write(_pad_stream_params(), tmp, "ps_dut"), "ps_dut"


def _pad_stream_simulate(tmp, source=None):
    """4 images of INT6 (both extremes in each, the rest random); golden: numpy's constant pad."""
    p = _pad_stream_params()
    files = pad_stream.write(p, tmp, "ps_dut")
    if source is not None:
        files = [source, *files[1:]]
    rng = np.random.default_rng(9)
    x = rng.integers(-32, 32, size=(4, *IN_SHAPE[1:]))
    x[:, 0, 0, 0, :2] = -32, 31
    x[:, -1, -1, -1, -2:] = 31, -32
    stage = stitch.Stage("dut", "ps_dut", p.in_bits, p.out_bits, files)
    res = simulate([stage], x.reshape(4, -1), p.dt, p.pe, p.dt, p.pe, int(np.prod(OUT_SHAPE)), tmp,
                   stall_in=0.3, stall_out=0.4, seed=8)
    want = np.pad(x, PAD_WIDTHS, constant_values=PAD_STREAM["value"]).reshape(4, -1)
    return res.outputs, want


CASES = {
    # the input box one position late on each axis
    "PadStream_rtl": BackendCase(_pad_stream_lint, _pad_stream_simulate, pad_stream.SOURCE,
                                 ("int'(pos[k]) >= B && int'(pos[k]) < B", "int'(pos[k]) > B && int'(pos[k]) <= B")),
}
