"""GridPoolSum_rtl: 1x3, 5x1 and 3x5 windows on small grids with PE > 1, INT8 extremes (sums at both ends
of the output range) and negatives under random stalls, several images (the padding's flush overlapping
the next image); mutant: the grid's right border not masked."""

import numpy as np

from backend_cases.base import BackendCase
from build_flows.rtl.grid_pool_sum import codegen as grid_pool_sum
from build_flows.sim import stitch
from build_flows.sim.run import simulate

# (name, grid, kernel, channels, PE, output datatype)
POOLS = [("gps_13", (4, 5), (1, 3), 6, 2, "INT10"), ("gps_51", (4, 3), (5, 1), 4, 4, "INT11"),
         ("gps_35", (3, 6), (3, 5), 3, 3, "INT12")]


def _attrs(grid, kernel, channels, pe, odt):
    return dict(grid=list(grid), kernel=list(kernel), pads=[kernel[0] // 2, kernel[1] // 2],
                in_shape=[1, grid[0] * grid[1], channels], PE=pe, inputDataType="INT8", outputDataType=odt)


def _golden(x, grid, kernel):
    """Window sums of images x [n, H*W, C] by explicit loops over the window, zero outside the grid."""
    (h, w), (kh, kw) = grid, kernel
    img = x.reshape(len(x), h, w, -1)
    out = np.zeros_like(img)
    for r in range(h):
        for c in range(w):
            for i in range(-(kh // 2), kh // 2 + 1):
                for j in range(-(kw // 2), kw // 2 + 1):
                    if 0 <= r + i < h and 0 <= c + j < w:
                        out[:, r, c] += img[:, r + i, c + j]
    return out.reshape(len(x), -1)


def _grid_pool_sum_lint(tmp):
    name, *rest = POOLS[2]
    return grid_pool_sum.write(grid_pool_sum.params_from(_attrs(*rest).get), tmp, name), name


def _grid_pool_sum_simulate(tmp, source=None):
    """Five images per pool under stalls: random INT8, then all -128 and all 127 (the full window sums)."""
    rng = np.random.default_rng(7)
    got, want = [], []
    for name, grid, kernel, channels, pe, odt in POOLS:
        p = grid_pool_sum.params_from(_attrs(grid, kernel, channels, pe, odt).get)
        files = grid_pool_sum.write(p, tmp / name, name)
        if source is not None:
            files = [source, *files[1:]]
        x = rng.integers(-128, 128, size=(5, grid[0] * grid[1], channels), dtype=np.int64)
        x[1], x[3] = -128, 127
        stage = stitch.Stage(name, name, p.in_bits, p.out_bits, files)
        res = simulate([stage], x.reshape(5, -1), p.idt, pe, p.odt, pe, x[0].size, tmp / name, stall_in=0.3,
                       stall_out=0.4, seed=6)
        got.append(res.outputs)
        want.append(_golden(x, grid, kernel))
    return np.concatenate(got, axis=1), np.concatenate(want, axis=1)


CASES = {
    "GridPoolSum_rtl": BackendCase(_grid_pool_sum_lint, _grid_pool_sum_simulate, grid_pool_sum.SOURCE,
                                   ("c >= 0 && c < W;", "c >= 0;")),
}
