"""Training speed of the quantized ViTs: images/s of `qvit train`'s own loop (augmentation, forward with
the integer softmax/MLGRU, backward, AdamW step) on CIFAR-10, on the CPU and, where torch sees one, on a
CUDA GPU, at the batch sizes that suit each. Writes train_speed.md (a Markdown table with the machine and
date) and train_speed.json (rewritten after every measurement) into --out (default build/benchmarks, outside
the tracked files; --out benchmarks writes benchmarks/train_speed.md and benchmarks/train_speed.json).

    python benchmarks/train_speed.py [--out build/benchmarks] [--steps N] [--devices cpu,cuda]
"""

from __future__ import annotations

import argparse
import datetime
import json
import tempfile

import torch
from machine import describe
from results import add_out_argument, out_dir

from quant_models.train import TrainConfig, device_name, train

MODELS = ("binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny")
BATCHES = {"cpu": (128,), "cuda": (256, 1024)}


def measure(model: str, device: str, batch: int, steps: int, threads: int) -> dict:
    """Images/s of ``steps`` training steps (one epoch of ``steps`` batches of CIFAR-10) of ``model``."""
    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(model=model, dataset="cifar10", out=out, epochs=2, stop_after=1, batch_size=batch,
                          max_train=batch * steps, val_size=batch, threads=threads, device=device, progress=False,
                          scale_lr=True)
        m = train(cfg)
    e = m["epochs"][0]
    return {"model": model, "device": e["device"], "batch": batch, "steps": steps,
            "images_per_s": e["images_per_s"], "seconds": e["seconds"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_out_argument(p)
    p.add_argument("--steps", type=int, help="timed steps per model, device and batch (default 8 on the CPU, 40 on a GPU)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--devices", default="cpu,cuda", help="comma-separated; cuda is left out where there is none")
    args = p.parse_args(argv)
    devices = [d for d in args.devices.split(",") if d != "cuda" or torch.cuda.is_available()]
    out = out_dir(args) / "train_speed.md"
    rows = []
    jobs = [(device, model, batch) for device in devices for model in MODELS for batch in BATCHES[device.split(":")[0]]]
    for i, (device, model, batch) in enumerate(jobs, 1):
        steps = args.steps or (8 if device == "cpu" else 40)
        print(f"[{i}/{len(jobs)}] {model} on {device}, batch {batch}, {steps} steps ...", flush=True)
        r = measure(model, device, batch, steps, args.threads)
        rows.append(r)
        print(f"{model} on {r['device']}, batch {batch}: {r['images_per_s']:.0f} images/s "
              f"({steps} steps in {r['seconds']:.1f} s)", flush=True)
        out.with_suffix(".json").write_text(json.dumps(rows, indent=2))  # partial results survive
    gpus = [device_name(torch.device(d)) for d in devices if d.startswith("cuda")]
    lines = ["# Training speed\n",
             f"Measured by `benchmarks/train_speed.py` on {datetime.date.today()} "
             f"({describe(args.threads)}{'; GPU ' + ', '.join(gpus) if gpus else '; no GPU'}). CIFAR-10 (3x32x32), "
             "the training loop of `qvit train` (augmentation `light`, integer softmax/MLGRU in torch, AdamW, "
             "learning rate scaled with the batch); images/s over one epoch of the timed steps, the first step's "
             "start-up included (the scale calibration passes run before it).\n",
             "| model | device | batch | steps | images/s |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['device']} | {r['batch']} | {r['steps']} | {r['images_per_s']:.0f} |" for r in rows]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
