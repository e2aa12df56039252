"""The build report: what the steps find, as typed fields, saved as ``DIR/report.json``.

Steps write their findings into a :class:`BuildReport`; the next step reads them from there, not
from untyped keys. ``to_dict``/``from_dict`` give and read the JSON form (fields never set are left
out), which a resumed build reloads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class LayerRow:
    """One dataflow layer: folding, cycles per image and estimated resources (BRAM in 18 kbit blocks)."""

    name: str
    op: str
    PE: int | None
    SIMD: int | None
    cycles: int
    LUT: int
    BRAM: int
    URAM: int
    DSP: int
    host: bool = False  # the host driver runs it (a float step or reorder at the graph's end): not in the totals
    FF: int = 0
    LUTRAM: int = 0  # of LUT, the LUTs used as distributed RAM


@dataclass
class Estimate:
    """Whole-design estimates: the slowest layer sets cycles per image and FPS; resources are sums."""

    cycles_per_image: int
    fps: float
    latency_us: float
    bottleneck: str
    #: cycles per image to move an image in and its result out at the board's data path width (each way)
    io_cycles_per_image: int = 0
    #: cycles per image of the slowest layer; cycles_per_image is the larger of this and io_cycles_per_image
    compute_cycles_per_image: int = 0
    LUT: int = 0
    BRAM: int = 0
    URAM: int = 0
    DSP: int = 0
    FF: int = 0
    LUTRAM: int = 0  # of LUT, the LUTs used as distributed RAM


@dataclass
class BuildReport:
    """Everything a build found. ``verification`` maps a comparison (``torch_vs_qonnx``,
    ``qonnx_vs_finn_python``) to its result; ``sim`` and ``yosys`` hold the RTL steps' results (or
    ``{"skipped": reason}``); ``steps`` the status and time of each step."""

    model: str | None = None
    checkpoint: str | None = None
    #: the Vivado steps' outputs: the project script (written without Vivado), the stitched IP, the bitfile
    vivado: dict | None = None
    #: the checkpoint's path, dataset, recorded test top-1 and why the build took it
    checkpoint_info: dict | None = None
    board: str | None = None
    part: str | None = None
    clock_mhz: float | None = None
    target_fps: float | str | None = None  # a number, or "max"
    input: dict | None = None  # with --pixels uint8: the pre-processing in front of the model
    nodes_total: int | None = None
    nodes_hw: int | None = None
    unmapped: list[dict] | None = None
    #: nodes no rule of ours mapped and FINN's streamlining and conversion did: {name, op_type, finn_layer}
    finn_fallback: list[dict] | None = None
    verification: dict[str, dict] = field(default_factory=dict)
    folding: dict | None = None
    layers: list[LayerRow] | None = None
    estimated: Estimate | None = None
    #: operations per image (2 per multiply-accumulate) by precision: "binary", "ternary", "int8 x ternary", ...
    ops_per_image: dict | None = None
    #: binary operations (2 per XNOR-popcount MAC) per image, and per second at the estimated FPS
    binary_ops_per_image: int | None = None
    binary_ops_per_second: float | None = None
    #: binary_ops_per_second over the board's ceiling: 2 ops per cycle for every XNOR_LUT_PER_MAC LUTs of the LUT
    #: budget (the estimate's own cost model), so at most 1 for a design that fits
    roofline_fraction: float | None = None
    sim: dict | None = None
    yosys: dict | None = None
    steps: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON form: fields that were never set are left out."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.name == "verification" and not value):
                continue
            out[f.name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else (
                [dataclasses.asdict(v) for v in value] if f.name == "layers" else value)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> BuildReport:
        """Read the JSON form back (a resumed build)."""
        data = dict(data)
        if data.get("layers") is not None:
            data["layers"] = [LayerRow(**row) for row in data["layers"]]
        if data.get("estimated") is not None:
            data["estimated"] = Estimate(**data["estimated"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def checkpoint_line(info: dict) -> str:
    """A checkpoint's dataset and recorded accuracy, in words."""
    top1 = info.get("test_top1")
    acc = f"recorded test top-1 {top1:.2f} %" if isinstance(top1, (int, float)) else "no recorded accuracy"
    return f"dataset {info.get('dataset') or 'not recorded'}, {acc}"


