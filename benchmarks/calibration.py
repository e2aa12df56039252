"""Calibration of the resource estimates to synthesis: per RTL layer type of ours, yosys ``synth_xilinx`` counts
(LUT, FF, LUTRAM) against the layer's features over a grid of real designs (FINN's BNN-PYNQ networks, the three
shipped ViTs at two foldings, networks with joined streams and upsampling), non-negative coefficients per type
fitted by weighted least squares, and the error per layer before and after.

Writes ``calibration.json``, ``calibration.md`` and ``calibration.yaml`` (the fitted coefficients) into ``--out``
(default ``build/benchmarks``; ``--out benchmarks`` regenerates the files the README quotes); with ``--install`` also
``build_flows/data/calibration.yaml``, the coefficients every build's estimates apply. finn-rtllib's layers
(Thresholding_rtl, ConvolutionInputGenerator_rtl) are beyond yosys' parser and keep FINN's models uncalibrated.
Usage: ``python benchmarks/calibration.py [--designs NAME ...] [--work DIR] [--resynth OP ...] [--out build/benchmarks]
[--install]``; finished designs are kept in ``--work`` (default ``/tmp/qvit_calibration``) and reused on a re-run
(``--resynth``: their layers of those types synthesised again, after a change to that RTL).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.results import add_out_argument, out_dir  # noqa: E402
from build_flows.build.calibration import FEATURES, POOLED, RESOURCES, estimate  # noqa: E402

HERE = Path(__file__).parent
DATA = HERE.parent / "build_flows" / "data" / "calibration.yaml"
SMALL = ["--set", "img_size=28", "--set", "in_chans=1"]
#: design name -> how to get its model (a registered name with settings, or an exporter) and its targets
DESIGNS = {
    "tfc_1w1a-max": ("bnn:tfc_1w1a", "max"),
    # small MLPs at the target rate: narrow layers, deep weight ROMs (at PE=SIMD=1 the memory decision prices a
    # 4,096 x 1 ROM in LUTs against a BRAM18)
    "tfc_1w1a-5311": ("bnn:tfc_1w1a", "5311"),
    "sfc_1w1a-5311": ("bnn:sfc_1w1a", "5311"),
    "sfc_2w2a-5311": ("bnn:sfc_2w2a", "5311"),
    "cnv_1w1a-5311": ("bnn:cnv_1w1a", "5311"),
    "binaryvit-28-5311": ("binaryvit-tiny-hw", "5311"),
    "binaryvit-28-1000": ("binaryvit-tiny-hw", "1000"),
    "ternaryvit-28-5311": ("ternaryvit-tiny", "5311"),
    "mmfree-28-5311": ("mmfree-vit-tiny", "5311"),
    # CIFAR-10 size at the widest folding that fits: attention matmuls of 32 to 64 lanes, buffers beside them
    "binaryvit-32-max": ("binaryvit-tiny-hw@32", "max"),
    "branch-cnn-max": ("test:export_branch_cnn", "max"),
    "upsample-cnn-max": ("test:export_upsample_cnn", "max"),
}


def _model(spec: str, tmp: Path) -> tuple[str, list[str]]:
    if spec.startswith("bnn:"):
        from quant_models.bnn_pynq import export_bnn_pynq

        return str(export_bnn_pynq(spec[4:], tmp / f"{spec[4:]}.onnx")), []
    if spec.startswith("test:"):
        sys.path.insert(0, str(HERE.parent / "tests"))
        import mlp_models

        return getattr(mlp_models, spec[5:])(tmp / f"{spec[5:]}.onnx"), []
    if spec.endswith("@32"):  # the model's own (CIFAR-10) input size
        return spec[:-3], []
    return spec, SMALL


def run_design(name: str, out: Path) -> dict:
    """``qvit build ... --until yosys`` of one design (reused when its report has the yosys counts)."""
    from build_flows.cli import main

    d = out / name
    report = d / "b" / "report.json"
    if report.exists():
        layers = (json.loads(report.read_text()).get("yosys") or {}).get("layers") or {}
        if layers and all("LUT_logic" in c for c in layers.values()):
            return json.loads(report.read_text())
        if layers:  # synthesised by an older version: the yosys step again, on the kept RTL
            from build_flows.build.runner import build
            from build_flows.config import BuildConfig

            build(BuildConfig.load(d / "b" / "build_config.yaml"), rerun=("yosys",))
            return json.loads(report.read_text())
    d.mkdir(parents=True, exist_ok=True)
    spec, target = DESIGNS[name]
    model, extra = _model(spec, d)
    start = time.time()
    code = main(["build", model, *extra, "--board", "AUP-ZU3", "--target-fps", target, "--until", "yosys",
                 "--yosys-layers-only", "--images", "0", "--out", str(d / "b")])
    data = json.loads(report.read_text())
    data["calibration_seconds"] = round(time.time() - start, 1)
    if code != 0:
        print(f"{name}: build failed ({data.get('steps', [{}])[-1]})", flush=True)
    return data


def resynthesise(build_dir: Path, ops: list[str]) -> dict:
    """Generate again and synthesise again the layers of types ``ops`` in a kept design (their RTL changed, and
    with it perhaps the parameters their wrappers pass) and write the new counts into its report.json, which it
    gives."""
    import glob

    from qonnx.custom_op.registry import getCustomOp

    from build_flows.build import checkpoints
    from build_flows.build.steps_rtl import synth_layer
    from build_flows.finn_env import prepare_finn

    path = build_dir / "report.json"
    report = json.loads(path.read_text())
    layers = (report.get("yosys") or {}).get("layers") or {}
    prepare_finn(build_dir / "finn_tmp")
    model = checkpoints.load(sorted(glob.glob(str(build_dir / "checkpoints" / "*_yosys.onnx")))[0])
    done: dict = {}
    for node in model.graph.node:
        if node.op_type in ops and node.name in layers:
            inst = getCustomOp(node)
            inst.generate_hdl(model, report["part"], 1000.0 / report["clock_mhz"])
            layers[node.name].update(synth_layer(inst, report["part"], done,
                                                 progress=f"  yosys again: {node.name}"))
    path.write_text(json.dumps(report, indent=2))
    return report


def points(build_dir: Path, report: dict) -> list[dict]:
    """Per layer yosys synthesised: op, layer, the features of its resource models (computed now from the graph
    the yosys step synthesised, so a new feature needs no new synthesis) and its yosys counts."""
    import glob

    from qonnx.custom_op.registry import getCustomOp

    from build_flows.build import checkpoints
    from build_flows.build.calibration import features
    from build_flows.finn_env import prepare_finn

    counts = (report.get("yosys") or {}).get("layers") or {}
    if not counts:
        return []
    prepare_finn(build_dir / "finn_tmp")
    model = checkpoints.load(sorted(glob.glob(str(build_dir / "checkpoints" / "*_yosys.onnx")))[0])
    import math

    return [{"op": n.op_type, "layer": n.name, "features": features(getCustomOp(n), report.get("part")),
             "BRAM18": counts[n.name]["BRAM18"],
             "BRAM18_estimate": math.ceil(getCustomOp(n).bram_estimation(report.get("part"))),
             **{r: counts[n.name][r] for r in RESOURCES}} for n in model.graph.node if n.name in counts]


#: the stitched design's FIFO (rtl/stream/qvit_fifo.sv) synthesised alone: depths x widths (bits as the RTL stores
#: them, whole bytes) per memory kind; distributed RAM only up to 1,100 words (deeper, the decision never takes it)
FIFO_GRID = {"distributed": ([2, 5, 33, 200, 1100], [8, 24, 64, 192]),
             "block": ([2, 33, 200, 1100, 6000, 13671], [8, 24, 64, 192])}


def fifo_points(work: Path) -> list[dict]:
    """One point per FIFO of :data:`FIFO_GRID`: features (:func:`build_flows.build.fifos.fifo_features`) and yosys
    counts of ``qvit_fifo`` alone (its occupancy outputs unconnected, as in the stitched design), kept in
    ``work/fifos`` and reused."""
    from build_flows.build.fifos import fifo_features
    from build_flows.layers.base import bram18_for
    from build_flows.synth.yosys import synth_fifo

    pts = []
    for style, (depths, widths) in FIFO_GRID.items():
        for depth in depths:
            for width in widths:
                d = work / "fifos" / f"{style}_{depth}x{width}"
                kept = d / "counts.json"
                if not kept.exists():
                    kept.parent.mkdir(parents=True, exist_ok=True)
                    kept.write_text(json.dumps(synth_fifo(depth, width, style, d)))
                counts = json.loads(kept.read_text())
                pts.append({"op": f"qvit_fifo_{style}", "layer": f"{depth}x{width}", "design": "qvit_fifo grid",
                            "features": fifo_features(depth, width, style), "BRAM18": counts["BRAM18"],
                            "BRAM18_estimate": bram18_for(depth, width) if style == "block" else 0,
                            **{r: counts[r] for r in RESOURCES}})
    return pts


def _is_fifo(point: dict) -> bool:
    """A point of the FIFO grid (:func:`fifo_points`), not a layer."""
    return point["op"].startswith("qvit_fifo")


def _err(pred: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.abs(pred - ys) / np.maximum(ys, 1)


#: a type with fewer layers than this gets fewer features (FEW_FEATURES): a factor on its LUT model, its FFs
#: from its stream widths and counter, its LUTRAM from its distributed buffers and input width (short delays)
MIN_LAYERS_FOR_A_FIT = 10
FEW_FEATURES = {"LUT": ("model",), "FF": ("in_bits", "out_bits", "counter_bits"), "LUTRAM": ("lutram_model", "in_bits")}


def _solve(pts: list[dict], resource: str, feats: tuple[str, ...]) -> dict[str, float]:
    """Non-negative coefficients of ``feats`` for ``resource`` over ``pts``, least squares weighted by
    1/sqrt(count) (between absolute and relative error: small layers count, large ones more)."""
    from scipy.optimize import nnls

    if not pts:  # scipy's nnls crashes on an empty system
        return {}
    x = np.array([[p["features"].get(f, 0.0) for f in feats] for p in pts], dtype=float)
    y = np.array([p[resource] for p in pts], dtype=float)
    w = 1 / np.sqrt(np.maximum(y, 8))
    coef, _ = nnls(x * w[:, None], y * w)
    return {f: round(float(c), 4) for f, c in zip(feats, coef) if c > 0}


def fit_coefficients(pts: list[dict]) -> dict[str, dict]:
    """Per op (and ``POOLED``, the fit over every layer: not the FIFOs): resource -> feature -> coefficient."""
    layers = [p for p in pts if not _is_fifo(p)]
    out = {POOLED: {r: _solve(layers, r, FEATURES) for r in ("FF", "LUTRAM")}}
    for op in sorted({p["op"] for p in pts}):
        mine = [p for p in pts if p["op"] == op]
        if len(mine) >= MIN_LAYERS_FOR_A_FIT:
            out[op] = {r: _solve(mine, r, FEATURES) for r in RESOURCES}
        else:
            out[op] = {r: _solve(mine, r, FEW_FEATURES[r]) for r in RESOURCES}
    return out


def _predict(table: dict, p: dict) -> dict[str, int]:
    """The estimate a build makes of point ``p`` with the coefficients ``table``."""
    return estimate(p["op"], p["features"], table)


def errors(table: dict, pts: list[dict]) -> dict[str, dict]:
    """Per op and resource: layers, sums of estimate and yosys, summed error, median and worst layer error;
    for LUT also the error of the layer's own model (before calibration)."""
    out = {}
    for op in sorted({p["op"] for p in pts}):
        mine = [p for p in pts if p["op"] == op]
        row = {"layers": len(mine)}
        for r in RESOURCES:
            est = np.array([_predict(table, p)[r] for p in mine])
            ys = np.array([p[r] for p in mine], dtype=float)
            row[r] = {"estimate": int(est.sum()), "yosys": int(ys.sum()),
                      "sum_error": float(abs(est.sum() - ys.sum()) / max(ys.sum(), 1)),
                      "median_error": float(np.median(_err(est, ys))), "worst_error": float(_err(est, ys).max())}
        bram_est, bram = sum(p["BRAM18_estimate"] for p in mine), sum(p["BRAM18"] for p in mine)
        row["BRAM18"] = {"estimate": bram_est, "yosys": bram, "sum_error": abs(bram_est - bram) / max(bram, 1),
                         "layers_differing": sum(p["BRAM18_estimate"] != p["BRAM18"] for p in mine)}
        model = np.array([p["features"]["model"] for p in mine])
        ys = np.array([p["LUT"] for p in mine], dtype=float)
        row["LUT"]["model"] = int(model.sum())
        row["LUT"]["median_error_before"] = float(np.median(_err(model, ys)))
        out[op] = row
    return out


