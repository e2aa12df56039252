"""``qvit build``: an ordered list of named steps, each ``step(model, ctx) -> model``, each leaving
an ONNX checkpoint in ``DIR/checkpoints``; a re-run resumes after the last good step, and a failed
step leaves every earlier result in place. Steps are FINN's own (finn-plus Python API) plus ours.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from build_flows.boards import Board, get_board
from build_flows.config import BuildConfig
from build_flows.finn_env import VivadoRequiredError, prepare_finn, require_vivado, vivado_available


class BuildError(RuntimeError):
    """A build step failed; the message names the step, the cause and the fix."""


@dataclass
class BuildContext:
    """What steps share: the config, the board, FINN's config, the golden model and the report."""

    cfg: BuildConfig
    board: Board
    dir: Path
    finn_cfg: object
    report: dict = field(default_factory=dict)

    def golden(self):
        from qonnx.core.modelwrapper import ModelWrapper

        return ModelWrapper(str(self.dir / "checkpoints" / "00_export.onnx"))


# ---------------------------------------------------------------- steps
def step_export(model, ctx: BuildContext):
    """Load a QONNX file, or export a registered model (given/shipped checkpoint, else random weights)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    src = ctx.cfg.model
    if src.endswith(".onnx"):
        path = Path(src)
        if not path.exists():
            raise BuildError(f"model file {path} does not exist; pass a QONNX file or a name from `qvit models`")
        try:
            model = ModelWrapper(str(path))
            model = cleanup_model(model)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
            raise BuildError(f"{path} is not a readable ONNX/QONNX file ({type(e).__name__}: {e}); "
                             "export it with `qvit export` or Brevitas' export_qonnx") from e
        ctx.report["model"] = path.name
        return model
    from quant_models import create_model, load_checkpoint
    from quant_models.export import export_model

    ckpt = ctx.cfg.checkpoint or _shipped_checkpoint(src, ctx.cfg.model_overrides)
    if ckpt:
        net = load_checkpoint(ckpt, name=src, **ctx.cfg.model_overrides)
        ctx.report["checkpoint"] = str(ckpt)
    else:
        net = create_model(src, **ctx.cfg.model_overrides)
        print(f"warning: no checkpoint for {src}: building it with random weights", file=sys.stderr)
        ctx.report["checkpoint"] = None
    tmp = ctx.dir / "model.onnx"
    rep = export_model(net, tmp, samples=2, seed=ctx.cfg.seed)
    ctx.report["model"] = src
    ctx.report.setdefault("verification", {})["torch_vs_qonnx"] = {
        "vectors": rep.samples, "max_abs_diff": rep.max_abs_diff, "argmax_agree": rep.argmax_agree}
    return ModelWrapper(str(tmp))


def _shipped_checkpoint(name: str, overrides: dict):
    """The first shipped checkpoint of ``name`` whose config agrees with ``overrides`` (input size)."""
    import torch

    from quant_models.registry import CHECKPOINT_DIR

    for path in sorted(CHECKPOINT_DIR.glob(f"{name}_*.pt")):
        config = torch.load(path, map_location="cpu", weights_only=True).get("config", {})
        if all(config.get(k, v) == v for k, v in overrides.items()):
            return path
    return None


def _finn_step(name):
    def step(model, ctx):
        import finn.builder.build_dataflow_steps as finn_steps

        return getattr(finn_steps, name)(model, ctx.finn_cfg)

    step.__doc__ = f"FINN's {name}."
    return step


def step_tidy_up(model, ctx: BuildContext):
    """Shapes, datatypes and constant folding (qonnx), so every tensor has a known shape."""
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return model.transform(InferShapes()).transform(FoldConstants()).transform(InferDataTypes())


def step_lower_to_hw(model, ctx: BuildContext):
    """Streamline and convert in one exact pass (:mod:`build_flows.lowering`): quantizers with the
    float operations before them become thresholds, linear layers become MVAUs, the transformer's
    other nodes become our layers; reorders compose; forks get FINN's DuplicateStreams."""
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from qonnx.transformation.general import SortGraph

    from build_flows.lowering import compose_layouts, lower_to_hw

    hw, unmapped = lower_to_hw(model)
    hw = compose_layouts(hw)
    hw = hw.transform(InferDuplicateStreamsLayer()).transform(SortGraph())
    ctx.report["unmapped_reasons"] = {u["output"]: u["reason"] for u in unmapped}
    return hw


