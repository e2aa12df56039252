"""StreamSoftmax_rtl's rate and code widths: without stalls it takes one row per N/PE cycles whatever the
threshold unit's width (all 15 thresholds of 4-bit codes in a cycle at one beat per row, 5 a cycle at 3 beats,
one a cycle at 16), with 1- to 4-bit codes (the binary search's two stages: 1-bit codes are decided in the
first), masked or not, its codes those of the layer; a companion shows the check catches an e ring one row
buffer short."""

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from build_flows.rtl.stream_softmax import codegen
from build_flows.sim import stitch
from build_flows.sim.run import simulate
from quant_models.int_ops import int_softmax_codes

SCALE = 0.0625


def _stream(n, pe, out_bits, mask, tmp_path, images=4):
    """Simulate ``images`` of two n x n score matrices at PE ``pe`` without stalls; gives (result, golden)."""
    odt = DataType[f"UINT{out_bits}"]
    attrs = dict(PE=pe, inputDataType="INT8", outputDataType=odt.name, out_bits=out_bits, scale=SCALE,
                 mask_diagonal=mask)
    p = codegen.params_from(attrs.get, (2, n, n))
    files = codegen.write(p, tmp_path, "ssm_rate")
    z = np.random.default_rng(n * pe + out_bits).integers(-128, 128, (images, 2, n, n))
    stage = stitch.Stage("dut", "ssm_rate", p.in_bits, p.out_stream_bits, files)
    res = simulate([stage], z.reshape(images, -1), DataType["INT8"], pe, odt, pe, z[0].size, tmp_path)
    return res, int_softmax_codes(z, SCALE, out_bits, bool(mask)).reshape(images, -1)


@pytest.mark.parametrize("n,pe,out_bits,mask", [(16, 16, 4, 0), (12, 4, 4, 1), (64, 4, 4, 0), (16, 1, 4, 0),
                                                (8, 1, 1, 0), (16, 2, 3, 1), (16, 16, 2, 1)])
def test_one_row_per_fold(n, pe, out_bits, mask, tmp_path):
    res, want = _stream(n, pe, out_bits, mask, tmp_path)
    assert np.array_equal(res.outputs, want)
    assert res.cycles_per_image == 2 * n * (n // pe)  # 2n rows an image


def test_a_short_e_ring_is_caught(monkeypatch, tmp_path):
    """One e row buffer fewer than codegen sizes: still correct, but the rows no longer stream at full rate."""
    sized = codegen.e_row_slots
    monkeypatch.setattr(codegen, "e_row_slots", lambda folds, out_bits: sized(folds, out_bits) - 1)
    res, want = _stream(16, 1, 4, 0, tmp_path)
    assert np.array_equal(res.outputs, want)
    assert res.cycles_per_image > 2 * 16 * 16
