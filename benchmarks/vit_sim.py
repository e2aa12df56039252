"""Whole-ViT benchmark: each shipped ViT (binaryvit-tiny-hw, ternaryvit-tiny, mmfree-vit-tiny; CIFAR-10 and
Fashion-MNIST sizes) built for AUP-ZU3 at the target FPS through ``--until sim``: every layer in RTL, the
stitched accelerator simulated in Verilator on N real test images (bit-exact per image against QONNX and
FINN's python execution, top-1 from the simulated outputs beside torch's), cycles per image against the
estimate, simulated cycles per second and the Verilator build time.

Writes ``vit_sim.md`` and ``vit_sim.json`` (rewritten after every model and dataset; rows of those not run are kept)
into ``--out`` (default ``build/benchmarks``; ``--out benchmarks`` regenerates the files the README quotes).
Usage: ``python benchmarks/vit_sim.py [--images 1000] [--models M ...] [--datasets cifar10 fashion-mnist]
[--out build/benchmarks]``.
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

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.results import add_out_argument, out_dir  # noqa: E402
from build_flows.build import build  # noqa: E402
from build_flows.build.context import BuildError  # noqa: E402
from build_flows.config import BuildConfig  # noqa: E402

MODELS = ("binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny")
SIZES = {"cifar10": dict(img_size=32, in_chans=3), "fashion-mnist": dict(img_size=28, in_chans=1)}
TARGET_FPS = 5311


def run(model: str, dataset: str, images: int, out: Path) -> dict:
    cfg = BuildConfig(model=model, out=str(out), board="AUP-ZU3", target_fps=TARGET_FPS, until="sim",
                      model_overrides=SIZES[dataset], sim_images=images)
    t0 = time.time()
    try:
        report = build(cfg).to_dict()
    except BuildError as e:
        return {"model": model, "dataset": dataset, "error": str(e).splitlines()[0][:300]}
    sim = report["sim"]
    real = sim["real_images"]
    return {"model": model, "dataset": dataset, "nodes": f"{report.get('nodes_hw')}/{report.get('nodes_total')}",
            "est_cycles": sim["estimated_cycles_per_image"], "sim_cycles": sim["cycles_per_image"],
            "sim_vs_est": sim["cycles_vs_estimate"], "fps_at_clock": sim["fps_at_clock"], "clock_mhz": report["clock_mhz"],
            "bit_exact": sim["bit_exact"], "images": real.get("images"),
            "bit_exact_images": sum(real.get("bit_exact_per_image", [])), "top1_sim": real.get("top1_simulated"),
            "top1_torch": real.get("top1_torch"), "argmax_agreement": real.get("argmax_agreement_with_torch"),
            "cycles_per_second": sim["cycles_per_second_simulated"], "verilator_build_s": sim["build_seconds"],
            "host_steps": sim["host_steps"], "build_seconds": time.time() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--models", nargs="+", default=list(MODELS))
    p.add_argument("--datasets", nargs="+", default=list(SIZES))
    add_out_argument(p)
    args = p.parse_args(argv)
    out = out_dir(args)
    os.environ.setdefault("QVIT_SIM_CACHE", tempfile.mkdtemp(prefix="qvit_bench_cache_"))  # uncached builds
    jobs = [(model, dataset) for model in args.models for dataset in args.datasets]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (model, dataset) in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {model} {dataset} ...", flush=True)
            load = os.getloadavg()[0]
            row = run(model, dataset, args.images, Path(tmp) / f"{model}_{dataset}")
            row.update(date=datetime.date.today().isoformat(), images_asked=args.images, load_average_at_start=load)
            print(json.dumps(row), flush=True)
            write([row], out)  # each row as soon as it is measured: an interrupted run keeps the rows it finished
    print(f"wrote {out / 'vit_sim.md'} and {out / 'vit_sim.json'}")
    return 0


def write(rows: list[dict], out: Path) -> None:
    """Merge ``rows`` into ``out``/vit_sim.json (rows of other models and datasets are kept) and rewrite vit_sim.md."""
    old = json.loads((out / "vit_sim.json").read_text())["rows"] if (out / "vit_sim.json").exists() else []
    ran = {(r["model"], r["dataset"]) for r in rows}
    rows = [r for r in old if (r["model"], r["dataset"]) not in ran] + rows
    rows.sort(key=lambda r: (MODELS.index(r["model"]) if r["model"] in MODELS else 99, r["dataset"]))
    result = {"date": datetime.date.today().isoformat(), "machine": describe(torch.get_num_threads()),
              "target_fps": TARGET_FPS, "rows": rows}
    (out / "vit_sim.json").write_text(json.dumps(result, indent=2))
    lines = [f"# Whole-ViT Verilator simulation ({result['date']})", "",
             f"Machine: {result['machine']}. Produced by `python benchmarks/vit_sim.py --images N [--models ...] "
             f"[--datasets ...]`: `qvit build M --board AUP-ZU3 --target-fps {TARGET_FPS} --until sim --images N` per "
             "model and dataset size (shipped checkpoints; the first N test images). Each row gives its own date, N "
             "and the 1-minute load average when it started (other jobs shared the 2 cores).", "",
             "| model | dataset | date | bit-exact images | top-1 sim % | top-1 torch % | est. cycles/img | sim cycles/img "
             "| sim/est | FPS @ 200 MHz | simulated cycles/s | Verilator build (s) | load | host steps |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['dataset']} | {r.get('date', '')} | failed: {r['error']} ||||||||||")
            continue
        lines.append(f"| {r['model']} | {r['dataset']} | {r.get('date', result['date'])} | "
                     f"{r['bit_exact_images']}/{r['images']} | "
                     f"{r['top1_sim']:.1f} | "
                     f"{r['top1_torch']:.1f} | {r['est_cycles']:,} | {r['sim_cycles']:,.0f} | {r['sim_vs_est']:.3f} | "
                     f"{r['fps_at_clock']:,.0f} | {r['cycles_per_second']:,.0f} | {r['verilator_build_s']:.0f} | "
                     f"{r.get('load_average_at_start', 0):.1f} | {', '.join(r['host_steps'])} |")
    (out / "vit_sim.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
