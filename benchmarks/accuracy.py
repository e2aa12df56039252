"""Accuracy table of the shipped checkpoints: re-evaluates each on its full test set and writes
accuracy.md with the machine and date into --out (default build/benchmarks; ``--out benchmarks`` regenerates
benchmarks/accuracy.md, quoted by the README).

    python benchmarks/accuracy.py [--out build/benchmarks]
"""

from __future__ import annotations

import argparse
import datetime
import json

import torch
from machine import describe
from results import add_out_argument, out_dir

from quant_models import data
from quant_models.checkpoint import load_checkpoint, read_checkpoint, shipped_checkpoints
from quant_models.complexity import count
from quant_models.export import model_input_shape
from quant_models.train import evaluate

# Table order within a dataset: float teachers, then ternary, MatMul-free and binary students.
KIND_ORDER = ("-fp", "ternary", "mmfree", "binary")


def kind_rank(model_name: str) -> int:
    return next((i for i, k in enumerate(KIND_ORDER) if k in model_name), len(KIND_ORDER))


def rows():
    ckpts = shipped_checkpoints()
    for i, ckpt in enumerate(ckpts, 1):
        print(f"[{i}/{len(ckpts)}] {ckpt.name} ...", flush=True)
        meta = json.loads(ckpt.with_suffix(".json").read_text()) if ckpt.with_suffix(".json").exists() else {}
        model = load_checkpoint(ckpt)
        dataset = meta.get("dataset") or read_checkpoint(ckpt).get("dataset")
        test = data.load(dataset, "test")
        c = count(model, model_input_shape(model))
        row = {
            "checkpoint": ckpt.name, "model": model.registry_name, "dataset": dataset,
            "top1": evaluate(model, test), "params": c.params, "ops": c.ops,
            # a run continued from an earlier one (--init) counts both
            "epochs": len(meta.get("epochs", [])) + meta.get("continued_from", {}).get("epochs", 0),
            "train_minutes": (meta.get("wall_seconds", 0) + meta.get("continued_from", {}).get("wall_seconds", 0)) / 60,
            "command": " ; then ".join(meta.get("continued_from", {}).get("commands", []) + meta.get("commands", [])),
        }
        print(json.dumps({k: row[k] for k in ("checkpoint", "model", "dataset", "top1")}), flush=True)
        yield row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    add_out_argument(p)
    args = p.parse_args(argv)
    out = out_dir(args) / "accuracy.md"
    torch.set_num_threads(2)
    table = sorted(rows(), key=lambda r: (r["dataset"], kind_rank(r["model"]), r["model"]))
    lines = ["# Accuracy of the shipped checkpoints\n",
             f"Measured by `benchmarks/accuracy.py` on {datetime.date.today()} ({describe(torch.get_num_threads())}); "
             "full test sets. Per dataset: float teachers, then the ternary, MatMul-free and binary students.\n",
             "| dataset | model | top-1 % | params | OPs/image | epochs | training time (min) | command |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['dataset']} | {r['model']} | {r['top1']:.2f} | {r['params']:,} | {r['ops']:.3g} | {r['epochs']} "
                     f"| {r['train_minutes']:.0f} | `{r['command']}` |")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