def step_validate_hw(model, ctx: BuildContext):
    """Fail, listing every node with its reason, unless every node is a hardware layer."""
    from build_flows.validate import UnmappedNodesError, unmapped_nodes

    unmapped = unmapped_nodes(model, ctx.report.pop("unmapped_reasons", {}))
    total = len(model.graph.node)
    ctx.report.update(nodes_total=total, nodes_hw=total - len(unmapped), unmapped=unmapped)
    if unmapped:
        raise UnmappedNodesError(unmapped, total)
    return model


def step_verify_python(model, ctx: BuildContext):
    """FINN's python execution of the hardware graph against QONNX execution of the export (bit-exact)."""
    from qonnx.core.onnx_exec import execute_onnx

    golden = ctx.golden()
    shape = golden.get_tensor_shape(golden.graph.input[0].name)
    rng = np.random.default_rng(ctx.cfg.seed)
    diffs = []
    for _ in range(ctx.cfg.verify_vectors):
        x = rng.standard_normal(shape).astype(np.float32)
        ref = execute_onnx(golden, {golden.graph.input[0].name: x})[golden.graph.output[0].name]
        got = execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]
        diffs.append(float(np.abs(ref.reshape(got.shape) - got).max()))
    result = {"vectors": len(diffs), "max_abs_diff": max(diffs), "bit_exact": max(diffs) == 0.0}
    ctx.report.setdefault("verification", {})["qonnx_vs_finn_python"] = result
    if not result["bit_exact"]:
        raise BuildError(f"FINN's python execution differs from QONNX by up to {result['max_abs_diff']:.3g} on "
                         f"{result['vectors']} vectors: a transformation changed the function (please report it).")
    return model


def step_folding(model, ctx: BuildContext):
    """PE/SIMD of every layer (ours and FINN's) for the target FPS, balanced so that each layer gets
    the least parallelism that meets it; a user folding file (FINN's JSON format) overrides."""
    from build_flows.folding import performance, set_folding

    folding = None
    if ctx.cfg.folding_file:
        path = Path(ctx.cfg.folding_file)
        if not path.exists():
            raise BuildError(f"folding file {path} does not exist")
        folding = {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, dict)}
    target = ctx.cfg.clock * 1e6 / ctx.cfg.target_fps if ctx.cfg.target_fps else None
    if target is None and folding is None:
        return model
    short = set_folding(model, target if target is not None else float("inf"), folding)
    if target is not None and short and not folding:
        best = _best_fps(model, ctx)
        slow = ", ".join(f"{k} ({v:,} cycles)" for k, v in sorted(short.items(), key=lambda kv: -kv[1])[:3])
        raise BuildError(f"target {ctx.cfg.target_fps:,.0f} FPS is not reachable on {ctx.board.name} at {ctx.cfg.clock:.0f} MHz: "
                         f"the best folding reaches {best:,.0f} FPS (slowest layers fully unfolded: {slow}). "
                         "Lower --target-fps or raise the clock.")
    ctx.report["folding"] = {"target_cycles": target, "max_cycles": performance(model)["max_cycles"]}
    return model


def step_estimates(model, ctx: BuildContext):
    """Per-layer cycles and resources (FINN's models and ours), whole-design estimates, budget check."""
    from build_flows.folding import layer_table, performance

    layers = layer_table(model, ctx.board.part)
    perf = performance(model)
    cycles = max(1, perf["max_cycles"])
    clock_hz = ctx.cfg.clock * 1e6
    fps = clock_hz / cycles
    est = {"cycles_per_image": cycles, "fps": fps, "latency_us": perf["critical_path_cycles"] / clock_hz * 1e6,
           "bottleneck": perf["max_cycles_node_name"]}
    for key in ("LUT", "BRAM", "URAM", "DSP"):
        est[key] = sum(layer[key] for layer in layers)
    binary_macs = _binary_macs(model)
    ctx.report.update(layers=layers, estimated=est, binary_ops_per_image=binary_macs,
                      roofline_fraction=binary_macs * fps / ctx.board.binary_mac_ceiling(ctx.cfg.clock))
    budget = 0.70 * ctx.board.lut
    if est["LUT"] > budget:
        raise BuildError(f"the design needs {est['LUT']:,} LUT, over {ctx.board.name}'s budget of {budget:,.0f} "
                         f"(70 % of {ctx.board.lut:,}). Lower --target-fps or choose a larger board (`qvit boards`).")
    bram = 2 * ctx.board.bram36
    if est["BRAM"] > bram:
        raise BuildError(f"the design needs {est['BRAM']} BRAM18, over {ctx.board.name}'s {bram}. "
                         "Lower --target-fps or choose a larger board (`qvit boards`).")
    return model


