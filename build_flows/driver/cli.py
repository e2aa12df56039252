"""The deployment package's command lines (board-side, numpy only): ``driver.py`` with FINN's driver options
(``--exec_mode execute|throughput_test --batchsize --bitfile --inputfile --outputfile``) and ``validate.py``
(accuracy on a dataset file). Errors print one ``error:`` line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from .accelerator import Accelerator, DriverError
from .backends import DriverTimeout


def _backend_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("pynq", "sim"), default="pynq",
                   help="pynq: the board; sim: the Verilator model of the same accelerator (needs qvit-fpga)")
    p.add_argument("--bitfile", help="bitfile to load (default: bitfile/qvit.bit of the package)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for a batch on the board")
    p.add_argument("--package", default=str(Path(sys.argv[0]).resolve().parent),
                   help="the deployment package directory (default: this script's)")


def _open(args) -> Accelerator:
    if args.timeout <= 0:
        raise DriverError(f"--timeout {args.timeout} must be positive")
    return Accelerator.from_package(args.package, args.backend, bitfile=args.bitfile, timeout_s=args.timeout)


def _batches(n: int, size: int):
    for i in range(0, n, size):
        yield slice(i, min(n, i + size))


def driver_main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Run the accelerator on inputs from a file, or measure its throughput.")
    p.add_argument("--exec_mode", choices=("execute", "throughput_test"), default="execute")
    p.add_argument("--batchsize", type=int, default=1, help="images per transfer")
    p.add_argument("--inputfile", default="input.npy",
                   help=".npy of model inputs [n, C, H, W] (or raw uint8 images [n, H, W, C] with --raw-images)")
    p.add_argument("--raw-images", action="store_true", help="the input file holds raw uint8 images to pre-process")
    p.add_argument("--outputfile", default="output.npy", help=".npy written with the outputs [n, values]")
    _backend_args(p)
    args = p.parse_args(argv)
    try:
        if args.batchsize < 1:
            raise DriverError(f"--batchsize {args.batchsize} must be at least 1")
        acc = _open(args)
        if args.exec_mode == "throughput_test":
            res = acc.throughput_test(args.batchsize)
            Path("nw_metrics.txt").write_text(json.dumps(res, indent=1))
            print(json.dumps(res, indent=1))
            return 0
        if not Path(args.inputfile).exists():
            raise DriverError(f"no input file {args.inputfile}: give --inputfile INPUT.npy")
        x = np.load(args.inputfile, allow_pickle=False)
        if args.raw_images:
            x = acc.preprocess(x)
        outs = [acc.execute(x[s]) for s in _batches(len(x), args.batchsize)]
        np.save(args.outputfile, np.concatenate(outs))
        print(f"wrote {args.outputfile}: {len(x)} outputs")
        return 0
    except (DriverError, DriverTimeout, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def validate_main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Top-1 accuracy of the accelerator on a dataset file.")
    p.add_argument("--dataset", default="samples/test_images.npz",
                   help=".npz with images (uint8 [n, H, W, C]) and labels [n]")
    p.add_argument("--batchsize", type=int, default=100)
    p.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
    _backend_args(p)
    args = p.parse_args(argv)
    try:
        if args.batchsize < 1 or args.limit < 0:
            raise DriverError("--batchsize must be at least 1 and --limit at least 0")
        path = Path(args.dataset)
        if not path.is_absolute() and not path.exists():
            path = Path(args.package) / path
        if not path.exists():
            raise DriverError(f"no dataset file {args.dataset}: give --dataset FILE.npz (images, labels)")
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data or "labels" not in data:
                raise DriverError(f"{path} must hold arrays 'images' (uint8 [n, H, W, C]) and 'labels' [n]")
            images, labels = data["images"], data["labels"]
        if args.limit:
            images, labels = images[: args.limit], labels[: args.limit]
        acc = _open(args)
        correct, t0 = 0, time.perf_counter()
        for s in _batches(len(images), args.batchsize):
            top1, _ = acc.classify(images[s])
            correct += int((top1 == labels[s]).sum())
            done = s.stop
            print(f"  {done}/{len(images)} images: top-1 {100 * correct / done:.2f} %", flush=True)
        seconds = time.perf_counter() - t0
        res = {"images": len(images), "top1_percent": 100 * correct / max(len(images), 1), "seconds": seconds,
               "images_per_s": len(images) / seconds, "backend": args.backend, **acc.backend.last_stats()}
        print(json.dumps(res, indent=1))
        return 0
    except (DriverError, DriverTimeout, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
