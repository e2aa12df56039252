"""RTL benchmark: Verilator simulation speed of stitched accelerators (with build time), simulated cycles
against the FINN-style cycle estimate, and yosys LUTs per binary MAC of qvit_mvau.sv against FINN's model.

Writes ``rtl_sim.md`` and ``rtl_sim.json`` (rewritten after every design) into ``--out`` (default
``build/benchmarks``; ``--out benchmarks`` regenerates the files the README quotes).
Usage: ``python benchmarks/rtl_sim.py [--out build/benchmarks]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from brevitas import nn as qnn
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test suite's small models

from mlp_models import SignCNN  # noqa: E402

from benchmarks.build_flow import _plain  # noqa: E402 (random-weight export with calibrated statistics)
from benchmarks.machine import describe  # noqa: E402
from benchmarks.results import add_out_argument, out_dir  # noqa: E402
from build_flows.boards import LUT_PER_BINARY_MAC  # noqa: E402
from build_flows.build import build  # noqa: E402
from build_flows.config import BuildConfig  # noqa: E402
from quant_models.quantizers import BinaryAct, BinaryWeightPerTensor  # noqa: E402

VECTORS = 200


class SignMLP(nn.Sequential):
    """784-256-256-10 binary MLP with BatchNorm and a sign output (every layer has RTL)."""

    def __init__(self):
        layers = []
        for a, b in ((784, 256), (256, 256), (256, 10)):
            layers += [qnn.QuantIdentity(act_quant=BinaryAct),
                       qnn.QuantLinear(a, b, bias=False, weight_quant=BinaryWeightPerTensor), nn.BatchNorm1d(b)]
        super().__init__(nn.Flatten(), *layers, qnn.QuantIdentity(act_quant=BinaryAct))


def stitched(name, net, shape, fps, tmp, mem_mode="internal_embedded") -> dict:
    from build_flows.build import checkpoints
    from build_flows.sim.accelerator import simulate_dataflow

    onnx = _plain(net, shape, tmp / f"{name}.onnx")
    out = tmp / name
    t0 = time.time()
    report = build(BuildConfig(model=onnx, out=str(out), target_fps=fps, until="yosys", mem_mode=mem_mode,
                               sim_size_fifos=True), log=lambda *_: None).to_dict()
    build_s = time.time() - t0
    model = checkpoints.load(out / "checkpoints" / "10_sim.onnx")
    x = np.random.default_rng(0).standard_normal((VECTORS, *shape[1:])).astype(np.float32)
    depths = list(report["sim"]["fifo_sizing"]["depths"].values())
    (res,), _ = simulate_dataflow(model, x, tmp / f"{name}_long", report["part"], 1000.0 / report["clock_mhz"],
                                  fifo_depths=depths)
    sim = report["sim"]
    binary_macs = report["binary_ops_per_image"] // 2  # 2 operations per MAC
    return {
        "model": name, "layers": len(report["layers"]), "ops": sorted({layer["op"] for layer in report["layers"]}),
        "bit_exact_8_vectors_with_and_without_stalls": sim["bit_exact"],
        "estimated_cycles_per_image": report["estimated"]["cycles_per_image"],
        "simulated_cycles_per_image": res.cycles_per_image, "cycles_vs_estimate": res.cycles_per_image
        / report["estimated"]["cycles_per_image"], "latency_cycles": res.latency_cycles,
        "fps_at_clock": report["clock_mhz"] * 1e6 / res.cycles_per_image, "clock_mhz": report["clock_mhz"],
        "vectors": VECTORS, "simulated_cycles": res.cycles, "sim_seconds": res.sim_seconds,
        "cycles_per_second": res.cycles_per_second, "verilator_build_seconds": sim["build_seconds"],
        "build_until_yosys_seconds": build_s, "fifo_high_water": res.fifo_hwm,
        "estimated_LUT": report["estimated"]["LUT"], "yosys_LUT_our_layers": report["yosys"]["total_synthesised"]["LUT"],
        "estimated_LUT_our_layers": sum(v["estimated_LUT"] for v in report["yosys"]["layers"].values()),
        "binary_macs_per_image": binary_macs, "mem_mode": mem_mode,
        "fifo_bits_simulated_depths": report["sim"]["fifo_sizing"]["fifo_bits_before"],
        "fifo_bits_sized": report["sim"]["fifo_sizing"]["fifo_bits_after"],
        "yosys_stitched": report["yosys"]["stitched"],
    }


def lut_per_mac(tmp) -> list[dict]:
    from qonnx.core.datatype import DataType as DT

    from build_flows.rtl.mvau import codegen as mvau
    from build_flows.synth.yosys import synth

    rows = []
    for simd, pe in ((16, 4), (32, 8), (64, 16)):
        mw, mh = simd * 4, pe * 4
        w = np.random.default_rng(0).choice([-1.0, 1.0], size=(mw, mh))
        shape = mvau.MVAUShape(mw, mh, simd, pe, DT["BIPOLAR"], DT["BIPOLAR"], DT["BIPOLAR"], 0, mw, "xnor", 1, 0,
                               "block")
        files = mvau.write(shape, w, np.full((mh, 1), mw // 2), tmp / f"x{simd}_{pe}", "m")
        c = synth(files, "m", nodsp=True)
        rows.append({"SIMD": simd, "PE": pe, "binary_MACs_per_cycle": simd * pe, "LUT": c["LUT"], "FF": c["FF"],
                     "BRAM18": c["BRAM18"], "LUT_per_MAC": c["LUT"] / (simd * pe)})
    return rows


#: name, network, input shape, target FPS, mem_mode of the stitched designs (the networks are made in this order,
#: after one torch.manual_seed(0): their random weights, and so the yosys counts, are the same every run)
DESIGNS = [("binary-mlp-784-256-256-10", SignMLP, (1, 1, 28, 28), 200_000, "internal_embedded"),
           ("binary-mlp-784-256-256-10-external-weights", SignMLP, (1, 1, 28, 28), 200_000, "external"),
           ("binary-cnn-28x28-32-64-64", lambda: SignCNN(channels=(32, 64, 64)), (1, 1, 28, 28), 20_000,
            "internal_embedded")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_out_argument(p)
    args = p.parse_args(argv)
    out = out_dir(args)
    os.environ["QVIT_SIM_CACHE"] = tempfile.mkdtemp(prefix="qvit_bench_cache_")  # measure uncached builds
    n = len(DESIGNS) + 1
    runs, luts = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        load = os.getloadavg()[0]
        result = {"date": datetime.date.today().isoformat(), "machine": describe(torch.get_num_threads()),
                  "load_average_at_start": load,
                  "stitched": runs, "xnor_mvau_yosys": luts, "finn_lut_per_binary_mac": LUT_PER_BINARY_MAC}
        torch.manual_seed(0)  # the networks' random weights (and so the yosys counts) are the same every run
        for i, (name, net, shape, fps, mem_mode) in enumerate(DESIGNS, 1):
            print(f"[{i}/{n}] {name} ...", flush=True)
            runs.append(stitched(name, net(), shape, fps, tmp, mem_mode=mem_mode))
            print(json.dumps({k: runs[-1][k] for k in ("model", "bit_exact_8_vectors_with_and_without_stalls",
                                                        "estimated_cycles_per_image", "simulated_cycles_per_image",
                                                        "cycles_per_second", "build_until_yosys_seconds")}), flush=True)
            (out / "rtl_sim.json").write_text(json.dumps(result, indent=2))  # partial results survive an interruption
        print(f"[{n}/{n}] yosys LUTs per binary MAC of qvit_mvau.sv ...", flush=True)
        luts += lut_per_mac(tmp)
        print(json.dumps(luts), flush=True)
    (out / "rtl_sim.json").write_text(json.dumps(result, indent=2))
    lines = [f"# RTL simulation and synthesis benchmark ({result['date']})", "",
             f"Machine: {result['machine']}; 1-minute load average {load:.1f} when it started (other jobs share the "
             "cores).",
             "Produced by `python benchmarks/rtl_sim.py`.", "",
             "## Stitched accelerators in Verilator (every layer in RTL)", "",
             "| design | layers | bit-exact | est. cycles/img | sim cycles/img | sim/est | latency (cycles) | FPS @ clock "
             "| simulated cycles/s | Verilator build | build to yosys |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['model']} | {r['layers']} | {r['bit_exact_8_vectors_with_and_without_stalls']} | "
                     f"{r['estimated_cycles_per_image']:,} | {r['simulated_cycles_per_image']:,.0f} | "
                     f"{r['cycles_vs_estimate']:.3f} | {r['latency_cycles']:,} | {r['fps_at_clock']:,.0f} "
                     f"@ {r['clock_mhz']:.0f} MHz | {r['cycles_per_second']:,.0f} | {r['verilator_build_seconds']:.1f} s | "
                     f"{r['build_until_yosys_seconds']:.1f} s |")
    lines += ["", f"Simulated cycles/s: {VECTORS} images streamed back to back without stalls, C++ testbench, "
              "one thread (cocotb-driven simulation of one MVAU reaches about 20,000 cycles/s, toolchain notes). "
              "Bit-exact: 8 random vectors against QONNX execution of the export and FINN's python execution, "
              "once without and once with 30 % random valid/ready stalls.", "",
              "Layers: " + "; ".join(f"{r['model']}: {', '.join(r['ops'])}" for r in runs), "",
              "LUT estimate vs yosys for our MVAU layers: " + "; ".join(
                  f"{r['model']}: estimated {r['estimated_LUT_our_layers']:,}, yosys {r['yosys_LUT_our_layers']:,}"
                  for r in runs), "",
              "## Whole stitched designs in yosys (FIFOs sized from the simulation)", "",
              "| design | weights | LUT | LUTRAM | SRL | FF | BRAM18 | black-boxed finn-rtllib layers (estimated LUT) "
              "| FIFO bits: simulated depths -> sized |", "|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        y = r["yosys_stitched"]
        lines.append(f"| {r['model']} | {r['mem_mode']} | {y['LUT']:,} | {y['LUTRAM']:,} | {y['SRL']:,} | {y['FF']:,} | "
                     f"{y['BRAM18']} | {len(y['blackboxes'])} ({y['estimated_LUT_blackboxes']:,}) | "
                     f"{r['fifo_bits_simulated_depths']:,} -> {r['fifo_bits_sized']:,} |")
    lines += ["", "Stitched: every layer of ours, the FIFOs and the width converters synthesised together; finn-rtllib's "
              "thresholding and sliding-window layers are black boxes (yosys cannot read them) and keep FINN's "
              "estimate.", "",
              "## yosys synth_xilinx of the XNOR-popcount MVAU (qvit_mvau.sv, with one threshold, block-RAM weights)", "",
              "| SIMD | PE | binary MACs/cycle | LUT | FF | BRAM18 | LUT per binary MAC |", "|---|---|---|---|---|---|---|"]
    for r in luts:
        lines.append(f"| {r['SIMD']} | {r['PE']} | {r['binary_MACs_per_cycle']} | {r['LUT']:,} | {r['FF']:,} | "
                     f"{r['BRAM18']} | {r['LUT_per_MAC']:.2f} |")
    lines += ["", f"FINN's LUT model for its HLS binary MVAU: about {LUT_PER_BINARY_MAC} LUT per binary MAC. yosys counts "
              "are before placement (no Vivado here), including control, accumulators and the threshold comparator.", ""]
    (out / "rtl_sim.md").write_text("\n".join(lines))
    print("\n".join(lines))
    print(f"wrote {out / 'rtl_sim.md'} and {out / 'rtl_sim.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
