"""Does torch.compile pay for training the quantized ViTs? Training steps (forward, cross-entropy, backward, AdamW)
of a shipped checkpoint on random CIFAR-10-sized batches, eager and compiled (inductor): the compiled model's
first step (the compile), its steady images/s beside eager's, and how many graphs dynamo made (the integer
softmax is one opaque operator, ``qvit::int_softmax``, so a new scale must not add one). A shipped checkpoint,
not a fresh model: a fresh model's quantizers collect scale statistics over their first steps, which changes
the graph every step. Writes compile_speed.md and compile_speed.json into --out (default build/benchmarks;
--out benchmarks for the tracked files).

    python benchmarks/compile_speed.py [--out build/benchmarks] [--models binaryvit-tiny-hw] [--device cpu]
"""

from __future__ import annotations

import argparse
import datetime
import json
import time

import torch
from machine import describe
from results import add_out_argument, out_dir

from quant_models.checkpoint import load_checkpoint, pretrained_checkpoint
from quant_models.train import device_name, resolve_device


def _images_per_s(step, batch: int, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - start)


def measure(model_name: str, device: torch.device, batch: int, steps: int) -> dict:
    """Eager and compiled training speed of ``model_name``'s shipped CIFAR-10 checkpoint on ``device``."""
    from torch._dynamo.utils import counters

    model = load_checkpoint(pretrained_checkpoint(model_name, "cifar10")).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step_of(forward):
        def step():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(forward(x), y).backward()
            opt.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        return step

    eager = step_of(model)
    eager()  # warm-up
    eager_ips = _images_per_s(eager, batch, steps)
    torch._dynamo.reset()
    counters.clear()
    compiled = step_of(torch.compile(model))
    start = time.perf_counter()
    compiled()
    first_s = time.perf_counter() - start
    compiled()  # the first step after the compile can still autotune
    compiled_ips = _images_per_s(compiled, batch, steps)
    return {"model": model_name, "device": device_name(device), "batch": batch, "steps": steps,
            "eager_images_per_s": eager_ips, "compiled_images_per_s": compiled_ips, "compile_seconds": first_s,
            "graphs": int(counters["stats"]["unique_graphs"])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_out_argument(p)
    p.add_argument("--models", default="binaryvit-tiny-hw", help="comma-separated shipped models")
    p.add_argument("--device", default="auto", help="auto (a GPU when there is one) | cpu | cuda")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=4, help="timed steps, each way (default 4)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    out = out_dir(args) / "compile_speed.md"
    rows = []
    for name in args.models.split(","):
        print(f"{name} on {device}, batch {args.batch}: eager, then compiled (the compile takes minutes) ...",
              flush=True)
        r = measure(name, device, args.batch, args.steps)
        rows.append(r)
        print(f"{name}: eager {r['eager_images_per_s']:.0f} images/s, compiled {r['compiled_images_per_s']:.0f} "
              f"images/s after a {r['compile_seconds']:.0f} s first step, {r['graphs']} graph(s)", flush=True)
        out.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    lines = ["# torch.compile and training speed\n",
             f"Measured by `benchmarks/compile_speed.py` on {datetime.date.today()} ({describe(args.threads)}; "
             f"device {device_name(device)}). Training steps of the shipped CIFAR-10 checkpoint on random images "
             "(forward, cross-entropy, backward, AdamW), eager against `torch.compile` (inductor); the compiled "
             "model's first step is the compile; graphs is the number dynamo made.\n",
             "| model | device | batch | eager images/s | compiled images/s | first compiled step (s) | graphs |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['device']} | {r['batch']} | {r['eager_images_per_s']:.0f} | "
              f"{r['compiled_images_per_s']:.0f} | {r['compile_seconds']:.0f} | {r['graphs']} |" for r in rows]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
