"""Ablation of the BinaryViT features on Fashion-MNIST: short runs of binaryvit-tiny-hw with all
features on, then with each one switched off. Writes ablation.md into --out (default build/benchmarks;
``--out benchmarks`` regenerates benchmarks/ablation.md, quoted by the README).

    python benchmarks/ablation.py [--epochs 2 --max-train 20000 --out build/benchmarks]

Short runs on purpose (CPU only): they rank the features, they do not give final accuracies.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import tempfile
from pathlib import Path

from machine import describe
from results import add_out_argument, out_dir

from quant_models.train import TrainConfig, train

# feature -> config value that switches it off
FEATURES = {
    "global average pooling head (off: class token)": {"gap_head": False},
    "average-pooling branches": {"pool_branches": False},
    "affine before residual adds": {"affine_residual": False},
    "pyramid (off: one stage)": {"pyramid": False},
    "binary attention (off: 4-bit Q/K/V)": {"attn_bits": 4},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--max-train", type=int, default=20000)
    p.add_argument("--threads", type=int, default=1)
    add_out_argument(p)
    args = p.parse_args(argv)
    out = out_dir(args) / "ablation.md"
    results = []
    configs = [("all features on", {})] + list(FEATURES.items())
    for i, (label, override) in enumerate(configs, 1):
        print(f"[{i}/{len(configs)}] {label} ...", flush=True)
        work = Path(tempfile.mkdtemp(prefix="qvit-ablation-"))
        try:
            m = train(TrainConfig(model="binaryvit-tiny-hw", dataset="fashion-mnist", out=str(work / "run"), epochs=args.epochs,
                                  max_train=args.max_train, threads=args.threads, preset="light", progress=False,
                                  overrides=override))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results.append((label, override, m["test_top1"], m["wall_seconds"]))
        print(f"{label}: {m['test_top1']:.2f}%", flush=True)
    lines = ["# BinaryViT feature ablation (Fashion-MNIST)\n",
             f"`benchmarks/ablation.py` on {datetime.date.today()} ({describe(args.threads)}): "
             f"binaryvit-tiny-hw, {args.epochs} epochs on the first {args.max_train} training images, preset light, "
             "full 10,000-image test set. Short runs: they rank the features, they are not final accuracies.\n",
             "| configuration | override | test top-1 % | training s |", "|---|---|---|---|"]
    for label, override, top1, secs in results:
        lines.append(f"| {label} | `{json.dumps(override)}` | {top1:.2f} | {secs:.0f} |")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
