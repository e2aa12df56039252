"""StreamMatMul_rtl beyond its backend case: BIPOLAR @ BIPOLAR (XNOR-popcount, with negated columns) and the
other element pairs of the shipped ViTs under random stalls, an XNOR mutant caught, and the unstalled cycles
per image equal to the layer's estimate macs / (PE * SIMD)."""

import numpy as np
import pytest
from backend_cases.stream_matmul import run

from build_flows.rtl.stream_matmul import codegen
from build_flows.sim.verilator import SimulatorError

SHAPE = (3, 6, 8, 6)  # batch slices, M, K, N
BIPOLAR = dict(SIMD=4, PE=2, inputDataType="BIPOLAR", inputDataType1="BIPOLAR", outputDataType="INT5",
               signs=[1, 1, -1, 1, -1, -1, 1, 1])
PAIRS = {
    "bipolar": BIPOLAR,
    "uint4_bipolar": dict(SIMD=2, PE=3, inputDataType="UINT4", inputDataType1="BIPOLAR", outputDataType="INT8"),
    "int4_int4": dict(SIMD=4, PE=6, inputDataType="INT4", inputDataType1="INT4", outputDataType="INT11"),
    # one beat of a per row and of b per k: b's stream (K beats a slice) is slower than the M cycles of work
    "int4_int4_unfolded": dict(SIMD=8, PE=6, inputDataType="INT4", inputDataType1="INT4", outputDataType="INT11"),
}


@pytest.mark.parametrize("pair", list(PAIRS))
def test_stream_matmul_matches_numpy_under_stalls(pair, tmp_path):
    res, want = run(PAIRS[pair], SHAPE, tmp_path)
    assert np.array_equal(res.outputs, want)


def test_stream_matmul_xnor_mutant_is_caught(tmp_path):
    old, new = "agree[s] = !(aq[s] ^ bq[s][p] ^ sq[s]);", "agree[s] = (aq[s] ^ bq[s][p] ^ sq[s]);"
    src = codegen.SOURCE.read_text()
    assert src.count(old) == 1, "mutation site moved: update the test"
    bad = tmp_path / codegen.SOURCE.name
    bad.write_text(src.replace(old, new))
    try:
        res, want = run(BIPOLAR, SHAPE, tmp_path, bad)
    except SimulatorError as e:
        assert "output beats" in str(e)
        return
    assert not np.array_equal(res.outputs, want)


@pytest.mark.parametrize("pair", ["bipolar", "int4_int4", "int4_int4_unfolded"])
def test_stream_matmul_cycles_match_estimate(pair, tmp_path):
    """Without stalls an image takes macs / (PE * SIMD) cycles (b's next slice loads while a streams)
    when M >= SIMD; else b's K * N / PE beats a slice set the pace."""
    attrs = PAIRS[pair]
    batch, m, k, n = SHAPE
    res, want = run(attrs, SHAPE, tmp_path, stall_in=0.0, stall_out=0.0, images=6)
    assert np.array_equal(res.outputs, want)
    estimate = batch * max(m * k * n / (attrs["PE"] * attrs["SIMD"]), k * n / attrs["PE"])
    assert abs(res.cycles_per_image - estimate) <= 0.1 * estimate