def step_specialize_layers(model, ctx: BuildContext):
    """Hardware layers to implementations: binary, ternary and low-bit MVAUs to our RTL
    (:class:`build_flows.rtl_ops.MVAU_lut_rtl`), then FINN's SpecializeLayers for the rest. Every MVAU
    gets the config's ``mem_mode`` first."""
    import finn.builder.build_dataflow_steps as finn_steps
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.rtl_ops import SpecializeMVAUsToRTL

    for node in model.graph.node:
        if node.op_type == "MVAU":
            getCustomOp(node).set_nodeattr("mem_mode", ctx.cfg.mem_mode)
    model = model.transform(SpecializeMVAUsToRTL())
    return finn_steps.step_specialize_layers(model, ctx.finn_cfg)


def step_minimize_bit_width(model, ctx: BuildContext):
    """FINN's accumulator-width minimisation for MVAUs and thresholds, then FINN's threshold-type
    minimisation (with its RTL adjustment for signed inputs). (Weight widths are already the
    smallest type of their values from the lowering; FINN's weight pass would turn binary {-1, +1}
    weights into INT2 and lose the XNOR-popcount datapath.)"""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from qonnx.custom_op.registry import getCustomOp

    model = model.transform(MinimizeAccumulatorWidth())
    for node in model.graph.node:  # after the input widths settled: finn-rtllib's thresholding compares in
        if node.op_type.startswith("Thresholding"):  # the threshold type, which must fit its input's sign
            getCustomOp(node).minimize_weight_bit_width(model)
    return model


def step_sim(model, ctx: BuildContext):
    """Stitch every layer's RTL into one accelerator and simulate it cycle by cycle in Verilator
    (:mod:`build_flows.sim`): bit-exact against QONNX execution of the export and FINN's python execution
    on ``sim_vectors`` inputs, once without stalls (cycles per image, latency, FIFO high-water marks) and
    once under random valid/ready stalls. Graphs with layers that have no RTL stop here with the list
    when ``--until sim`` asked for it, and skip it otherwise."""
    from qonnx.core.onnx_exec import execute_onnx

    from build_flows.sim.accelerator import NoRTLError, simulate_dataflow

    golden = ctx.golden()
    shape = golden.get_tensor_shape(golden.graph.input[0].name)
    rng = np.random.default_rng(ctx.cfg.seed + 1)
    xs = rng.standard_normal((ctx.cfg.sim_vectors, *shape[1:])).astype(np.float32)
    clk_ns = 1000.0 / ctx.cfg.clock
    try:
        (res, stalled), chain = simulate_dataflow(model, xs, ctx.dir / "sim", ctx.board.part, clk_ns,
                                                  stalls=(0.0, ctx.cfg.sim_stall), seed=ctx.cfg.seed,
                                                  default_fifo=ctx.cfg.sim_fifo_depth)
    except NoRTLError as e:
        if ctx.cfg.until and ctx.cfg.until not in VIVADO_STEPS:  # the user asked for the simulation
            raise BuildError(str(e)) from e
        ctx.report["sim"] = {"skipped": str(e)}
        return model
    ref = np.stack([execute_onnx(golden, {golden.graph.input[0].name: x[None]})[golden.graph.output[0].name].reshape(-1)
                    for x in xs])
    py = _python_exec_copy(model)
    finn = np.stack([execute_onnx(py, {py.graph.input[0].name: x[None]})[py.graph.output[0].name].reshape(-1)
                     for x in xs])
    diffs = {"qonnx": float(np.abs(res.outputs - ref).max()), "finn_python": float(np.abs(res.outputs - finn).max()),
             "qonnx_stalled": float(np.abs(stalled.outputs - ref).max())}
    clock_hz = ctx.cfg.clock * 1e6
    est = ctx.report.get("estimated", {}).get("cycles_per_image")
    ctx.report["sim"] = {
        "vectors": len(xs), "bit_exact": all(d == 0.0 for d in diffs.values()), "max_abs_diff": diffs,
        "cycles_per_image": res.cycles_per_image, "fps_at_clock": clock_hz / res.cycles_per_image,
        "latency_us": res.latency_cycles / clock_hz * 1e6, "latency_cycles": res.latency_cycles,
        "estimated_cycles_per_image": est,
        "cycles_vs_estimate": res.cycles_per_image / est if est else None,
        "cycles_per_second_simulated": res.cycles_per_second, "simulated_cycles": res.cycles,
        "build_seconds": res.build_seconds, "stall_probability": ctx.cfg.sim_stall,
        "host_layout_layers": chain.host,
        "fifo_depths": dict(zip([s.name for s in chain.stages] + ["output"], chain.fifo_depths)),
        "fifo_high_water": dict(zip([s.name for s in chain.stages] + ["output"], res.fifo_hwm)),
    }
    if not ctx.report["sim"]["bit_exact"]:
        raise BuildError(f"the RTL simulation differs from the golden models (max |diff| {diffs}); the RTL and "
                         f"the layers' python execution disagree: see {ctx.dir / 'sim'}")
    if ctx.cfg.sim_size_fifos:
        _size_fifos(model, ctx, xs, ref, res, chain, clk_ns)
    return model


