"""AddStreams_rtl with a constant second input (a position embedding in a ROM): several images under random
stalls against numpy; the same ROM read one beat late is caught."""

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.rtl.stream_arith import codegen
from build_flows.sim import stitch
from build_flows.sim.run import simulate

TOKENS, C, PE = 5, 6, 3
ATTRS = dict(PE=PE, inputDataType="INT8", inputDataType1="INT6", outputDataType="INT9", signs0=[], signs1=[])


def _run(tmp, source=None):
    pos = np.random.default_rng(1).integers(-32, 32, size=(TOKENS, C))
    p = codegen.params_from("AddStreams", ATTRS.get, C, pos)
    files = codegen.write(p, tmp, "pos_dut")
    if source is not None:
        files = [source, *files[1:]]
    x = np.random.default_rng(2).integers(-128, 128, size=(4, TOKENS * C))
    x[0, :2] = [-128, 127]
    a_w, _, o_w = p.widths
    res = simulate([stitch.Stage("dut", "pos_dut", a_w, o_w, files)], x, DataType["INT8"], PE, DataType["INT9"], PE,
                   TOKENS * C, tmp, stall_in=0.3, stall_out=0.4, seed=1)
    return res.outputs, x + pos.reshape(1, -1)


def test_constant_input_matches_numpy_under_stalls(tmp_path):
    got, want = _run(tmp_path)
    assert np.array_equal(got, want)


def test_rom_read_one_beat_late_is_caught(tmp_path):
    src = codegen.SOURCE.read_text()
    old = "assign b_beat = beats[idx];"
    assert src.count(old) == 1
    bad = tmp_path / codegen.SOURCE.name
    bad.write_text(src.replace(old, "assign b_beat = beats[(int'(idx) + 1) % B_BEATS];"))
    got, want = _run(tmp_path, bad)
    assert not np.array_equal(got, want)
