"""Shared test cases of the XNOR-popcount / add-subtract / LUT-multiply MVAU (``qvit_mvau.sv``): the
numpy golden model, a case generator, named cases and the simulation runner, used by the MVAU, lint,
yosys and RTL-backend tests."""

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.rtl.mvau import codegen as mvau
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
    # one beat per input vector (SF = 1) replayed over 4 neuron folds: held in the multiply stage's register
    "int8-one-beat-acc": (12, 8, 12, 2, "INT8", "BIPOLAR", 0, None, False, "block"),
}


def case(name, seed=0):
    mw, mh, simd, pe, idt, wdt, n_thr, odt, tern, rom = CASES[name]
    return make_case(mw, mh, simd, pe, DT[idt], DT[wdt], n_thr, DT[odt] if odt else None, tern, rom, seed)