def _size_fifos(model, ctx: BuildContext, xs, ref, res, chain, clk_ns: float) -> None:
    """FIFO sizing from the simulation: depths one above the unstalled high-water marks, checked by
    simulating again with them (same cycles per image, still bit-exact under stalls), then written into
    the layers' FIFO depth attributes for FINN's IP stitching and into ``report["sim"]["fifo_sizing"]``."""
    from build_flows.sim.accelerator import simulate_dataflow, sized_fifo_depths, write_fifo_depths

    depths = sized_fifo_depths(res.fifo_hwm)
    (again, stalled), _ = simulate_dataflow(model, xs, ctx.dir / "sim_sized", ctx.board.part, clk_ns,
                                            stalls=(0.0, ctx.cfg.sim_stall), seed=ctx.cfg.seed, fifo_depths=depths)
    names = [s.name for s in chain.stages] + ["output"]
    bits = [s.in_bits for s in chain.stages] + [chain.stages[-1].out_bits]
    sizing = {"depths": dict(zip(names, depths)), "cycles_per_image": again.cycles_per_image,
              "bit_exact_stalled": bool(np.array_equal(stalled.outputs, ref)),
              "fifo_bits_before": int(sum(d * b for d, b in zip(chain.fifo_depths, bits))),
              "fifo_bits_after": int(sum(d * b for d, b in zip(depths, bits)))}
    ctx.report["sim"]["fifo_sizing"] = sizing
    if again.cycles_per_image > res.cycles_per_image or not sizing["bit_exact_stalled"]:
        raise BuildError(f"FIFO sizing from the simulation did not hold: {sizing}; keep the default depths "
                         "(sim_size_fifos: false) and report this")
    write_fifo_depths(model, chain, depths)


def step_yosys(model, ctx: BuildContext):
    """Resource counts without Vivado: yosys ``synth_xilinx`` of each layer's RTL generated by the sim step,
    beside FINN-style estimates, and of the whole stitched accelerator (``report["yosys"]``). finn-rtllib's
    SystemVerilog is beyond yosys' parsers (read_verilog; yosys-slang calls its thresholding
    unsynthesisable), so its layers keep their estimates, are listed as not synthesised and are black
    boxes in the stitched count."""
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.sim.yosys import YosysError, synth, yosys_command

    try:
        yosys_command()
    except YosysError as e:
        raise BuildError(str(e)) from e

    rtl_dir = ctx.dir / "sim" / "rtl"
    if "skipped" in ctx.report.get("sim", {}):
        ctx.report["yosys"] = {"skipped": "the sim step was skipped (layers without RTL)"}
        return model
    if not rtl_dir.exists():
        raise BuildError("no generated RTL: the 'yosys' step needs the 'sim' step's output (run with --until yosys)")
    layers, total, skipped = {}, {}, {}
    for node in model.graph.node:
        if not (rtl_dir / node.name).exists():
            continue
        inst = getCustomOp(node)
        files = [f for f in inst.get_rtl_file_list(abspath=True) if str(f).endswith((".v", ".sv"))]
        try:
            counts = synth(files, inst.get_nodeattr("gen_top_module"), ctx.board.part, nodsp=node.op_type == "MVAU_lut_rtl")
        except YosysError as e:
            skipped[node.name] = str(e).splitlines()[-1]
            continue
        counts.pop("cells")
        layers[node.name] = {**counts, "estimated_LUT": int(inst.lut_estimation(ctx.board.part))}
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    ctx.report["yosys"] = {"tool": "yosys synth_xilinx (before placement)", "layers": layers,
                           "total_synthesised": total, "not_synthesised": skipped,
                           "stitched": _synth_stitched(model, ctx, set(skipped))}
    return model


