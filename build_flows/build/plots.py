"""`qvit report BUILD_DIR`: a build's report.json as Markdown tables and PNG plots, written beside it.

``render(build_dir)`` writes ``report.md`` and ``plots/*.png`` (matplotlib, no display needed): resources
by layer and by type against the board's budget, cycles by layer with the bottleneck marked, FIFO
occupancy from the simulation, and accuracy against bit width across the shipped checkpoints. A plot
whose data the build has not produced yet (a build stopped before ``estimates`` or ``sim``) is left
out and ``report.md`` says why.
"""

from __future__ import annotations

import collections
import json
import math
from pathlib import Path

from build_flows.boards import RESOURCE_NAMES, get_board
from build_flows.build.report import BuildReport, checkpoint_line

PLOT_DIR = "plots"
RESOURCES = ("LUT", "FF", "LUTRAM", "BRAM", "URAM", "DSP")


class ReportError(ValueError):
    """The directory holds no report to render; the message says what to run first."""


def load_report(build_dir: str | Path) -> BuildReport:
    """The BuildReport in ``build_dir``/report.json; ReportError when there is none or it is not one."""
    path = Path(build_dir) / "report.json"
    if not path.is_file():
        raise ReportError(f"{build_dir} holds no report.json; build first: qvit build MODEL --out {build_dir}")
    try:
        return BuildReport.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise ReportError(f"{path} is not a qvit build report ({type(e).__name__}: {e}); rebuild into a new --out") from None


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only: no display is needed or opened)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bars(labels: list[str], ylabel: str, title: str, width_per_bar: float = 0.18):
    """A figure wide enough for one labelled bar per item: (figure, axes); the caller draws the bars."""
    fig, ax = pyplot().subplots(figsize=(max(8, width_per_bar * len(labels)), 4.5))
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6 if width_per_bar >= 0.18 else 5)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig, ax


def _save(fig, ax, path: Path, legend_size: int = 8, **legend) -> Path:
    ax.legend(fontsize=legend_size, **legend)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def _by_type(report: BuildReport) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = collections.defaultdict(lambda: dict.fromkeys(("layers",) + RESOURCES, 0))
    for layer in report.layers:
        if layer.host:
            continue
        row = out[layer.op]
        row["layers"] += 1
        for k in RESOURCES:
            row[k] += getattr(layer, k)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["LUT"]))


def plot_resources_by_layer(report: BuildReport, path: Path) -> Path:
    """LUT (as logic and as RAM) of every on-chip layer, the board's LUT budget in the title."""
    layers = [la for la in report.layers if not la.host]
    budget = get_board(report.board).budget()["LUT"]
    fig, ax = _bars([la.name for la in layers], "LUT (estimate)",
                    f"{report.model} on {report.board}: LUT by layer ({report.estimated.LUT:,} of a {budget:,.0f} budget)")
    logic = [la.LUT - la.LUTRAM for la in layers]
    ax.bar(range(len(layers)), logic, label="LUT as logic", color="tab:blue")
    ax.bar(range(len(layers)), [la.LUTRAM for la in layers], bottom=logic, label="LUT as RAM", color="tab:orange")
    return _save(fig, ax, path)


def plot_resources_by_type(report: BuildReport, path: Path) -> Path:
    """Each resource type's share of the board's budget, stacked by layer type; the budget as a line."""
    plt = pyplot()
    budget = get_board(report.board).budget()
    kinds = [k for k in RESOURCES if budget[k] > 0]
    bottom = [0.0] * len(kinds)
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (op, row) in enumerate(_by_type(report).items()):
        share = [100 * row[k] / budget[k] for k in kinds]
        ax.bar(range(len(kinds)), share, bottom=bottom, label=op, color=cmap(i % 20))
        bottom = [b + s for b, s in zip(bottom, share)]
    ax.axhline(100, color="red", linestyle="--", linewidth=1, label="budget")
    ax.set_xticks(range(len(kinds)), [f"{RESOURCE_NAMES[k]}\n{getattr(report.estimated, k):,} / {budget[k]:,.0f}"
                                      for k in kinds], fontsize=8)
    ax.set_ylabel("% of the board's budget")
    ax.set_title(f"{report.board}: resources by layer type (LUT, FF, LUTRAM budgets: 70 % of the device)", fontsize=10)
    return _save(fig, ax, path, 6, ncol=2, loc="upper right")


