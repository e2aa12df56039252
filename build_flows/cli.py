"""The ``qvit`` command line.

Every user error ends with exit status 2 and one paragraph naming the cause and the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from build_flows import cli_main_job

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, RuntimeError)


def _quiet():
    warnings.filterwarnings("ignore", message="fast_hadamard_transform")
    warnings.filterwarnings("ignore", category=UserWarning, module="brevitas")


def _overrides(pairs: list[str]) -> dict:
    """``key=value`` strings -> dict; values parsed as JSON when possible (``img_size=28``)."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ValueError(f"--set expects key=value, got {pair!r} (for example --set img_size=28)")
        key, value = pair.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
        if isinstance(out[key], list):
            out[key] = tuple(out[key])
    return out


def cmd_models(args) -> int:
    from quant_models import create_model, list_models
    from quant_models.complexity import count
    from quant_models.export import model_input_shape
    from quant_models.registry import model_description

    def row(name):
        model = create_model(name)
        shape = model_input_shape(model)
        return name, "x".join(map(str, shape[1:])), count(model, shape), model_description(name)

    if args.json:
        rows = [row(name) for name in list_models()]
        print(json.dumps([{"name": n, "input": s, **c.to_dict(), "description": d} for n, s, c, d in rows], indent=2))
        return 0
    head = (f"{'model':<22}{'input':>9}{'params':>12}{'binary MACs':>15}{'ternary MACs':>14}"
            f"{'other MACs':>12}{'OPs':>11}  description")
    print(head)
    print("-" * len(head), flush=True)
    for name in list_models():  # each row as it is counted (the ImageNet configuration takes a while)
        n, s, c, d = row(name)
        print(f"{n:<22}{s:>9}{c.params:>12,}{c.binary_macs:>15,}{c.ternary_macs:>14,}{c.other_macs:>12,}{c.ops:>11.3g}  {d}",
              flush=True)
    print("\nOPs = BOPs/64 + FLOPs per image (BinaryViT convention); MACs per image at the default input size.")
    return 0


def cmd_boards(args) -> int:
    from build_flows.boards import BOARDS

    head = (f"{'board':<12}{'part':<24}{'LUT':>9}{'LUTRAM':>8}{'FF':>9}{'BRAM36':>8}{'URAM':>6}{'DSP':>6}{'MHz':>6}"
            f"{'AXI':>5}  shell")
    print(head)
    print("-" * len(head))
    for b in BOARDS.values():
        mark = " (default)" if b.default else ""
        print(f"{b.name:<12}{b.part:<24}{b.lut:>9,}{b.lutram:>8,}{b.ff:>9,}{b.bram36:>8}{b.uram:>6}{b.dsp:>6}{b.clock_mhz:>6.0f}"
              f"{b.axi_width:>5}  {b.shell}{mark}")
    print()
    for b in BOARDS.values():
        print(f"{b.name}: FINN name {b.finn_name}; Vivado {b.vivado}; PYNQ {b.pynq}")
    return 0


def _model_from_args(args):
    from quant_models import create_model, load_checkpoint

    overrides = _overrides(args.set)
    if args.checkpoint:
        return load_checkpoint(args.checkpoint, name=args.model, **overrides)
    return create_model(args.model, **overrides)


def cmd_export(args) -> int:
    from quant_models.export import export_model

    if args.samples < 1:
        raise ValueError(f"--samples must be at least 1 (the inputs that verify the export against torch), got "
                         f"{args.samples}")
    if args.checkpoint and Path(args.out).resolve() == Path(args.checkpoint).resolve():
        raise ValueError(f"--out {args.out} is the checkpoint itself: write the ONNX file elsewhere (e.g. model.onnx)")
    model = _model_from_args(args)
    if not args.checkpoint:
        print(f"note: no --checkpoint given, exporting {args.model} with random weights", file=sys.stderr)
    samples = args.samples
    if args.dataset:
        import numpy as np
        import torch

        from quant_models import data
        from quant_models.train import standardise, to_unit_float

        test = data.load(args.dataset, "test")
        idx = np.arange(min(args.samples, len(test)))
        samples = standardise(to_unit_float(torch.from_numpy(test.images[idx])), test.mean, test.std)
    report = export_model(model, args.out, samples=samples, seed=args.seed)
    print(f"wrote {report.path}: {report.nodes} nodes, input {list(report.input_shape)}")
    print("op types: " + ", ".join(f"{k} {v}" for k, v in report.op_types.items()))
    print(f"verified against torch on {report.samples} inputs: argmax agrees on {report.argmax_agree}/{report.samples}, "
          f"max |logit diff| = {report.max_abs_diff:.3g} (< 1e-4 required) in {report.seconds} s")
    return 0


