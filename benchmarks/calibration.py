"""Calibration of the LUT estimates to synthesis: per RTL layer type of ours, yosys ``synth_xilinx`` counts
against the layer's LUT model over a grid of real designs (FINN's BNN-PYNQ networks, the three shipped ViTs at
two foldings, networks with joined streams and upsampling), a factor per type fitted by least squares
(yosys = factor x model), and the error per layer before and after it.

Writes ``build_flows/data/calibration.yaml`` (the factors the estimates apply), ``benchmarks/calibration.json``
and ``benchmarks/calibration.md`` (quoted by the README). finn-rtllib's layers (Thresholding_rtl,
ConvolutionInputGenerator_rtl) are beyond yosys' parser and keep FINN's models uncalibrated.
Usage: ``python benchmarks/calibration.py [--designs NAME ...] [--out DIR]``; finished designs are kept in
``--out`` (default ``/tmp/qvit_calibration``) and reused on a re-run.
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

HERE = Path(__file__).parent
DATA = HERE.parent / "build_flows" / "data" / "calibration.yaml"
SMALL = ["--set", "img_size=28", "--set", "in_chans=1"]
#: design name -> how to get its model (a registered name with settings, or an exporter) and its targets
DESIGNS = {
    "tfc_1w1a-max": ("bnn:tfc_1w1a", "max"),
    "sfc_2w2a-5311": ("bnn:sfc_2w2a", "5311"),
    "cnv_1w1a-5311": ("bnn:cnv_1w1a", "5311"),
    "binaryvit-28-5311": ("binaryvit-tiny-hw", "5311"),
    "binaryvit-28-1000": ("binaryvit-tiny-hw", "1000"),
    "ternaryvit-28-5311": ("ternaryvit-tiny", "5311"),
    "mmfree-28-5311": ("mmfree-vit-tiny", "5311"),
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
    return spec, SMALL


def run_design(name: str, out: Path) -> dict:
    """``qvit build ... --until yosys`` of one design (reused when its report has the yosys counts)."""
    from build_flows.cli import main

    d = out / name
    report = d / "b" / "report.json"
    if report.exists() and "layers" in (json.loads(report.read_text()).get("yosys") or {}):
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


def points(report: dict) -> list[dict]:
    """(op, raw LUT model, yosys LUT) per layer yosys synthesised."""
    ops = {row["name"]: row["op"] for row in report.get("layers") or []}
    return [{"op": ops[name], "layer": name, "model": c.get("model_LUT", c["estimated_LUT"]), "yosys": c["LUT"]}
            for name, c in ((report.get("yosys") or {}).get("layers") or {}).items() if name in ops]


def _err(pred: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return np.abs(pred - ys) / np.maximum(ys, 1)


def fit(pts: list[dict]) -> dict:
    """Per op: the least-squares factor of yosys = f x model, and the relative errors before and after."""
    out = {}
    for op in sorted({p["op"] for p in pts}):
        xs = np.array([p["model"] for p in pts if p["op"] == op], dtype=float)
        ys = np.array([p["yosys"] for p in pts if p["op"] == op], dtype=float)
        f = float(xs @ ys / (xs @ xs)) if (xs @ xs) > 0 else 1.0
        out[op] = {"layers": int(len(xs)), "factor": round(f, 3), "sum_model": int(xs.sum()), "sum_yosys": int(ys.sum()),
                   "sum_error_before": float(abs(xs.sum() - ys.sum()) / max(ys.sum(), 1)),
                   "sum_error_after": float(abs(f * xs.sum() - ys.sum()) / max(ys.sum(), 1)),
                   "median_error_before": float(np.median(_err(xs, ys))),
                   "median_error_after": float(np.median(_err(f * xs, ys))),
                   "max_error_after": float(_err(f * xs, ys).max())}
    return out


def held_out(pts: list[dict]) -> dict:
    """Per op: the worst error over designs of the type's summed estimate, with the factor fitted on the other
    designs only (leave one design out): how well the calibration predicts a design it has not seen."""
    worst: dict[str, float] = {}
    for design in sorted({p["design"] for p in pts}):
        factors = {op: r["factor"] for op, r in fit([p for p in pts if p["design"] != design]).items()}
        for op in {p["op"] for p in pts if p["design"] == design and p["op"] in factors}:
            mine = [p for p in pts if p["design"] == design and p["op"] == op]
            est, real = factors[op] * sum(p["model"] for p in mine), sum(p["yosys"] for p in mine)
            worst[op] = max(worst.get(op, 0.0), abs(est - real) / max(real, 1))
    return worst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", nargs="*", default=list(DESIGNS), choices=list(DESIGNS))
    p.add_argument("--out", default="/tmp/qvit_calibration", help="where the designs are built (kept, reused)")
    args = p.parse_args(argv)
    out = Path(args.out)
    pts, runs = [], {}
    for name in args.designs:
        print(f"[calibration] {name} ...", flush=True)
        report = run_design(name, out)
        runs[name] = {"fps": (report.get("estimated") or {}).get("fps"), "seconds": report.get("calibration_seconds"),
                      "not_synthesised": sorted((report.get("yosys") or {}).get("not_synthesised") or {})}
        for q in points(report):
            pts.append({**q, "design": name})
        print(f"[calibration] {name}: {len(points(report))} layers synthesised", flush=True)
    table = fit(pts)
    for op, w in held_out(pts).items():
        table[op]["held_out_worst_design_error"] = w
    machine = describe(1)
    (HERE / "calibration.json").write_text(json.dumps({"machine": machine, "date": str(datetime.date.today()),
                                                       "designs": runs, "fit": table, "points": pts}, indent=1))
    DATA.write_text("# LUT model factors per RTL layer type, fitted to yosys synth_xilinx by benchmarks/calibration.py "
                    f"on {datetime.date.today()}:\n# estimate = factor x the layer's LUT model (see the benchmark's table)\n"
                    + yaml.safe_dump({op: {"LUT": row["factor"], "layers": row["layers"]} for op, row in table.items()},
                                     sort_keys=True))
    lines = ["# LUT estimates calibrated to yosys", "",
             f"Measured by `benchmarks/calibration.py` on {datetime.date.today()} ({machine}): `qvit build ... --until "
             "yosys` of the designs below on AUP-ZU3; per layer, yosys `synth_xilinx` LUTs (before placement) against "
             "the layer's LUT model; per type the least-squares factor (yosys = factor x model), now applied by the "
             "estimates (`build_flows/data/calibration.yaml`). Errors are |estimate - yosys| / yosys: over the sum of "
             "the type's layers, and the median and worst single layer; held out: the worst design's summed error "
             "when its factor is fitted on the other designs only (leave one design out).", "",
             "Designs: " + ", ".join(f"{k} ({v['fps']:,.0f} FPS)" for k, v in runs.items() if v["fps"]), "",
             "| layer type | layers | model LUT (sum) | yosys LUT (sum) | factor | sum error before | sum error after | "
             "median error before | median error after | worst layer after | held out (worst design) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for op, r in table.items():
        lines.append(f"| {op} | {r['layers']} | {r['sum_model']:,} | {r['sum_yosys']:,} | {r['factor']:.3f} | "
                     f"{r['sum_error_before']:.0%} | {r['sum_error_after']:.0%} | {r['median_error_before']:.0%} | "
                     f"{r['median_error_after']:.0%} | {r['max_error_after']:.0%} | "
                     + (f"{r['held_out_worst_design_error']:.0%} |" if "held_out_worst_design_error" in r else "- |"))
    lines += ["", "Not calibrated: finn-rtllib's Thresholding_rtl and ConvolutionInputGenerator_rtl (yosys cannot read "
              "them; FINN's models stand), and the host steps (ChannelFloat, SumParts, TopKLabels: no hardware)."]
    (HERE / "calibration.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {HERE / 'calibration.md'} and {DATA}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