def _synth_stitched(model, ctx: BuildContext, blackbox: set[str]) -> dict:
    """yosys count of the whole stitched accelerator as simulated (layers, FIFOs at the simulated or
    sized depths, width converters), with the layers yosys cannot read as black boxes."""
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.sim.accelerator import layer_stage
    from build_flows.sim.yosys import YosysError, synth_stitched

    sim = ctx.report["sim"]
    depths = sim.get("fifo_sizing", {}).get("depths") or sim["fifo_depths"]
    nodes = {n.name: n for n in model.graph.node}
    stages = [layer_stage(model, nodes[name]) for name in list(depths)[:-1]]
    try:
        counts = synth_stitched(stages, list(depths.values()), blackbox, ctx.dir / "yosys_stitched", ctx.board.part)
    except YosysError as e:
        return {"failed": str(e).splitlines()[-1]}
    counts.pop("cells")
    counts["fifo_depths"] = "sized" if "fifo_sizing" in sim else "simulated"
    counts["estimated_LUT_blackboxes"] = int(sum(getCustomOp(nodes[n]).lut_estimation(ctx.board.part) for n in blackbox))
    return counts


def _python_exec_copy(model):
    """A copy of a specialised graph whose RTL layers execute in python (FINN names that mode of its
    RTL layers "cppsim": their base class's python execution)."""
    from finn.util.fpgadataflow import is_rtl_node
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    copy = ModelWrapper(model.model.__deepcopy__())
    for node in copy.graph.node:
        if is_rtl_node(node):
            getCustomOp(node).set_nodeattr("exec_mode", "cppsim")
    return copy


def _vivado_step(name):
    def step(model, ctx):
        require_vivado(name)
        import finn.builder.build_dataflow_steps as finn_steps

        return getattr(finn_steps, f"step_{name}")(model, ctx.finn_cfg)

    step.__doc__ = f"FINN's step_{name} (needs Vivado)."
    return step


STEPS = [
    ("export", step_export),
    ("tidy_up", step_tidy_up),
    ("lower_to_hw", step_lower_to_hw),
    ("validate_hw", step_validate_hw),
    ("verify_python", step_verify_python),
    ("dataflow_partition", _finn_step("step_create_dataflow_partition")),
    ("specialize_layers", step_specialize_layers),
    ("folding", step_folding),
    ("minimize_bit_width", step_minimize_bit_width),
    ("estimates", step_estimates),
    ("sim", step_sim),
    ("yosys", step_yosys),
    ("hw_ipgen", _vivado_step("hw_ipgen")),
    ("create_stitched_ip", _vivado_step("create_stitched_ip")),
    ("synthesize_bitfile", _vivado_step("synthesize_bitfile")),
]
STEP_NAMES = [n for n, _ in STEPS]
VIVADO_STEPS = {"hw_ipgen", "create_stitched_ip", "synthesize_bitfile"}


# ---------------------------------------------------------------- helpers
def _best_fps(model, ctx) -> float:
    """FPS with every layer fully unfolded (on a copy)."""
    from qonnx.core.modelwrapper import ModelWrapper

    from build_flows.folding import performance, unfold_all

    fast = ModelWrapper(model.model.__deepcopy__())
    unfold_all(fast)
    return ctx.cfg.clock * 1e6 / max(1, performance(fast)["max_cycles"])


