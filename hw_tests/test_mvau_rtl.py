"""qvit_mvau.sv (binary XNOR-popcount, ternary add/subtract, low-bit LUT multiply) against numpy, over
foldings, datatypes, threshold counts and ROM styles, under random stalls; mutants must be caught."""

import dataclasses
import itertools

import numpy as np
import pytest
from mvau_cases import CASES, DT, golden, make_case, run, values
from mvau_cases import case as _case

from build_flows.rtl.mvau import codegen as mvau


@pytest.mark.parametrize("name", list(CASES))
def test_mvau_matches_numpy_under_stalls(name, tmp_path):
    shape, w, thr = _case(name)
    x = values(np.random.default_rng(7), shape.idt, (12, shape.mw))
    res = run(shape, w, thr, x, tmp_path)
    want = golden(x, w, thr, shape.idt, shape.wdt, shape.odt, shape.act_val)
    assert res.outputs.shape == want.shape
    mismatches = np.argwhere(res.outputs != want)
    assert mismatches.size == 0, f"{len(mismatches)} outputs differ, first at {mismatches[:3].tolist()}"


def test_mvau_streams_one_beat_per_cycle_without_stalls(tmp_path):
    """Cycle count: MH/PE * MW/SIMD cycles per vector in steady state (FINN's MVAU cycle model)."""
    shape, w, thr = _case("xnor-acc")
    x = values(np.random.default_rng(3), shape.idt, (16, shape.mw))
    res = run(shape, w, thr, x, tmp_path, stall=(0.0, 0.0))
    assert np.array_equal(res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, 0))
    assert res.cycles_per_image == shape.nf * shape.sf


STREAMED = ["xnor-acc", "ternary-uint4-thr15", "int3w-uint2-thr3"]


@pytest.mark.parametrize("name", STREAMED)
def test_streamed_weights_match_numpy_under_stalls(name, tmp_path):
    """mem_mode external: the weights arrive on in1_V, which stalls independently of the input."""
    shape, w, thr = _case(name)
    shape = dataclasses.replace(shape, weight_stream=True)
    x = values(np.random.default_rng(5), shape.idt, (8, shape.mw))
    res = run(shape, w, thr, x, tmp_path)
    assert np.array_equal(res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, shape.act_val))
    assert not (tmp_path / "mvau_dut_weights.dat").exists(), "a streamed layer has no weight ROM"


def test_streamed_weights_cycle_count(tmp_path):
    shape, w, thr = _case("xnor-acc")
    shape = dataclasses.replace(shape, weight_stream=True)
    x = values(np.random.default_rng(3), shape.idt, (16, shape.mw))
    res = run(shape, w, thr, x, tmp_path, stall=(0.0, 0.0))
    assert np.array_equal(res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, 0))
    assert res.cycles_per_image == shape.nf * shape.sf


def test_misordered_weight_stream_is_caught(tmp_path):
    """Weight words sent in the wrong order (sf reversed) give wrong outputs: the stream order matters."""
    shape, w, thr = _case("xnor-acc")
    shape = dataclasses.replace(shape, weight_stream=True)
    beats = mvau.weight_stream_beats(shape, w).reshape(shape.nf, shape.sf, -1)[:, ::-1].reshape(shape.nf * shape.sf, -1)
    x = values(np.random.default_rng(5), shape.idt, (8, shape.mw))
    res = run(shape, w, thr, x, tmp_path, weight_beats=beats)
    assert not np.array_equal(res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, 0))


def test_weight_stream_is_finns_decoupled_layout(tmp_path):
    """Our weight stream equals FINN's own ``decoupled_npy`` weight stream of the same MVAU, packed
    element 0 in the least significant bits (FINN's stream packing)."""
    from finn.custom_op.fpgadataflow.matrixvectoractivation import MVAU
    from onnx import helper

    from build_flows.sim import streams

    for name in ("xnor-acc", "int3w-uint2-thr3"):
        shape, w, _ = _case(name)
        node = helper.make_node("MVAU", ["x", "w"], ["y"], domain="finn.custom_op.fpgadataflow", MW=shape.mw,
                                MH=shape.mh, SIMD=shape.simd, PE=shape.pe, inputDataType=shape.idt.name,
                                weightDataType=shape.wdt.name, outputDataType=shape.odt.name, noActivation=1)
        path = tmp_path / f"{name}.npy"
        MVAU(node).make_weight_file(w, "decoupled_npy", str(path))
        finn_words = np.load(path).reshape(-1, shape.pe * shape.simd)
        wdt = DT["BINARY"] if shape.wdt == DT["BIPOLAR"] else shape.wdt
        want = streams.pack_beats(finn_words, wdt, shape.pe * shape.simd)
        assert np.array_equal(mvau.weight_stream_beats(shape, w), want)


MUTANTS = {
    # name: (case, original text, mutated text)
    "xnor-becomes-xor": ("xnor-acc", "~(b_x[SIMD-1:0] ^ b_w", "(b_x[SIMD-1:0] ^ b_w"),
    "threshold-off-by-one": ("ternary-uint4-thr15", "if (a >= $signed", "if (a > $signed"),
    "subtract-ignored": ("bipolar-in-ternary-w", "? -xe :", "? xe :"),
    # the layer no longer waits for its weight stream: caught when in1_V stalls
    "weight-valid-ignored": ("xnor-acc", "assign w_ok = WSTREAM == 0 || in1_V_TVALID;", "assign w_ok = 1'b1;"),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_mutated_rtl_is_caught(mutant, tmp_path):
    case, old, new = MUTANTS[mutant]
    src = mvau.SOURCE.read_text()
    assert src.count(old) == 1, "mutation site moved: update the test"
    bad = tmp_path / "qvit_mvau.sv"
    bad.write_text(src.replace(old, new))
    shape, w, thr = _case(case)
    if "weight" in mutant:
        shape = dataclasses.replace(shape, weight_stream=True)
    x = values(np.random.default_rng(7), shape.idt, (12, shape.mw))
    res = run(shape, w, thr, x, tmp_path, sources=bad)
    assert not np.array_equal(res.outputs, golden(x, w, thr, shape.idt, shape.wdt, shape.odt, shape.act_val))


def test_wrong_golden_model_is_caught(tmp_path):
    """A golden model with the XNOR popcount read as a ±1 dot product disagrees with the RTL."""
    shape, w, thr = _case("xnor-acc")
    x = values(np.random.default_rng(7), shape.idt, (12, shape.mw))
    res = run(shape, w, thr, x, tmp_path)
    assert not np.array_equal(res.outputs, x @ w)


GRID = list(itertools.product(
    [("BIPOLAR", "BIPOLAR"), ("UINT4", "TERNARY"), ("INT2", "BIPOLAR"), ("UINT3", "INT4")],
    [(1, 1), (2, 4), (16, 8)],
    [0, 1, 7],
    ["block", "distributed"],
))


@pytest.mark.slow
@pytest.mark.parametrize("dts,fold,n_thr,rom", GRID)
def test_mvau_grid(dts, fold, n_thr, rom, tmp_path):
    idt, wdt = DT[dts[0]], DT[dts[1]]
    odt = DT["BIPOLAR"] if n_thr == 1 else None
    shape, w, thr = make_case(32, 16, fold[0], fold[1], idt, wdt, n_thr, odt, wdt == DT["TERNARY"], rom, seed=n_thr)
    x = values(np.random.default_rng(11), idt, (6, shape.mw))
    res = run(shape, w, thr, x, tmp_path, seed=n_thr + 3)
    assert np.array_equal(res.outputs, golden(x, w, thr, idt, wdt, shape.odt, shape.act_val))
