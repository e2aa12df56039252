"""The `qvit run`, `qvit eval` and `qvit report` commands: the main job (a shipped checkpoint to a simulated
accelerator, with FPS, resources, bit-exactness and accuracy), a checkpoint's accuracy, a build's plots."""

from __future__ import annotations

import sys


def cmd_report(args) -> int:
    from build_flows.build.plots import ReportError, render

    try:
        res = render(args.dir)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {len(res['files'])} files:")
    for f in res["files"]:
        print(f"  {f}")
    for what, why in res["skipped"].items():
        print(f"  ({what}: not drawn, {why})")
    return 0


def cmd_eval(args) -> int:
    from quant_models import data as datasets
    from quant_models.checkpoint import load_checkpoint, read_checkpoint
    from quant_models.train import check_fits_dataset, evaluate, resolve_device

    info = read_checkpoint(args.checkpoint)
    dataset = args.dataset or info.get("dataset")
    if not dataset:
        print(f"error: {args.checkpoint} does not record its dataset; name it with --dataset", file=sys.stderr)
        return 2
    if args.limit is not None and args.limit < 1:
        print(f"error: --limit {args.limit} must be at least 1", file=sys.stderr)
        return 2
    test = datasets.load(dataset, "test", args.data_root)
    model = load_checkpoint(args.checkpoint)
    check_fits_dataset(model, test, dataset, "the checkpoint", args.checkpoint)
    torch_threads(args.threads)
    if args.limit:
        test = test.subset(range(min(args.limit, len(test))))
    top1 = evaluate(model.to(resolve_device(args.device)), test)
    recorded = info.get("test_top1")
    print(f"{info['model']} ({args.checkpoint}): top-1 {top1:.2f} % on {len(test):,} {dataset} test images"
          + (f" (recorded in the checkpoint: {recorded:.2f} %)" if isinstance(recorded, (int, float)) else ""))
    return 0


def torch_threads(n: int) -> None:
    import torch

    if n < 1:
        raise ValueError(f"--threads must be at least 1, got {n}")
    torch.set_num_threads(n)


def cmd_run(args) -> int:
    from build_flows.build.plots import render
    from build_flows.build.report import budget_line
    from build_flows.config import BuildConfig
    from quant_models.checkpoint import pretrained_checkpoint

    try:
        ckpt = pretrained_checkpoint(args.model, args.dataset)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = args.out or f"runs/{args.model}_{args.dataset}_{args.board}"
    cfg = BuildConfig(model=args.model, out=out, board=args.board, target_fps=args.target_fps, checkpoint=str(ckpt),
                      until="sim", sim_images=args.images, force=args.force)
    target = args.target_fps if isinstance(args.target_fps, str) else f"{args.target_fps:g}"
    print(f"qvit run: {args.model} from {ckpt.name}, {args.board} at --target-fps {target}, simulated on "
          f"{args.images} real {args.dataset} test images; build directory {out} (resumable: run the same command again)",
          flush=True)
    from build_flows.cli import _build_or_say_why

    report = _build_or_say_why(cfg)
    if report is None:
        return 2
    sim, est = report.sim or {}, report.estimated
    real = sim.get("real_images", {})
    if "cycles_per_image" not in sim:
        print(f"error: the simulation did not run ({sim.get('skipped', 'no result')}); see {out}/report.json",
              file=sys.stderr)
        return 2
    files = render(out)["files"]
    lines = [
        "",
        f"== {args.model} on {report.board} at {report.clock_mhz} MHz ({report.nodes_hw}/{report.nodes_total} nodes in hardware)",
        f"throughput  {sim['fps_at_clock']:,.0f} FPS simulated ({sim['cycles_per_image']:,.0f} cycles/image; "
        f"estimate {est.fps:,.0f} FPS)",
        f"latency     {sim['latency_us']:.1f} us per image (simulated)",
        f"resources   {budget_line(report)}",
        f"bit-exact   {'yes' if sim['bit_exact'] else 'NO'}: Verilator = QONNX = FINN python on {sim['vectors']} random "
        f"vectors (with and without stalls)" + (f" and {sum(real['bit_exact_per_image'])}/{real['images']} real images"
                                                if "bit_exact_per_image" in real else ""),
    ]
    if "top1_simulated" in real:
        lines.append(f"accuracy    top-1 {real['top1_simulated']:.2f} % on {real['images']} {real['dataset']} test images "
                     f"from the simulated outputs (torch {real['top1_torch']:.2f} %; checkpoint's full test set "
                     f"{report.checkpoint_info.get('test_top1', float('nan')):.2f} %)")
    else:
        lines.append(f"accuracy    not measured: {real.get('skipped', 'no real images were simulated')}")
    lines.append(f"report      {out}/report.json, {out}/report.md and {len(files) - 1} plots in {out}/plots/")
    print("\n".join(lines))
    if not sim["bit_exact"]:
        print("error: the simulated accelerator is not bit-exact with QONNX; see report.json sim", file=sys.stderr)
        return 1
    if "top1_simulated" not in real:
        print(f"error: no accuracy from the simulation ({real.get('skipped')}); the build in {out} is kept: run the same "
              "command again once the test set is there", file=sys.stderr)
        return 2
    return 0