def _binary_macs(model) -> int:
    """Binary (XNOR-popcount) multiply-accumulates per image: MVAUs and stream matmuls whose two
    operands are both binary."""
    from finn.util.fpgadataflow import is_fpgadataflow_node
    from qonnx.custom_op.registry import getCustomOp

    total = 0
    for node in model.graph.node:
        if not is_fpgadataflow_node(node):
            continue
        inst = getCustomOp(node)
        if node.op_type.startswith("MVAU"):
            binary = {"BINARY", "BIPOLAR"}
            if inst.get_nodeattr("inputDataType") in binary and inst.get_nodeattr("weightDataType") in binary:
                total += inst.get_nodeattr("MW") * inst.get_nodeattr("MH") * int(np.prod(inst.get_nodeattr("numInputVectors")))
        elif node.op_type == "StreamMatMul" and inst.binary():
            total += inst.macs()
    return total


def _finn_config(cfg: BuildConfig, board: Board, out: Path):
    import finn.builder.build_dataflow_config as bc

    return bc.DataflowBuildConfig(
        output_dir=str(out / "finn"), synth_clk_period_ns=1000.0 / cfg.clock, board=board.finn_name,
        fpga_part=board.part, target_fps=int(cfg.target_fps) if cfg.target_fps else None,
        folding_config_file=cfg.folding_file, mvau_wwidth_max=cfg.mvau_wwidth_max,
        generate_outputs=[bc.DataflowOutputType.ESTIMATE_REPORTS], enable_build_pdb_debug=False, verbose=False,
        shell_flow_type=bc.ShellFlowType.VIVADO_ZYNQ)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def default_until() -> str:
    """The last step that can run here: the last Vivado-free step when Vivado is absent."""
    return STEP_NAMES[-1] if vivado_available() else "estimates"  # `--until sim` adds the RTL simulation