def held_out(pts: list[dict]) -> dict[str, float]:
    """Per op: the worst error over designs of the type's summed LUT estimate, fitted on the other designs only
    (leave one design out): how well the calibration predicts a design it has not seen."""
    worst: dict[str, float] = {}
    for design in sorted({p["design"] for p in pts}):
        table = fit_coefficients([p for p in pts if p["design"] != design])
        for op in {p["op"] for p in pts if p["design"] == design and p["op"] in table}:
            mine = [p for p in pts if p["design"] == design and p["op"] == op]
            est, real = sum(_predict(table, p)["LUT"] for p in mine), sum(p["LUT"] for p in mine)
            worst[op] = max(worst.get(op, 0.0), abs(est - real) / max(real, 1))
    return worst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=list(DESIGNS))
    p.add_argument("--work", default="/tmp/qvit_calibration", metavar="DIR", help="where the designs are built (kept, reused)")
    p.add_argument("--resynth", nargs="+", default=[], metavar="OP",
                   help="synthesise the layers of these types again in the kept designs (after a change to their RTL)")
    add_out_argument(p)
    p.add_argument("--install", action="store_true",
                   help=f"also write the fitted coefficients to {DATA.relative_to(HERE.parent)} (the ones every build applies)")
    args = p.parse_args(argv)
    work, out = Path(args.work), out_dir(args)
    machine, today = describe(1), datetime.date.today()
    pts, runs = [], {}
    for i, name in enumerate(args.designs, 1):
        print(f"[{i}/{len(args.designs)}] {name} ...", flush=True)
        report = run_design(name, work)
        if args.resynth:
            report = resynthesise(work / name / "b", args.resynth)
        runs[name] = {"fps": (report.get("estimated") or {}).get("fps"), "seconds": report.get("calibration_seconds"),
                      "not_synthesised": sorted((report.get("yosys") or {}).get("not_synthesised") or {})}
        mine = points(work / name / "b", report)
        pts += [{**q, "design": name} for q in mine]
        print(json.dumps({"design": name, "layers_synthesised": len(mine), **runs[name]}), flush=True)
        # the designs measured so far (no fit yet): an interrupted run keeps them; the full file replaces this one
        (out / "calibration.json").write_text(json.dumps({"machine": machine, "date": str(today), "partial": True,
                                                          "designs": runs, "points": pts}, indent=1))
    print("qvit_fifo grid ...", flush=True)
    pts += fifo_points(work)
    table = fit_coefficients(pts)
    errs = errors(table, pts)
    for op, w in held_out(pts).items():
        errs[op]["held_out_worst_design_error"] = w
    (out / "calibration.json").write_text(json.dumps({"machine": machine, "date": str(today), "designs": runs,
                                                      "coefficients": table, "errors": errs, "points": pts}, indent=1))
    n_layers = sum(not _is_fifo(p) for p in pts)
    fitted = (f"# Resource models per RTL layer type, fitted to yosys synth_xilinx by benchmarks/calibration.py on "
              f"{today}:\n# estimate of a resource = sum of coefficient x feature (build_flows/build/calibration.py); "
              f"{POOLED}: the fit over all layers, for types without their own\n"
              + yaml.safe_dump({op: {**row, "layers": errs.get(op, {}).get("layers", n_layers)}
                                for op, row in table.items()}, sort_keys=True))
    (out / "calibration.yaml").write_text(fitted)
    if args.install:
        DATA.write_text(fitted)
    pct = "{:.0%}".format
    lines = ["# Resource estimates calibrated to yosys", "",
             f"Measured by `benchmarks/calibration.py` on {today} ({machine}): `qvit build ... --until yosys` of the "
             "designs below on AUP-ZU3; per layer, yosys `synth_xilinx` counts (before placement) against the estimate. "
             "LUT counts every CLB LUT (logic, distributed RAM, shift registers) as Vivado does; LUTRAM the LUTs used as "
             "distributed RAM. BRAM18 is not fitted: the estimate is the layers' memory geometry tiled on BRAM18 shapes. "
             "Each LUT, FF and LUTRAM estimate is linear in the layer's features (its own LUT model, stream widths, lanes, "
             "beat counter width, the logic of its constant tables from their contents, its distributed buffers, the "
             "input bits it replays from a buffer), with "
             "non-negative coefficients per layer type fitted here and applied by every build "
             f"(`build_flows/data/calibration.yaml`); a type with fewer than {MIN_LAYERS_FOR_A_FIT} layers gets fewer "
             "features (a factor on its LUT model, FFs from its stream widths and counter, LUTRAM from its distributed "
             "buffers and input width). Errors are |estimate - yosys| / yosys: over the sum of the "
             "type's layers, and the median and worst single layer; held out: the worst design's summed LUT error when "
             "the type is fitted on the other designs only (leave one design out).", "",
             "Designs: " + ", ".join(f"{k} ({v['fps']:,.0f} FPS)" for k, v in runs.items() if v["fps"]), "",
             "| layer type | layers | LUT yosys (sum) | LUT model before: median error | LUT estimate: sum error | "
             "median | worst layer | held out (worst design) | FF yosys (sum) | FF: sum error | median | "
             "LUTRAM yosys (sum) | LUTRAM: sum error | BRAM18 yosys (sum) | BRAM18 estimate (sum) | layers differing |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for op, r in errs.items():
        lut, ff, ram = r["LUT"], r["FF"], r["LUTRAM"]
        held = pct(r["held_out_worst_design_error"]) if "held_out_worst_design_error" in r else "-"
        lines.append(f"| {op} | {r['layers']} | {lut['yosys']:,} | {pct(lut['median_error_before'])} | "
                     f"{pct(lut['sum_error'])} | {pct(lut['median_error'])} | {pct(lut['worst_error'])} | {held} | "
                     f"{ff['yosys']:,} | {pct(ff['sum_error'])} | {pct(ff['median_error'])} | {ram['yosys']:,} | "
                     f"{pct(ram['sum_error'])} | {r['BRAM18']['yosys']:,} | {r['BRAM18']['estimate']:,} | "
                     f"{r['BRAM18']['layers_differing']} |")
    lines += ["", "qvit_fifo_distributed and qvit_fifo_block: the stitched design's FIFO (`rtl/stream/qvit_fifo.sv`) "
              "synthesised alone with its words in distributed RAM or block RAM, over depths x widths "
              f"({'; '.join(f'{k}: depths {v[0]}, widths {v[1]}' for k, v in FIFO_GRID.items())}); the build prices the "
              "FIFOs it sized from the simulation with these fits (`build_flows/build/fifos.py`)."]
    lines += ["", "Not calibrated: finn-rtllib's Thresholding_rtl and ConvolutionInputGenerator_rtl (yosys cannot read "
              "them; FINN's LUT models stand, FF and LUTRAM take the pooled fit), and the host steps (ChannelFloat, "
              "SumParts, TopKLabels: no hardware)."]
    (out / "calibration.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'calibration.md'}, {out / 'calibration.json'} and {out / 'calibration.yaml'}")
    if args.install:
        print(f"installed the fitted coefficients: {DATA}")
    else:
        print(f"not installed: builds still apply {DATA}; to install the new fit, re-run with --install (the designs "
              f"in {work} are reused) or copy {out / 'calibration.yaml'} there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
