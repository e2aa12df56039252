"""ChannelRequant_rtl: every INT11 value in every channel (constants beyond 32 bits, negative multipliers,
exact halves, clipping at both ends) under random stalls, the same constants on an outer channel axis (a
head-major stream: the channel changes every ``inner`` elements), and a mutant whose channel moves on every
beat."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.channel_requant import codegen as channel_requant
from build_flows.sim import stitch
from build_flows.sim.run import simulate

# channel by channel: n - 1/2 (floor of exact halves); 0.75 n + 100 (fractions .25/.5/.75); its mirror;
# ~1.18 n - 100; ~ -7.3 n + 192 with a 35-bit addend; n / 2**20 + 50 (floor of tiny negatives);
# a zero multiplier; ~8 n - 1024 with a 23-bit multiplier
CHANNEL_REQUANT = dict(PE=4, shift=20, levels=200, qmin=-100, inputDataType="INT11", outputDataType="INT8",
                       mult=[1 << 20, 3 << 18, -(3 << 18), 1234567, -7654321, 1, 0, (1 << 23) - 1],
                       add=[-(1 << 19), 100 << 20, (100 << 20) + (1 << 19), -(100 << 20), (1 << 33) - (8000 << 20),
                            50 << 20, (77 << 20) + 5, -(1 << 30)])


OUTER_INNER = 12  # the outer-channel case: 8 channels of 12 elements each, 3 beats of PE=4 per channel


def _channel_requant_params(inner: int = 1):
    return channel_requant.params_from(dict(CHANNEL_REQUANT, inner=inner).get, len(CHANNEL_REQUANT["mult"]))


def _channel_requant_lint(tmp):
    return channel_requant.write(_channel_requant_params(OUTER_INNER), tmp, "cr_dut"), "cr_dut"


def _run(tmp, source, inner: int, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(simulated, golden) codes of ``n`` (images x elements) through the RTL with ``inner``, under stalls."""
    p = _channel_requant_params(inner)
    assert p.width > 32  # the addends need more than 32 bits
    files = channel_requant.write(p, tmp, "cr_dut")
    if source is not None:
        files = [source, *files[1:]]
    stage = stitch.Stage("dut", "cr_dut", p.in_bits, p.out_bits, files)
    res = simulate([stage], n, p.idt, p.pe, p.odt, p.pe, n.shape[1], tmp, stall_in=0.3, stall_out=0.4, seed=4)
    c = np.arange(n.shape[1]) // inner % p.channels
    y = np.asarray(CHANNEL_REQUANT["mult"], dtype=np.int64)[c] * n + np.asarray(CHANNEL_REQUANT["add"], dtype=np.int64)[c]
    want = CHANNEL_REQUANT["qmin"] + np.clip(np.floor_divide(y, 2 ** CHANNEL_REQUANT["shift"]), 0, CHANNEL_REQUANT["levels"])
    return res.outputs, want


def _channel_requant_simulate(tmp, source=None):
    """Every INT11 value in every channel, in random order, 4 images; then random INT11 values on an outer
    channel axis, 16 images; both under stalls. Golden: exact integer floor division by 2**shift."""
    rng = np.random.default_rng(5)
    channels = len(CHANNEL_REQUANT["mult"])
    n = np.stack([rng.permutation(np.arange(-1024, 1024)) for _ in range(channels)], axis=1).reshape(4, -1)
    got_last, want_last = _run(tmp / "last", source, 1, n)
    outer = rng.integers(-1024, 1024, size=(16, channels * OUTER_INNER))
    got_outer, want_outer = _run(tmp / "outer", source, OUTER_INNER, outer)
    return np.concatenate([got_last.ravel(), got_outer.ravel()]), np.concatenate([want_last.ravel(), want_outer.ravel()])


CASES = {
    # the channel moves on every beat: right for the last axis, wrong for an outer one
    "ChannelRequant_rtl": BackendCase(_channel_requant_lint, _channel_requant_simulate, channel_requant.SOURCE,
                                      ("if (int'(run) == RUN - 1) fold <=", "fold <=")),
}