def argv_is_cli() -> bool:
    """True when this process was started as the qvit command (not called from Python)."""
    return bool(sys.argv) and sys.argv[0].endswith("qvit")


def cmd_train(args) -> int:
    from quant_models.train import TrainConfig, train

    cfg = TrainConfig(model=args.model, dataset=args.dataset, out=args.out, epochs=args.epochs, batch_size=args.batch_size,
                      lr=args.lr, weight_decay=args.weight_decay, label_smoothing=args.label_smoothing,
                      warmup_epochs=args.warmup_epochs, preset=args.preset, seed=args.seed, threads=args.threads,
                      device=args.device,
                      scale_lr=args.scale_lr, data_root=args.data_root,
                      max_train=args.max_train, teacher=args.teacher, distill=args.distill, distill_alpha=args.distill_alpha,
                      distill_tau=args.distill_tau,
                      overrides=_overrides(args.set), progress=not args.no_progress, prune_l1=args.prune_l1,
                      init=args.init, stop_after=args.stop_after, time_limit=args.time_limit)
    metrics = train(cfg, resume=args.resume, command="qvit " + " ".join(sys.argv[1:]) if argv_is_cli() else "")
    if "test_top1" not in metrics:
        done = len(metrics["epochs"])
        why = " or ".join((["--stop-after"] if args.stop_after is not None else []) +
                          ([f"--time-limit {args.time_limit:g} min"] if args.time_limit is not None else []))
        print(f"stopped after epoch {done} of {args.epochs} ({why}); {args.out}/checkpoint.pt holds the run. "
              "Continue it with the same command plus --resume (and without --stop-after or --time-limit to finish).")
        return 0
    print(f"test top-1 {metrics['test_top1']:.2f}% on {metrics['test_size']} images after {len(metrics['epochs'])} epochs "
          f"({metrics['wall_seconds']:.0f} s); wrote {args.out}/checkpoint.pt, model.pt, metrics.json")
    return 0


def cmd_prune(args) -> int:
    from quant_models import load_checkpoint, save_checkpoint
    from quant_models.prune import gated_mlps, prune

    model = load_checkpoint(args.checkpoint)
    before = sum(p.numel() for p in model.parameters())
    widths = [len(m.gate) for _, m in gated_mlps(model)]
    small = prune(model, args.rate)
    save_checkpoint(args.out, small)
    after = sum(p.numel() for p in small.parameters())
    print(f"MLP widths {widths} -> {list(small.cfg.mlp_hidden)}; parameters {before:,} -> {after:,}; wrote {args.out}")
    print(f"fine-tune it with: qvit train --init {args.out} --model {small.registry_name} --dataset ... --out ...")
    return 0


def _build_or_say_why(cfg):
    """Run the build of ``cfg``; its report, or None after printing the step's error and where the report so far is."""
    from build_flows.build import BuildError, build

    try:
        return build(cfg)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        print(f"the report so far is in {cfg.out}/report.json", file=sys.stderr)
        return None


def cmd_build(args) -> int:
    from build_flows.build import summary
    from build_flows.cli_fields import fields_from_args
    from build_flows.config import BuildConfig

    fields = fields_from_args(args, BuildConfig, "build")
    if args.set:
        fields["model_overrides"] = _overrides(args.set)
    if args.config:
        cfg = BuildConfig.load(args.config, **fields)
    else:
        cfg = BuildConfig(**fields)
    report = _build_or_say_why(cfg)
    if report is None:
        return 2
    print(summary(report))
    print(f"wrote {cfg.out}/report.json")
    return 0


def cmd_sim(args) -> int:
    from build_flows.build import BuildError, build, summary
    from build_flows.cli_fields import fields_from_args
    from build_flows.config import BuildConfig

    cfg_path = Path(args.dir) / "build_config.yaml"
    if not cfg_path.exists():
        print(f"error: {args.dir} is not a build directory (no build_config.yaml); run `qvit build MODEL --out "
              f"{args.dir} --until sim` first", file=sys.stderr)
        return 2
    cfg = BuildConfig.load(cfg_path, out=args.dir, until="sim", **fields_from_args(args, BuildConfig, "sim"))
    try:
        report = build(cfg, rerun=("sim",))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary(report))
    print(f"wrote {cfg.out}/report.json")
    return 0


