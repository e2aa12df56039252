"""StreamMLGRU_rtl: the recurrence over 7 tokens of 12 channels (PE 4) for 3 images under random stalls
against a numpy golden model (gate and candidate extremes, rounding ties of both signs), and a mutant that
carries the state over into the next image. ``run_case`` also serves test_stream_mlgru_rtl.py."""

import numpy as np
from qonnx.core.datatype import DataType

from backend_cases.base import BackendCase
from build_flows.rtl.stream_mlgru import codegen
from build_flows.sim import stitch
from build_flows.sim.run import HostInput, simulate

MLGRU = dict(PE=4, f_bits=4, inputDataType="UINT4", inputDataType1="INT8", outputDataType="INT8")
SHAPE = (3, 7, 12)  # images, tokens, channels


def golden(f: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """h_t = floor((F_t h_(t-1) + (2**k - F_t) C_t) / 2**k + 1/2) per image and channel, h_0 = 0, over
    axis 1 of [images, tokens, channels]."""
    h = np.zeros_like(c[:, 0], dtype=np.int64)
    out = np.empty(c.shape, dtype=np.int64)
    for t in range(c.shape[1]):
        h = np.floor((f[:, t] * h + (2**k - f[:, t]) * c[:, t]) / 2**k + 0.5).astype(np.int64)
        out[:, t] = h
    return out


def inputs(rng, fdt: DataType, cdt: DataType, k: int, shape):
    """Gate codes and candidates of ``shape`` [images, tokens, channels]: random, with the ends of both
    types planted and, in the first channels, first tokens whose update is an exact tie of either sign."""
    f = rng.integers(0, int(fdt.max()) + 1, size=shape)
    c = rng.integers(int(cdt.min()), int(cdt.max()) + 1, size=shape)
    f[:, ::3, -1], c[:, ::2, -1] = fdt.max(), cdt.max()      # a gate held high, candidate at its top
    f[:, 1::3, -2], c[:, 1::2, -2] = 0, cdt.min()             # no memory, candidate at its bottom
    half = 2 ** (k - 1)
    if fdt.max() >= half:  # (2**k - half) * (+-1) + half: a tie at +1/2 and -1/2 (round half up)
        f[:, 0, :2] = half
        c[:, 0, 0] = 1
        c[:, 0, 1] = -1 if cdt.signed() else 1
    return f, c


def _params(attrs: dict, shape) -> codegen.StreamMLGRUParams:
    """The RTL parameters of a layer of ``attrs`` on images of ``shape`` [images, tokens, channels]."""
    return codegen.params_from({**attrs, "out_shape": [1, *shape[1:]]}.get, (1, *shape[1:]))


def run_case(attrs: dict, shape, tmp, source=None, seed=5):
    """Simulate the layer of ``attrs`` on random ``inputs`` of ``shape`` under stalls; gives (got, want)."""
    p = _params(attrs, shape)
    files = codegen.write(p, tmp, "mlgru_dut")
    if source is not None:
        files = [source, *files[1:]]
    f, c = inputs(np.random.default_rng(seed), p.fdt, p.cdt, p.k, shape)
    a_w, b_w, o_w = p.widths
    stage = stitch.Stage("dut", "mlgru_dut", a_w, o_w, files, in_more=[b_w])
    edges = [stitch.Edge(None, (0, 0)), stitch.Edge(None, (0, 1)), stitch.Edge((0, 0), None)]
    n = shape[0]
    res = simulate([stage], f.reshape(n, -1), p.fdt, p.pe, p.odt, p.pe, f[0].size, tmp, edges=edges,
                   more_inputs=[HostInput(c.reshape(n, -1), p.cdt, p.pe)], stall_in=0.3, stall_out=0.4, seed=seed)
    return res.outputs, golden(f, c, p.k).reshape(n, -1)


def _lint(tmp):
    return codegen.write(_params(MLGRU, SHAPE), tmp, "mlgru_dut"), "mlgru_dut"


def _simulate(tmp, source=None):
    return run_case(MLGRU, SHAPE, tmp, source)


CASES = {
    # the first token of an image starts from the previous image's state instead of 0
    "StreamMLGRU_rtl": BackendCase(_lint, _simulate, codegen.SOURCE, ("first ? '0 : W'($signed(rh))", "W'($signed(rh))")),
}