def plot_cycles(report: BuildReport, path: Path) -> Path:
    """Cycles per image of every on-chip layer; the bottleneck in red, the design's rate as a line."""
    layers = [la for la in report.layers if not la.host]
    est = report.estimated
    fig, ax = _bars([la.name for la in layers], "cycles per image", f"cycles by layer (bottleneck {est.bottleneck}, red)")
    colors = ["tab:red" if la.name == est.bottleneck else "tab:blue" for la in layers]
    ax.bar(range(len(layers)), [la.cycles for la in layers], color=colors)
    ax.axhline(est.cycles_per_image, color="black", linestyle="--", linewidth=1,
               label=f"{est.cycles_per_image:,} cycles/image = {est.fps:,.0f} FPS at {report.clock_mhz} MHz")
    if est.io_cycles_per_image:
        ax.axhline(est.io_cycles_per_image, color="tab:green", linestyle=":", linewidth=1,
                   label=f"I/O: {est.io_cycles_per_image:,} cycles/image")
    return _save(fig, ax, path)


def plot_fifos(report: BuildReport, path: Path) -> Path:
    """Every FIFO's high-water mark in the simulation against its depth."""
    sim = report.sim
    names = list(sim["fifo_depths"])
    fig, ax = _bars(names, "beats", f"FIFO occupancy in Verilator ({len(names)} FIFOs, stall probability "
                                    f"{sim.get('stall_probability', 0)})", width_per_bar=0.14)
    ax.bar(range(len(names)), [sim["fifo_depths"][n] for n in names], color="lightgray", label="depth")
    ax.bar(range(len(names)), [sim["fifo_high_water"].get(n, 0) for n in names], color="tab:purple",
           label="high-water mark (simulation)")
    ax.set_yscale("log")
    return _save(fig, ax, path)


def shipped_accuracy() -> list[dict]:
    """One row per shipped checkpoint: model, dataset, recorded test top-1, weight and activation bits
    (32 for float)."""
    from quant_models.checkpoint import load_checkpoint, read_checkpoint, shipped_checkpoints

    rows = []
    for ckpt in shipped_checkpoints():
        meta = json.loads(ckpt.with_suffix(".json").read_text()) if ckpt.with_suffix(".json").exists() else {}
        info = read_checkpoint(ckpt)
        model = load_checkpoint(ckpt)
        cfg = vars(model.cfg) if hasattr(model, "cfg") else {}
        weight = str(cfg.get("weight") or "float")
        w_bits = 1.0 if weight.startswith("binary") else math.log2(3) if weight.startswith("ternary") else 32.0
        rows.append({"model": info["model"], "dataset": info.get("dataset") or meta.get("dataset"),
                     "top1": meta.get("test_top1", info.get("test_top1")), "weight_bits": w_bits,
                     "act_bits": cfg.get("act_bits") or 32})
    return [r for r in rows if isinstance(r["top1"], (int, float))]