def cmd_deploy(args) -> int:
    from build_flows.build import BuildError
    from build_flows.build.deploy import deploy

    if args.images < 0:
        print(f"error: --images {args.images} must be 0 or more", file=sys.stderr)
        return 2
    try:
        res = deploy(args.dir, args.out, force=args.force, images=args.images)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote the deployment package {res['package']} ({len(res['files'])} files"
          + ("" if res["bitfile"] else "; no bitfile: the build ran without Vivado, the simulated board is in sim/") + ")")
    for f in res["files"]:
        if not f.startswith("sim/rtl/"):
            print(f"  {f}")
    print(f"  sim/rtl/: {sum(f.startswith('sim/rtl/') for f in res['files'])} RTL and memory files")
    print(f"try it on the simulated board: cd {res['package']} && python validate.py --backend sim")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from build_flows.boards import DEFAULT_BOARD
    from build_flows.cli_fields import add_arguments
    from build_flows.config import BuildConfig, cli_target_fps

    p = argparse.ArgumentParser(prog="qvit", description="Binary and ternary ViTs from Brevitas QAT to FINN accelerators.")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("models", help="list registered models with parameter and operation counts")
    m.add_argument("--json", action="store_true", help="machine-readable output")
    m.set_defaults(func=cmd_models)

    b = sub.add_parser("boards", help="list supported boards (part, resources, clock, shell, tool versions)")
    b.set_defaults(func=cmd_boards)

    e = sub.add_parser("export", help="export a model to QONNX and verify it against torch")
    e.add_argument("--model", required=True, help="registered model name (see `qvit models`)")
    e.add_argument("--checkpoint", help="checkpoint written by `qvit train` (default: random weights)")
    e.add_argument("--out", required=True, help="output .onnx file")
    e.add_argument("--samples", type=int, default=8, help="random inputs used for verification (default 8)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--dataset", help="verify on the first --samples test images of this dataset instead of random inputs")
    e.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override, e.g. --set img_size=28 --set in_chans=1")
    e.set_defaults(func=cmd_export)

    t = sub.add_parser("train", help="quantization-aware training (resumable, optional distillation)")
    t.add_argument("--model", required=True)
    t.add_argument("--dataset", required=True, help="fashion-mnist | cifar10 | digits | image-folder")
    t.add_argument("--out", required=True, help="run directory (checkpoint.pt, model.pt, metrics.json)")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--weight-decay", type=float, default=0.05,
                   help="AdamW weight decay of the weight matrices (norms and biases get none); binary nets "
                        "often fine-tune better with 0, as latent weights pulled to 0 flip sign more often")
    t.add_argument("--label-smoothing", type=float, default=0.1)
    t.add_argument("--warmup-epochs", type=float, default=1.0, help="linear learning-rate warm-up before the cosine decay")
    t.add_argument("--preset", default="light", help="augmentation/regularisation preset: none | light | medium | strong")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    t.add_argument("--device", default="auto",
                   help="auto (a CUDA GPU when torch sees one, else the CPU) | cpu | cuda | cuda:N")
    t.add_argument("--scale-lr", action="store_true",
                   help="scale --lr linearly by batch size / 128 (for large GPU batches)")
    t.add_argument("--data-root", help="dataset location (default: the dataset's standard place)")
    t.add_argument("--max-train", type=int, help="use only the first N training images (quick runs)")
    t.add_argument("--teacher", help="teacher checkpoint (model.pt of an earlier run) for distillation")
    t.add_argument("--distill", default="soft", help="soft (logit KL, BinaryViT) | hard (teacher argmax, DeiT)")
    t.add_argument("--distill-alpha", type=float, default=0.5, help="weight of the distillation loss")
    t.add_argument("--distill-tau", type=float, default=1.0, help="softmax temperature of soft distillation")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    t.add_argument("--init", help="start from the weights and config of this checkpoint "
                                  "(fine-tuning, a new schedule, a pruned model)")
    t.add_argument("--prune-l1", type=float, default=0.0, help="L1 weight on pruning gates (needs --set prune_gates=true)")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="end this invocation after N epochs; the run continues later with --resume")
    t.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="end this invocation at the end of the epoch after which another, as long as the last, "
                        "would end past MINUTES from the start (a time-boxed run, e.g. on a lent GPU); at least one "
                        "epoch runs; the checkpoint is written and the run continues later with --resume")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="model config override")
    t.set_defaults(func=cmd_train)

    rn = sub.add_parser("run", help="the main job: a shipped checkpoint to a simulated accelerator, with FPS, "
                                    "resources, bit-exactness and accuracy")
    rn.add_argument("model", help="a model with a shipped checkpoint (see `qvit models`)")
    rn.add_argument("--dataset", default="cifar10", help="the checkpoint's dataset: cifar10 | fashion-mnist (default cifar10)")
    rn.add_argument("--board", default=DEFAULT_BOARD, help=f"board (default {DEFAULT_BOARD}; see `qvit boards`)")
    rn.add_argument("--target-fps", default="5311", type=cli_target_fps,
                    help="frames per second to fold for, or max (default 5311: the FPS the README's results use)")
    rn.add_argument("--images", type=int, default=100, help="real test images to simulate (default 100)")
    rn.add_argument("--out", help="build directory (default runs/MODEL_DATASET_BOARD)")
    rn.add_argument("--force", action="store_true", help="build into a non-empty directory that holds no build")
    rn.set_defaults(func=cli_main_job.cmd_run)

    ev = sub.add_parser("eval", help="test accuracy of a checkpoint on its dataset")
    ev.add_argument("checkpoint", help="a checkpoint (shipped, or model.pt of `qvit train`)")
    ev.add_argument("--dataset", help="default: the dataset the checkpoint records")
    ev.add_argument("--data-root", help="dataset location (default: the dataset's standard place)")
    ev.add_argument("--limit", type=int, help="only the first N test images")
    ev.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    ev.add_argument("--threads", type=int, default=2, help="CPU threads for torch")
    ev.set_defaults(func=cli_main_job.cmd_eval)

    rp = sub.add_parser("report", help="a build's report.json as report.md and PNG plots beside it")
    rp.add_argument("dir", help="build directory of `qvit build` or `qvit run`")
    rp.set_defaults(func=cli_main_job.cmd_report)

    bd = sub.add_parser("build", help="compile a model to a FINN dataflow accelerator (estimates without Vivado)")
    add_arguments(bd, BuildConfig, "build")
    bd.add_argument("--config", help="YAML file of build config fields (command-line flags override it)")
    bd.add_argument("--set", action="append", metavar="KEY=VALUE", help="model config override")
    bd.set_defaults(func=cmd_build)

    sm = sub.add_parser("sim", help="cycle-accurate Verilator simulation of a built accelerator (layers all in RTL)")
    sm.add_argument("dir", help="build directory of `qvit build` (resumes it through the sim step)")
    add_arguments(sm, BuildConfig, "sim")
    sm.set_defaults(func=cmd_sim)

    dp = sub.add_parser("deploy", help="deployment package of a build: driver, bitfile when built, simulated board")
    dp.add_argument("dir", help="build directory of `qvit build` (run through the sim step)")
    dp.add_argument("--out", required=True, help="package directory to write")
    dp.add_argument("--images", type=int, default=100, help="test images included for validate.py (default 100)")
    dp.add_argument("--force", action="store_true", help="write into a non-empty directory that is not a package")
    dp.set_defaults(func=cmd_deploy)

    pr = sub.add_parser("prune", help="remove the least important MLP dimensions of a gated model")
    pr.add_argument("--checkpoint", required=True, help="model.pt of a run trained with --set prune_gates=true")
    pr.add_argument("--rate", type=float, required=True, help="fraction of gated dimensions to remove, e.g. 0.5")
    pr.add_argument("--out", required=True, help="pruned checkpoint to write")
    pr.set_defaults(func=cmd_prune)
    return p


def _report_unexpected(e: BaseException) -> int:
    """An error qvit-fpga did not foresee: one line, the traceback in a log file, a request to report it."""
    import datetime
    import tempfile
    import traceback

    log_dir = Path(os.environ.get("QVIT_LOG_DIR") or Path(tempfile.gettempdir()) / "qvit-logs")
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = log_dir / f"qvit-error-{datetime.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}.log"
        log.write_text(f"qvit {' '.join(sys.argv[1:])}\n\n" + "".join(traceback.format_exception(e)))
        where = f"the traceback is in {log}"
    except OSError:
        where = "the traceback could not be written to a log file"
    first = (str(e).splitlines() or [""])[0][:300]
    print(f"error: unexpected {type(e).__name__}: {first} ({where}; please report it with that file)", file=sys.stderr)
    return 1


def main(argv=None) -> int:
    _quiet()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; a build resumes from its last finished step", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`qvit models | head`): stop quietly, as on SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:  # noqa: BLE001 - the last line of defence: no traceback on the user's screen
        return _report_unexpected(e)


if __name__ == "__main__":
    sys.exit(main())