# ---------------------------------------------------------------- runner
def build(cfg: BuildConfig, log=print, rerun: tuple[str, ...] = ()) -> dict:
    """Run (or resume) the build; returns the report (also in ``DIR/report.json``). Steps named in
    ``rerun`` run again even when done (`qvit sim` re-simulates an existing build)."""
    from qonnx.core.modelwrapper import ModelWrapper

    until = cfg.until or default_until()
    if until not in STEP_NAMES:
        raise ValueError(f"unknown step {until!r} for --until; steps: {', '.join(STEP_NAMES)}")
    out = Path(cfg.out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    prepare_finn(out / "finn_tmp")
    board = get_board(cfg.board)
    state_path = out / "build_state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state and state["fingerprint"] != cfg.fingerprint():
        raise ValueError(f"{out} holds a build with a different configuration; choose another --out or delete it")
    if not state:
        state = {"fingerprint": cfg.fingerprint(), "steps": [], "report": {}}
        cfg.save(out / "build_config.yaml")
    ctx = BuildContext(cfg=cfg, board=board, dir=out, finn_cfg=_finn_config(cfg, board, out), report=state["report"])
    ctx.report.update(board=board.name, part=board.part, clock_mhz=cfg.clock, target_fps=cfg.target_fps)
    done = {s["name"] for s in state["steps"] if s["status"] == "done"} - set(rerun)
    model = None
    stop = STEP_NAMES.index(until)
    for i, (name, fn) in enumerate(STEPS[: stop + 1]):
        ckpt = out / "checkpoints" / f"{i:02d}_{name}.onnx"
        if name in done and ckpt.exists():
            model = None  # loaded lazily from the last good checkpoint
            last_ckpt = ckpt
            continue
        if model is None and i > 0:
            model = ModelWrapper(str(last_ckpt))
            log(f"resuming after step '{STEP_NAMES[i - 1]}' ({last_ckpt.name})")
        log(f"[{i + 1}/{stop + 1}] {name} ...")
        start = time.time()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fn(model, ctx)
        except Exception as e:
            seconds = round(time.time() - start, 2)
            state["steps"] = [s for s in state["steps"] if s["name"] != name] + [
                {"name": name, "status": "failed", "seconds": seconds, "error": str(e)}]
            _finish(out, ctx, state)
            if isinstance(e, (BuildError, VivadoRequiredError, ValueError)) or type(e).__name__ == "UnmappedNodesError":
                raise BuildError(f"step '{name}' failed: {e}") from e
            raise BuildError(f"step '{name}' failed ({type(e).__name__}: {e}); earlier steps are kept in {out}/checkpoints "
                             "and the build resumes from them") from e
        model.save(str(ckpt))
        last_ckpt = ckpt
        state["steps"] = [s for s in state["steps"] if s["name"] != name] + [
            {"name": name, "status": "done", "seconds": round(time.time() - start, 2)}]
        _finish(out, ctx, state)
    if stop < len(STEPS) - 1 and not cfg.until:
        nxt = STEP_NAMES[stop + 1]
        sim = "; `--until sim` simulates the accelerator in Verilator (layers all in RTL)" if nxt == "sim" else ""
        log(f"stopped after '{until}'{sim}; the step 'hw_ipgen' and those after it needs Vivado")
    return ctx.report


def _finish(out: Path, ctx: BuildContext, state: dict) -> None:
    state["report"] = ctx.report
    ctx.report["steps"] = state["steps"]
    _write_json(out / "build_state.json", state)
    _write_json(out / "report.json", ctx.report)


def summary(report: dict) -> str:
    """Human-readable summary table of a report."""
    lines = [f"model {report.get('model')} on {report.get('board')} at {report.get('clock_mhz')} MHz: "
             f"{report.get('nodes_hw', '?')}/{report.get('nodes_total', '?')} nodes in hardware"]
    est = report.get("estimated")
    if est:
        w = max(len(layer["name"]) for layer in report["layers"]) + 2
        wo = max(len(layer["op"]) for layer in report["layers"]) + 2
        lines.append(f"{'layer':<{w}}{'op':<{wo}}{'PE':>5}{'SIMD':>6}{'cycles':>10}{'LUT':>9}{'BRAM':>6}{'DSP':>5}")
        for layer in report["layers"]:
            lines.append(f"{layer['name']:<{w}}{layer['op']:<{wo}}{layer['PE'] or '-':>5}{layer['SIMD'] or '-':>6}"
                         f"{layer['cycles']:>10,}{layer['LUT']:>9,}{layer['BRAM']:>6}{layer['DSP']:>5}")
        lines.append(f"estimated: {est['fps']:,.0f} FPS ({est['cycles_per_image']:,} cycles/image, latency "
                     f"{est['latency_us']:.1f} us), {est['LUT']:,} LUT, {est['BRAM']} BRAM18, {est['DSP']} DSP; "
                     f"roofline fraction {report.get('roofline_fraction', 0):.3f}")
    for stage, v in report.get("verification", {}).items():
        lines.append(f"verification {stage}: {v}")
    ys = report.get("yosys")
    if ys and "layers" in ys:
        lines.append("yosys synth_xilinx: " + ", ".join(f"{k} {v:,}" for k, v in ys["total_synthesised"].items())
                     + f" over {len(ys['layers'])} layers" + (f"; not synthesised: {', '.join(ys['not_synthesised'])}"
                                                               if ys["not_synthesised"] else ""))
        st = ys.get("stitched", {})
        if "LUT" in st:
            boxed = (f" + {len(st['blackboxes'])} black-boxed finn-rtllib layers (estimated "
                     f"{st['estimated_LUT_blackboxes']:,} LUT)" if st["blackboxes"] else "")
            lines.append(f"yosys stitched design ({st['fifo_depths']} FIFO depths): {st['LUT']:,} LUT, {st['FF']:,} FF, "
                         f"{st['LUTRAM']:,} LUTRAM, {st['SRL']:,} SRL, {st['BRAM18']} BRAM18{boxed}")
    sim = report.get("sim")
    if sim and "skipped" in sim:
        lines.append(f"sim: skipped ({sim['skipped'].splitlines()[0]})")
    elif sim:
        lines.append(f"sim (Verilator, {sim['vectors']} vectors, bit_exact={sim['bit_exact']}): "
                     f"{sim['cycles_per_image']:,.0f} cycles/image ({sim['fps_at_clock']:,.0f} FPS at "
                     f"{report.get('clock_mhz')} MHz, estimate {sim['estimated_cycles_per_image']:,}), latency "
                     f"{sim['latency_us']:.2f} us, {sim['cycles_per_second_simulated']:,.0f} simulated cycles/s")
        if "fifo_sizing" in sim:
            fs = sim["fifo_sizing"]
            lines.append(f"FIFOs sized from the simulation: {fs['fifo_bits_before']:,} -> {fs['fifo_bits_after']:,} bits, "
                         f"{fs['cycles_per_image']:,.0f} cycles/image, depths {fs['depths']}")
    return "\n".join(lines)