def budget_line(report: BuildReport) -> str:
    """The estimate's on-chip totals against the board's budget, every resource type."""
    from build_flows.boards import RESOURCE_NAMES, get_board

    board = get_board(report.board)
    est = report.estimated
    parts = [f"{RESOURCE_NAMES[k]} {getattr(est, k):,} / {limit:,.0f}" for k, limit in board.budget().items()]
    target = "" if report.target_fps is None else (" (--target-fps max)" if report.target_fps == "max" else "")
    return f"budget of {board.name}{target}: " + ", ".join(parts) + " (LUT, FF, LUTRAM: 70 % of the device)"


def tops_per_klut(ops_per_second: float, lut: int) -> float:
    """Operations per second in TOp/s per 1,000 LUT: the throughput per area that the summary and the benchmarks
    quote."""
    return ops_per_second / 1e12 / max(lut, 1) * 1000


def summary(report: BuildReport) -> str:
    """Human-readable summary table of a report."""
    lines = [f"model {report.model} on {report.board} at {report.clock_mhz} MHz: "
             f"{report.nodes_hw if report.nodes_hw is not None else '?'}/"
             f"{report.nodes_total if report.nodes_total is not None else '?'} nodes in hardware"]
    if report.checkpoint_info:
        lines.append(f"checkpoint {report.checkpoint_info['path']}: {checkpoint_line(report.checkpoint_info)}")
    if report.folding and report.folding.get("target") == "max":
        lines.append("folding: --target-fps max (the highest FPS whose estimate fits the board's budget)")
    est = report.estimated
    if est:
        w = max(len(layer.name) for layer in report.layers) + 2
        wo = max(len(layer.op) for layer in report.layers) + 2
        lines.append(f"{'layer':<{w}}{'op':<{wo}}{'PE':>5}{'SIMD':>6}{'cycles':>10}{'LUT':>9}{'BRAM':>6}{'DSP':>5}")
        for layer in report.layers:
            lines.append(f"{layer.name:<{w}}{layer.op:<{wo}}{layer.PE or '-':>5}{layer.SIMD or '-':>6}"
                         f"{layer.cycles:>10,}{layer.LUT:>9,}{layer.BRAM:>6}{layer.DSP:>5}"
                         + ("  (host step: not in the totals)" if layer.host else ""))
        lines.append(f"estimated: {est.fps:,.0f} FPS ({est.cycles_per_image:,} cycles/image, latency "
                     f"{est.latency_us:.1f} us), {est.LUT:,} LUT ({est.LUTRAM:,} as LUTRAM), {est.FF:,} FF, "
                     f"{est.BRAM} BRAM18, {est.URAM} URAM, {est.DSP} DSP; "
                     f"roofline fraction {report.roofline_fraction or 0:.3f}")
        if report.ops_per_image:
            ops = ", ".join(f"{k} {v:,}" for k, v in report.ops_per_image.items())
            lines.append(f"operations per image (2 per MAC): {ops}; binary {report.binary_ops_per_second / 1e12:.3f} TOp/s, "
                         f"{tops_per_klut(report.binary_ops_per_second, est.LUT):.4f} TOp/s per 1,000 LUT")
        lines.append(budget_line(report))
    for stage, v in report.verification.items():
        lines.append(f"verification {stage}: {v}")
    ys = report.yosys
    if ys and "layers" in ys:
        lines.append("yosys synth_xilinx: " + ", ".join(f"{k} {v:,}" for k, v in ys["total_synthesised"].items())
                     + f" over {len(ys['layers'])} layers" + (f"; not synthesised: {', '.join(ys['not_synthesised'])}"
                                                               if ys["not_synthesised"] else ""))
        for op, row in ys.get("by_type", {}).items():
            ratio = f"{row['LUT_vs_estimate']:.2f}x estimate" if row.get("LUT_vs_estimate") else "no estimate"
            lines.append(f"  {op:<22} {row['layers']:>3} layers: {row['LUT']:>7,} LUT ({ratio}), {row['FF']:,} FF, "
                         f"{row['BRAM18']} BRAM18, {row['DSP']} DSP")
        st = ys.get("stitched", {})
        if "LUT" in st:
            boxed = (f" + {len(st['blackboxes'])} black-boxed finn-rtllib layers (estimated "
                     f"{st['estimated_LUT_blackboxes']:,} LUT)" if st["blackboxes"] else "")
            lines.append(f"yosys stitched design ({st['fifo_depths']} FIFO depths): {st['LUT']:,} LUT "
                         f"({st['LUT_logic']:,} logic), {st['FF']:,} FF, "
                         f"{st['LUTRAM']:,} LUTRAM, {st['SRL']:,} SRL, {st['BRAM18']} BRAM18, {st.get('DSP', 0)} DSP{boxed}")
    viv = report.vivado or {}
    if "project_script" in viv:
        lines.append(f"Vivado project script (stitched IP, {viv['ip_cells']} IP cells, checked): {viv['project_script']}")
    if "wns_ns" in viv:
        lines.append(f"post-route worst negative slack {viv['wns_ns']} ns (timing {'met' if viv['timing_met'] else 'NOT met'});"
                     f" post-synthesis resources in report.json; bitfile {', '.join(viv.get('bitfile', [])) or 'none'}")
    sim = report.sim
    if sim and "skipped" in sim:
        lines.append(f"sim: skipped ({sim['skipped'].splitlines()[0]})")
    elif sim:
        lines.append(f"sim (Verilator, {sim['vectors']} vectors, bit_exact={sim['bit_exact']}): "
                     f"{sim['cycles_per_image']:,.0f} cycles/image ({sim['fps_at_clock']:,.0f} FPS at "
                     f"{report.clock_mhz} MHz, estimate {sim['estimated_cycles_per_image']:,}), latency "
                     f"{sim['latency_us']:.2f} us, {sim['cycles_per_second_simulated']:,.0f} simulated cycles/s")
        real = sim.get("real_images", {})
        if "top1_simulated" in real:
            lines.append(f"real {real['dataset']} test images: {real['images']}, bit-exact on "
                         f"{sum(real['bit_exact_per_image'])}; top-1 from the simulated outputs {real['top1_simulated']:.2f} % "
                         f"(torch {real['top1_torch']:.2f} %, argmax agreement {real['argmax_agreement_with_torch']:.3f})")
        if sim.get("hint"):
            lines.append(f"hint: {sim['hint']}")
        if sim.get("host_steps"):
            lines.append(f"accelerator boundary: the host does {', '.join(sim['host_steps'])} (graph ends)")
        if "fifo_sizing" in sim:
            fs = sim["fifo_sizing"]
            lines.append(f"FIFOs sized from the simulation: {fs['fifo_bits_before']:,} -> {fs['fifo_bits_after']:,} bits, "
                         f"{fs['cycles_per_image']:,.0f} cycles/image, {len(fs['depths'])} FIFOs (depths in report.json)")
            if "resources" in fs:
                r, t, kinds = fs["resources"], fs["with_layers"], list(fs["styles"].values())
                lines.append(f"  their memories: {kinds.count('distributed')} in LUTRAM, {kinds.count('block')} in BRAM: "
                             f"{r['LUT']:,} LUT ({r['LUTRAM']:,} as LUTRAM), {r['FF']:,} FF, {r['BRAM']:,} BRAM18; with the "
                             f"layers {t['LUT']:,} LUT, {t['FF']:,} FF, {t['LUTRAM']:,} LUTRAM, {t['BRAM']:,} BRAM18")
    return "\n".join(lines)
