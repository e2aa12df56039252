"""StreamMatMul_rtl: UINT4 @ INT4 with negated columns of a, three batch slices, SIMD 4 and PE 3, four images
under random stalls against numpy, and an unsigned-read-as-signed mutant. (BIPOLAR inputs and the cycle count:
hw_tests/test_stream_matmul_rtl.py, which shares :func:`run`.)"""

import numpy as np
from qonnx.core.datatype import DataType

from backend_cases.base import BackendCase
from build_flows.rtl.stream_matmul import codegen
from build_flows.sim import stitch
from build_flows.sim.run import HostInput, simulate

BATCH, M, K, N, IMAGES = 3, 5, 8, 6, 4
INTEGER = dict(SIMD=4, PE=3, inputDataType="UINT4", inputDataType1="INT4", outputDataType="INT11",
               signs=[1, -1, 1, 1, -1, 1, 1, -1])


def _values(rng, dt: DataType, shape):
    """Random values of ``dt`` (BIPOLAR: -1/+1)."""
    if dt == DataType["BIPOLAR"]:
        return 2 * rng.integers(0, 2, size=shape) - 1
    return rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)


def golden(a, b, signs):
    """a [..., M, K] @ b [..., K, N] with a's column k multiplied by signs[k] (none when empty), in int64."""
    a = a.astype(np.int64) * (np.asarray(signs, dtype=np.int64) if len(signs) else 1)
    return np.matmul(a, b.astype(np.int64))


def run(attrs, shape, tmp, source=None, stall_in=0.3, stall_out=0.4, images=IMAGES, seed=4):
    """Simulate ``images`` random products of ``shape`` (batch, M, K, N) under ``attrs`` (a StreamMatMul
    node's attributes), with the module's own SystemVerilog or ``source``. In the first slice of image 0, a's
    rows 0 and 1 are all at a's minimum and maximum, b's columns 0 and 1 at b's minimum and maximum, so
    the extreme sums occur. Gives (SimResult, golden outputs [images, values])."""
    batch, m, k, n = shape
    p = codegen.params_from(lambda key: attrs.get(key, []), (1, batch, m, k), (1, batch, k, n))
    files = codegen.write(p, tmp, "smm_dut")
    if source is not None:
        files = [source, *files[1:]]
    rng = np.random.default_rng(seed)
    a = _values(rng, p.adt, (images, batch, m, k))
    b = _values(rng, p.bdt, (images, batch, k, n))
    a[0, 0, :2] = np.asarray([p.adt.min(), p.adt.max()])[:, None]
    b[0, 0, :, :2] = [p.bdt.min(), p.bdt.max()]
    a_w, b_w, o_w = p.widths
    stage = stitch.Stage("dut", "smm_dut", a_w, o_w, files, in_more=[b_w])
    edges = [stitch.Edge(None, (0, 0)), stitch.Edge(None, (0, 1)), stitch.Edge((0, 0), None)]
    res = simulate([stage], a.reshape(images, -1), p.adt, p.simd, p.odt, p.pe, batch * m * n, tmp, edges=edges,
                   more_inputs=[HostInput(b.reshape(images, -1), p.bdt, p.pe)], stall_in=stall_in,
                   stall_out=stall_out, seed=seed)
    return res, golden(a, b, attrs.get("signs", [])).reshape(images, -1)


def _simulate(tmp, source=None):
    res, want = run(INTEGER, (BATCH, M, K, N), tmp, source)
    return res.outputs, want


def _lint(tmp):
    p = codegen.params_from(lambda key: INTEGER.get(key, []), (1, BATCH, M, K), (1, BATCH, K, N))
    return codegen.write(p, tmp, "smm_dut"), "smm_dut"


CASES = {
    # the unsigned input 0 read as signed
    "StreamMatMul_rtl": BackendCase(_lint, _simulate, codegen.SOURCE,
                                    ("av = AKIND == 1 ? AW'($signed(ra))", "av = AKIND != 2 ? AW'($signed(ra))")),
}
