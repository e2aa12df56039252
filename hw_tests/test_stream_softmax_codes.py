"""The divider-free output rule of StreamSoftmax_rtl (``codegen.codes_by_search``: the largest q in 1..L-1 with
e >= ceil((2q-1) T / 2L), by binary search) equals the layer's min(floor((2eL + T) / 2T), L - 1): every e <= T for every
total T up to 1024 at 1..8 bits, and every table value 0..2**16 for totals across the range of 64-wide rows."""

import numpy as np
import pytest

from build_flows.rtl.stream_softmax.codegen import codes_by_search
from quant_models.int_ops import softmax_exp_table as exp_table


def _floor_rule(e, total, out_bits):
    levels = 2**out_bits
    return np.minimum((2 * e * levels + total) // (2 * total), levels - 1)


@pytest.mark.parametrize("out_bits", [1, 2, 4, 8])
def test_small_totals_every_e(out_bits):
    for lo in range(1, 1025, 128):
        total = np.arange(lo, lo + 128, dtype=np.int64)[:, None]
        e = np.arange(0, lo + 128, dtype=np.int64)[None, :]
        e, total = np.broadcast_arrays(e, total)
        inside = e <= total  # e is one term of the total
        got = codes_by_search(e[inside], total[inside], out_bits)
        assert np.array_equal(got, _floor_rule(e[inside], total[inside], out_bits)), lo


@pytest.mark.parametrize("out_bits", [1, 4])
def test_row_totals_every_table_value(out_bits):
    rng = np.random.default_rng(out_bits)
    totals = np.concatenate([np.arange(65536, 65536 + 20), rng.integers(65536, 64 * 65536 + 1, 40),
                             65536 * np.arange(2, 65, 3), [64 * 65536]]).astype(np.int64)
    e = np.arange(0, 65537, dtype=np.int64)
    for t in totals:
        tt = np.full_like(e, t)
        assert np.array_equal(codes_by_search(e, tt, out_bits), _floor_rule(e, tt, out_bits)), t


def test_exp_table_ends_at_its_first_zero():
    tab = exp_table(0.25, 255)
    assert tab[0] == 65536 and tab[-1] == 0 and np.all(tab[:-1] > 0) and np.all(np.diff(tab) <= 0)
    assert len(exp_table(0.03125, 255)) == 256 and exp_table(0.03125, 255)[-1] > 0  # no zero within 0..255
