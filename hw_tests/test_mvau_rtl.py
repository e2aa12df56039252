"""qvit_mvau.sv (binary XNOR-popcount, ternary add/subtract, low-bit LUT multiply) against numpy, over
foldings, datatypes, threshold counts and ROM styles, under random stalls; mutants must be caught."""

import dataclasses
import itertools

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from build_flows.rtl import mvau
from build_flows.sim import stitch
from build_flows.sim.run import simulate

DT = DataType


def golden(x, w, thr, idt, wdt, odt, act_val):
    """numpy model of the layer: XNOR popcount (bipolar x bipolar) or x @ w, then multi-threshold."""
    if idt == DT["BIPOLAR"] and wdt == DT["BIPOLAR"]:
        acc = (x.shape[-1] + x @ w) / 2
    else:
        acc = x @ w
    if thr is None:
        return acc
    count = (acc[..., None] >= np.broadcast_to(thr, (w.shape[1], thr.shape[-1]))).sum(-1)
    return 2 * count - 1 if odt == DT["BIPOLAR"] else count + act_val


def values(rng, dt, shape):
    if dt == DT["BIPOLAR"]:
        return rng.choice([-1.0, 1.0], size=shape).astype(np.float32)
    return rng.integers(dt.min(), dt.max() + 1, size=shape).astype(np.float32)


def make_case(mw, mh, simd, pe, idt, wdt, n_thr, odt=None, ternary=False, ram_style="auto", seed=0):
    rng = np.random.default_rng(seed)
    w = rng.integers(-1, 2, size=(mw, mh)).astype(np.float32) if ternary else values(rng, wdt, (mw, mh))
    x_probe = values(rng, idt, (256, mw))
    acc = golden(x_probe, w, None, idt, wdt, None, 0)
    lo, hi = int(acc.min()) - 4, int(acc.max()) + 4
    act_val = 0
    thr = None
    if n_thr:
        thr = np.sort(rng.integers(lo, hi + 1, size=(mh, n_thr)), axis=1).astype(np.float32)
        if odt is None:
            odt = DT[f"UINT{max(1, int(n_thr).bit_length())}"]
        act_val = int(odt.min()) if odt != DT["BIPOLAR"] else 0
    if idt == DT["BIPOLAR"] and wdt == DT["BIPOLAR"]:
        acc_lo, acc_hi = 0, mw
    else:
        span = np.abs(w).sum(0).max() * max(abs(idt.min()), abs(idt.max()))
        acc_lo, acc_hi = -int(span), int(span)
    if odt is None:  # accumulator output: the smallest type holding [acc_lo, acc_hi]
        odt = DT.get_smallest_possible(acc_hi)
        if acc_lo < 0:
            odt = DT[f"INT{max(DT.get_smallest_possible(acc_lo).bitwidth(), odt.bitwidth() + 1)}"]
    shape = mvau.MVAUShape(mw, mh, simd, pe, idt, wdt, odt, acc_lo, acc_hi, mvau.arithmetic(idt, wdt), n_thr or 0,
                           act_val, ram_style)
    return shape, w, thr


def run(shape, w, thr, x, tmp, sources=None, stall=(0.3, 0.4), seed=1, weight_beats=None):
    """Simulate the layer; with ``shape.weight_stream`` the weights go in on in1_V (``weight_beats``, by
    default the layer's own stream)."""
    files = mvau.write(shape, w, thr, tmp, "mvau_dut")
    if sources is not None:
        files = [sources, *files[1:]]
    side = []
    if shape.weight_stream:
        beats = mvau.weight_stream_beats(shape, w) if weight_beats is None else weight_beats
        side = [stitch.SideStream(shape.weight_bits, beats)]
    st = stitch.Stage("dut", "mvau_dut", shape.in_bits, shape.out_bits, files, side)
    return simulate([st], x, shape.idt, shape.simd, shape.odt, shape.pe, shape.mh, tmp, stall_in=stall[0],
                    stall_out=stall[1], seed=seed)


CASES = {
    # name: (MW, MH, SIMD, PE, idt, wdt, thresholds, odt, ternary weights, ROM style)
    "xnor-acc": (48, 16, 8, 4, "BIPOLAR", "BIPOLAR", 0, None, False, "block"),
    "xnor-sign": (48, 8, 48, 1, "BIPOLAR", "BIPOLAR", 1, "BIPOLAR", False, "distributed"),
    "xnor-wide-chunks": (72, 6, 36, 2, "BIPOLAR", "BIPOLAR", 0, None, False, "auto"),  # 3 popcount chunks, padded
    "ternary-uint4-thr15": (24, 6, 4, 2, "UINT4", "TERNARY", 15, "INT4", True, "auto"),
    "binaryw-int4-acc": (16, 8, 2, 8, "INT4", "BIPOLAR", 0, None, False, "distributed"),
    "bipolar-in-ternary-w": (20, 4, 5, 4, "BIPOLAR", "TERNARY", 3, "UINT2", True, "block"),
    "bipolar-in-int2-w": (20, 4, 5, 4, "BIPOLAR", "INT2", 3, "UINT2", False, "block"),
    "int3w-uint2-thr3": (12, 6, 3, 3, "UINT2", "INT3", 3, "UINT2", False, "auto"),
    "int4w-int8-acc": (8, 4, 1, 1, "INT8", "INT4", 0, None, False, "distributed"),
}


def _case(name, seed=0):
    mw, mh, simd, pe, idt, wdt, n_thr, odt, tern, rom = CASES[name]
    return make_case(mw, mh, simd, pe, DT[idt], DT[wdt], n_thr, DT[odt] if odt else None, tern, rom, seed)


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
