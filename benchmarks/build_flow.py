"""Build-flow benchmark: node mapping, exactness, estimates and build time of `qvit build` for the
hardware-bound ViTs (28x28x1 and 32x32x3) and plain Brevitas MLPs/CNNs, on AUP-ZU3 and Pynq-Z2.

Writes ``build_flow.md`` and ``build_flow.json`` (rewritten after every build) into ``--out`` (default
``build/benchmarks``; ``--out benchmarks`` regenerates the files the README quotes).
Usage: ``python benchmarks/build_flow.py [--quick] [--out build/benchmarks]`` (``--quick``: AUP-ZU3 only).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
from brevitas import nn as qnn
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.results import add_out_argument, out_dir  # noqa: E402
from build_flows.boards import get_board  # noqa: E402
from build_flows.build import BuildError, build  # noqa: E402
from build_flows.config import BuildConfig  # noqa: E402
from quant_models.checkpoint import CHECKPOINT_DIR  # noqa: E402
from quant_models.export import to_qonnx  # noqa: E402
from quant_models.layers import quant_act  # noqa: E402
from quant_models.quantizers import BinaryAct, BinaryWeightPerTensor  # noqa: E402

TARGET_FPS = 5311  # measured FPS of FINN's cnv-w1a1 on AUP-ZU3
SIZES = {"28x28x1": dict(img_size=28, in_chans=1), "32x32x3": dict(img_size=32, in_chans=3)}
DATASET = {"28x28x1": "fashion-mnist", "32x32x3": "cifar10"}


class PlainMLP(nn.Sequential):
    """Binary MLP of the supported layers (sign, binary linear, BatchNorm)."""

    def __init__(self):
        layers = []
        for a, b in ((784, 256), (256, 256), (256, 10)):
            layers += [qnn.QuantIdentity(act_quant=BinaryAct),
                       qnn.QuantLinear(a, b, bias=False, weight_quant=BinaryWeightPerTensor)]
            if b != 10:
                layers.append(nn.BatchNorm1d(b))
        super().__init__(nn.Flatten(), *layers)


class PlainCNN(nn.Module):
    """Binary CNN of the supported layers: strided binary convolutions, BatchNorm, sign, global mean,
    8-bit quantizer, binary classifier."""

    def __init__(self):
        super().__init__()
        layers, ch = [], 3
        for out in (32, 64, 128):
            layers += [qnn.QuantIdentity(act_quant=BinaryAct),
                       qnn.QuantConv2d(ch, out, 3, stride=2, bias=False, weight_quant=BinaryWeightPerTensor),
                       nn.BatchNorm2d(out)]
            ch = out
        self.body = nn.Sequential(*layers, qnn.QuantIdentity(act_quant=BinaryAct))
        self.pool_quant = quant_act(8, pot=True)
        self.head = qnn.QuantLinear(ch, 10, bias=False, weight_quant=BinaryWeightPerTensor)

    def forward(self, x):
        return self.head(self.pool_quant(self.body(x).mean(dim=(2, 3))))


def _plain(net, shape, path):
    torch.manual_seed(0)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(8, *shape[1:]))
    to_qonnx(net.eval(), path, shape)
    return str(path)


def _case(name, size, tmp):
    """(model argument for qvit build, overrides, checkpoint, note)."""
    if name == "plain-mlp":
        return _plain(PlainMLP(), (1, 1, 28, 28), tmp / "mlp.onnx"), {}, None, "random weights"
    if name == "plain-cnn":
        return _plain(PlainCNN(), (1, 3, 32, 32), tmp / "cnn.onnx"), {}, None, "random weights"
    ckpt = CHECKPOINT_DIR / f"{name}_{DATASET[size]}.pt"
    if ckpt.exists():
        return name, {}, str(ckpt), f"shipped checkpoint ({DATASET[size]})"
    return name, dict(SIZES[size], num_classes=10), None, "random weights (no shipped checkpoint at this size)"


def run_one(name, size, board, tmp) -> dict:
    model, overrides, ckpt, note = _case(name, size, tmp)
    out = tmp / f"{name}-{size}-{board}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = BuildConfig(model=model, out=str(out), board=board, target_fps=TARGET_FPS, checkpoint=ckpt,
                      model_overrides=overrides, until="estimates")
    start = time.time()
    error = None
    try:
        report = build(cfg, log=lambda *_: None).to_dict()
    except BuildError as e:
        error = str(e).splitlines()[0]
        report = json.loads((out / "report.json").read_text())
    seconds = time.time() - start
    est = report.get("estimated", {})
    ver = report.get("verification", {}).get("qonnx_vs_finn_python", {})
    return {"model": name, "input": size, "board": board, "weights": note, "nodes_hw": report.get("nodes_hw"),
            "nodes_total": report.get("nodes_total"), "bit_exact": ver.get("bit_exact"), "vectors": ver.get("vectors"),
            "fps": est.get("fps"), "LUT": est.get("LUT"), "BRAM": est.get("BRAM"), "DSP": est.get("DSP"),
            "fits": bool(est) and not get_board(board).over_budget(est) and error is None,
            "roofline_fraction": report.get("roofline_fraction"), "seconds": round(seconds, 1), "error": error,
            "steps": {s["name"]: s["seconds"] for s in report.get("steps", [])}}


def best_within_budget(build_dir: Path, board: str, clock_mhz: float) -> dict:
    """The highest FPS whose folding fits the board's budget (every resource type), on the specialised graph of
    a finished build: the search `--target-fps max` runs (:func:`fastest_within_budget`)."""
    from build_flows.build import checkpoints
    from build_flows.build.calibration import lut_per_binary_mac
    from build_flows.build.folding import fastest_within_budget, macs_by_precision
    from build_flows.build.report import tops_per_klut

    b = get_board(board)
    ckpt = next(iter(sorted((build_dir / "checkpoints").glob("*_specialize_layers.onnx"))), None)
    if ckpt is None:
        return {}
    model = checkpoints.load(ckpt)
    best = fastest_within_budget(model, b, clock_mhz)
    if best is None:
        return {}
    ops = 2 * macs_by_precision(model).get("binary", 0) * best["fps"]
    return {"fps": best["fps"], "LUT": best["totals"]["LUT"], "BRAM": best["totals"]["BRAM"], "limit": best["limit"],
            "roofline_fraction": ops / b.binary_op_ceiling(lut_per_binary_mac(), clock_mhz),
            "binary_tops_per_klut": tops_per_klut(ops, best["totals"]["LUT"])}


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="AUP-ZU3 only")
    add_out_argument(ap)
    args = ap.parse_args(argv)
    out = out_dir(args)
    boards = ["AUP-ZU3"] if args.quick else ["AUP-ZU3", "Pynq-Z2"]
    cases = [(m, s) for m in ("binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny") for s in SIZES]
    cases += [("plain-mlp", "28x28x1"), ("plain-cnn", "32x32x3")]
    rows = []
    jobs = [(board, name, size) for board in boards for name, size in cases]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (board, name, size) in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {name} {size} on {board} ...", flush=True)
            row = run_one(name, size, board, Path(tmp))
            if row["nodes_hw"] and row["nodes_hw"] == row["nodes_total"]:
                row["best"] = best_within_budget(Path(tmp) / f"{name}-{size}-{board}", board, get_board(board).clock_mhz)
            print(json.dumps({k: row[k] for k in ("model", "input", "board", "nodes_hw", "nodes_total", "bit_exact",
                                                   "fps", "LUT", "seconds", "error")}), flush=True)
            rows.append(row)
            (out / "build_flow.json").write_text(json.dumps({"machine": describe(torch.get_num_threads()), "rows": rows},
                                                             indent=2))
    machine = describe(torch.get_num_threads())
    lines = ["# Build flow: mapping, exactness and estimates", "",
             f"Measured by `benchmarks/build_flow.py` on {datetime.date.today()} ({machine}). "
             f"`qvit build MODEL --board B --target-fps {TARGET_FPS} --until estimates` (FINN's cnv-w1a1 measures "
             f"{TARGET_FPS} FPS on AUP-ZU3). Estimates are "
             "our layers' models calibrated to yosys (`benchmarks/calibration.md`) and FINN's models for "
             "finn-rtllib's layers, not placement results. Bit-exact: FINN's python execution of the hardware "
             "graph equals QONNX execution of the export on every vector.", "",
             "| model | input | board | weights | nodes in hardware | bit-exact | est. FPS | LUT | BRAM18 | DSP | "
             "fits budget | roofline fraction | build time (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input']} | {r['board']} | {r['weights']} | {r['nodes_hw']}/{r['nodes_total']} | "
                     f"{r['bit_exact']} ({r['vectors']} vectors) | {_fmt(r['fps'], ',.0f')} | {_fmt(r['LUT'], ',')} | "
                     f"{_fmt(r['BRAM'], ',')} | {_fmt(r['DSP'], ',')} | {'yes' if r['fits'] else 'no'} | "
                     f"{_fmt(r['roofline_fraction'], '.3f')} | {r['seconds']} |")
    lines += ["", "Highest estimated FPS whose folding fits the budget (70 % of LUTs, FFs and LUTRAM, all BRAM18, URAM and DSP), "
              "found by the search `--target-fps max` runs, and what stops it going faster. These are the layers' estimates, "
              "without the FIFOs between them, which only the simulation sizes; `--until sim --size-fifos` folds again "
              "with the sized FIFOs' cost kept free where they do not fit (README, Results):", "",
              "| model | input | board | FPS | LUT | BRAM18 | roofline fraction | binary TOp/s per 1,000 LUT | limited by |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b = r.get("best") or {}
        if b:
            lines.append(f"| {r['model']} | {r['input']} | {r['board']} | {b['fps']:,.0f} | {b['LUT']:,} | {b['BRAM']} | "
                         f"{b['roofline_fraction']:.3f} | {b['binary_tops_per_klut']:.4f} | {b['limit']} |")
    errors = [r for r in rows if r["error"]]
    if errors:
        lines += ["", "Builds that stopped:", ""]
        lines += [f"- {r['model']} {r['input']} on {r['board']}: {r['error']}" for r in errors]
    (out / "build_flow.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'build_flow.md'} and {out / 'build_flow.json'}")


if __name__ == "__main__":
    main()