def plot_accuracy(rows: list[dict], path: Path) -> Path:
    """Recorded test top-1 of every shipped checkpoint against its weight bits, one marker per dataset."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    bits = sorted({r["weight_bits"] for r in rows})
    for marker, ds in zip("os^v", sorted({r["dataset"] for r in rows})):
        pts = [r for r in rows if r["dataset"] == ds]
        ax.scatter([bits.index(r["weight_bits"]) for r in pts], [r["top1"] for r in pts], marker=marker, s=50, label=ds)
        for r in pts:
            ax.annotate(f"{r['model']} (A{r['act_bits']})", (bits.index(r["weight_bits"]), r["top1"]), fontsize=6,
                        xytext=(5, 2), textcoords="offset points")
    names = {1.0: "binary (1)", math.log2(3): "ternary (1.58)", 32.0: "float (32)"}
    ax.set_xticks(range(len(bits)), [names.get(b, f"{b:g}") for b in bits])
    ax.set_xlim(-0.4, len(bits) - 0.2)
    ax.set_xlabel("weight bits")
    ax.set_ylabel("test top-1 %")
    ax.set_title("shipped checkpoints: accuracy against weight precision")
    ax.grid(alpha=0.3)
    return _save(fig, ax, path)


def markdown(report: BuildReport, plots: dict[str, str], skipped: dict[str, str]) -> str:
    """report.md: the headline numbers, resources by type against the budget, the layer table, the plots."""
    lines = [f"# {report.model} on {report.board} at {report.clock_mhz} MHz\n"]
    if report.checkpoint_info:
        lines.append(f"Checkpoint `{report.checkpoint_info['path']}`: {checkpoint_line(report.checkpoint_info)}.\n")
    lines.append(f"{report.nodes_hw}/{report.nodes_total} nodes in hardware.\n")
    est = report.estimated
    if est:
        lines.append(f"Estimate: **{est.fps:,.0f} FPS** ({est.cycles_per_image:,} cycles/image, bottleneck "
                     f"{est.bottleneck}), latency {est.latency_us:.1f} us, "
                     f"roofline fraction {report.roofline_fraction or 0:.3f}.\n")
        budget = get_board(report.board).budget()
        lines += ["| resource | used | budget | % |", "|---|---|---|---|"]
        lines += [f"| {RESOURCE_NAMES[k]} | {getattr(est, k):,} | {budget[k]:,.0f} | "
                  f"{100 * getattr(est, k) / budget[k]:.1f} |" if budget[k] else
                  f"| {RESOURCE_NAMES[k]} | {getattr(est, k):,} | 0 | - |" for k in RESOURCES]
        lines += ["", "| layer type | layers | LUT | LUTRAM | FF | BRAM18 | DSP |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {op} | {r['layers']} | {r['LUT']:,} | {r['LUTRAM']:,} | {r['FF']:,} | {r['BRAM']} | {r['DSP']} |"
                  for op, r in _by_type(report).items()]
    sim = report.sim
    if sim and "cycles_per_image" in sim:
        lines.append(f"\nVerilator: {sim['cycles_per_image']:,.0f} cycles/image ({sim['fps_at_clock']:,.0f} FPS at the "
                     f"clock), latency {sim['latency_us']:.2f} us, bit-exact {sim['bit_exact']} on {sim['vectors']} vectors.")
        real = sim.get("real_images", {})
        if "top1_simulated" in real:
            lines.append(f"Real {real['dataset']} test images: {real['images']}, "
                         f"bit-exact on {sum(real['bit_exact_per_image'])}; "
                         f"top-1 of the simulated outputs {real['top1_simulated']:.2f} % (torch {real['top1_torch']:.2f} %).")
    lines.append("")
    for title, name in plots.items():
        lines.append(f"## {title}\n\n![{title}]({PLOT_DIR}/{name})\n")
    for title, why in skipped.items():
        lines.append(f"*{title}: not drawn ({why}).*\n")
    if report.layers:
        lines += ["## Layers\n", "| layer | op | PE | SIMD | cycles | LUT | LUTRAM | FF | BRAM18 | DSP |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {la.name}{' (host)' if la.host else ''} | {la.op} | {la.PE or '-'} | {la.SIMD or '-'} | {la.cycles:,} "
                  f"| {la.LUT:,} | {la.LUTRAM:,} | {la.FF:,} | {la.BRAM} | {la.DSP} |" for la in report.layers]
    return "\n".join(lines) + "\n"


def render(build_dir: str | Path) -> dict:
    """Write report.md and plots/*.png into ``build_dir``. Gives {"files": [paths], "skipped": {plot: why}}.
    Raises ReportError when there is no report."""
    build_dir = Path(build_dir)
    report = load_report(build_dir)
    out = build_dir / PLOT_DIR
    out.mkdir(exist_ok=True)
    plots, skipped = {}, {}
    if report.estimated and report.layers:
        plots["Resources by layer type against the budget"] = plot_resources_by_type(report, out / "resources_by_type.png").name
        plots["LUT by layer"] = plot_resources_by_layer(report, out / "resources_by_layer.png").name
        plots["Cycles by layer"] = plot_cycles(report, out / "cycles.png").name
    else:
        skipped["resources and cycles"] = "the build stopped before its estimates step"
    if report.sim and report.sim.get("fifo_high_water"):
        plots["FIFO occupancy in the simulation"] = plot_fifos(report, out / "fifo_occupancy.png").name
    else:
        skipped["FIFO occupancy"] = "no simulation in this build; run `qvit sim " + str(build_dir) + "`"
    rows = shipped_accuracy()
    if rows:
        plots["Accuracy against bits (shipped checkpoints)"] = plot_accuracy(rows, out / "accuracy_vs_bits.png").name
    (build_dir / "report.md").write_text(markdown(report, plots, skipped))
    files = [build_dir / "report.md"] + [out / name for name in plots.values()]
    return {"files": [str(f) for f in files], "skipped": skipped}
