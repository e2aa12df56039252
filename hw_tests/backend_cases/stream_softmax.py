"""StreamSoftmax_rtl: three configurations under random stalls (12-wide rows at PE 4 with the diagonal masked:
5 thresholds a cycle; 16-wide rows at PE 16 = one beat per row: all 15 in one cycle; 16-wide rows at PE 1: one
a cycle), rows covering the edge cases, and a mutant that stops the row total from restarting at each row."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.stream_softmax import codegen as stream_softmax
from build_flows.sim import stitch
from build_flows.sim.run import simulate

#: (attributes, matrices per image, images)
CONFIGS = [
    (dict(PE=4, inputDataType="INT8", outputDataType="UINT4", out_bits=4, scale=0.0625, mask_diagonal=1), (2, 12, 12), 3),
    (dict(PE=16, inputDataType="INT8", outputDataType="UINT4", out_bits=4, scale=0.25, mask_diagonal=0), (2, 16, 16), 3),
    (dict(PE=1, inputDataType="INT8", outputDataType="UINT4", out_bits=4, scale=0.25, mask_diagonal=0), (2, 16, 16), 2),
]
LO, HI = -128, 127


def golden_rows(z, keep, scale, out_bits):
    """Codes of integer score rows ``z`` [rows, N] with ``keep`` (False: masked) by the layer's definition:
    e = floor(exp(-(max - z) * scale) * 2**16 + 0.5), 0 where masked; p = min(floor((2eL + T) / 2T), L - 1).
    Also gives which codes were a rounding tie ((2eL + T) divisible by 2T)."""
    m = np.where(keep, z, np.iinfo(np.int64).min).max(axis=1, keepdims=True)
    e = np.floor(np.exp(-(m - z).astype(np.float64) * scale) * 65536.0 + 0.5).astype(np.int64)
    e = np.where(keep, e, 0)
    total = e.sum(axis=1, keepdims=True)
    levels = 2**out_bits
    num = 2 * e * levels + total
    return np.minimum(num // (2 * total), levels - 1), keep & (num % (2 * total) == 0) & (num // (2 * total) < levels)


# rows (as d = 127 - z) with a rounding tie, found by a search: for scale 1/16 with column 0 masked (its
# value is free) and for scale 1/4 unmasked
TIE_ROWS = {
    0.0625: [5, 0, 0, 0, 0, 0, 29, 56, 56, 200, 200, 200],
    0.25: [0, 10, 2, 11, 10, 6, 2, 6, 5, 2, 7, 5, 11, 7, 0, 10],
}


def _tie_row(rng, n, diag, scale):
    """A row of ``n`` scores whose codes include a rounding tie; column ``diag`` is masked (none if < 0)."""
    row = HI - np.asarray(TIE_ROWS[scale])
    assert len(row) == n
    order = rng.permutation(n)
    if diag >= 0:  # the masked column 0 goes to the diagonal
        order = np.concatenate([[0], order[order != 0]])
        order[[0, diag]] = order[[diag, 0]]
    return row[order]


def _scores(rng, shape, n_img, scale, mask):
    """Score images [n_img, mats, N, N]: a mix of random rows, extremes, constant rows, narrow rows, rows
    with a rounding tie, and (masked) rows whose diagonal is their largest score."""
    mats, rows, n = shape
    z = np.empty((n_img, mats, rows, n), dtype=np.int64)
    kinds = ["random", "extremes", "constant", "narrow", "onehot", "tie", "diag_max"]
    for i in range(n_img):
        for mt in range(mats):
            for r in range(rows):
                kind = kinds[(i * mats * rows + mt * rows + r) % len(kinds)] if r else "random"
                if kind == "random":
                    row = rng.integers(LO, HI + 1, n)
                elif kind == "extremes":
                    row = rng.choice([LO, HI], n)
                elif kind == "constant":
                    row = np.full(n, rng.choice([LO, HI, 0, -1]))
                elif kind == "narrow":
                    row = rng.integers(-3, 9, n) - rng.integers(0, 120)
                elif kind == "onehot":
                    row = np.full(n, LO)
                    row[rng.integers(n)] = HI
                elif kind == "tie":
                    row = _tie_row(rng, n, r if mask else -1, scale)
                else:
                    row = rng.integers(LO, 60, n)
                    row[r % n] = HI
                z[i, mt, r] = row
    return z


def _params(attrs, shape):
    return stream_softmax.params_from(attrs.get, shape)


def _lint(tmp):
    attrs, shape, _ = CONFIGS[0]
    return stream_softmax.write(_params(attrs, shape), tmp, "ssm_dut"), "ssm_dut"


def _simulate(tmp, source=None):
    """Every configuration under stalls; gives (codes, golden codes), all configurations concatenated."""
    got, want = [], []
    rng = np.random.default_rng(11)
    for k, (attrs, shape, n_img) in enumerate(CONFIGS):
        p = _params(attrs, shape)
        files = stream_softmax.write(p, tmp / f"cfg{k}", "ssm_dut")
        if source is not None:
            files = [source, *files[1:]]
        z = _scores(rng, shape, n_img, attrs["scale"], attrs["mask_diagonal"])
        stage = stitch.Stage("dut", "ssm_dut", p.in_bits, p.out_stream_bits, files)
        res = simulate([stage], z.reshape(n_img, -1), p.idt, p.pe, p.odt, p.pe, z[0].size, tmp / f"cfg{k}",
                       stall_in=0.3, stall_out=0.4, seed=5 + k)
        n = shape[-1]
        keep = np.ones(z.shape, dtype=bool)
        if attrs["mask_diagonal"]:
            keep &= ~np.eye(n, dtype=bool)
        codes, tie = golden_rows(z.reshape(-1, n), keep.reshape(-1, n), attrs["scale"], attrs["out_bits"])
        assert tie.any() and (codes == 2 ** attrs["out_bits"] - 1).any(), "the scores miss a tie or a clipped code"
        got.append(res.outputs.reshape(-1))
        want.append(codes.reshape(-1))
    return np.concatenate(got), np.concatenate(want)


CASES = {
    # the row total keeps accumulating over rows instead of restarting at each row's first beat
    "StreamSoftmax_rtl": BackendCase(_lint, _simulate, stream_softmax.SOURCE,
                                     ("(b2_first ? '0 : acc) + bsum", "acc + bsum")),
}
