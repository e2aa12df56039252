"""Build steps on the dataflow graph: FINN's partitioning, specialisation to RTL, folding for the
target, bit-width minimisation, and the estimates with the board's budget check."""

from __future__ import annotations

import json
from pathlib import Path

from build_flows.build.context import BuildContext, BuildError, build_step
from build_flows.build.report import Estimate


@build_step("dataflow_partition")
def step_dataflow_partition(model, ctx: BuildContext):
    """FINN's step_create_dataflow_partition."""
    import finn.builder.build_dataflow_steps as finn_steps

    return finn_steps.step_create_dataflow_partition(model, ctx.finn_cfg)


@build_step("specialize_layers")
def step_specialize_layers(model, ctx: BuildContext):
    """Hardware layers to implementations: every MVAU gets the config's ``mem_mode``; layers that one of
    our RTL backends implements get it (:mod:`build_flows.layers.rtl`), then FINN's SpecializeLayers
    takes the rest."""
    import finn.builder.build_dataflow_steps as finn_steps
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.layers.rtl import SpecializeToQvitRTL

    for node in model.graph.node:
        if node.op_type == "MVAU":  # FINN's layer; mem_mode is a build knob
            getCustomOp(node).set_nodeattr("mem_mode", ctx.cfg.mem_mode)
    model = model.transform(SpecializeToQvitRTL())
    model = finn_steps.step_specialize_layers(model, ctx.finn_cfg)
    for node in model.graph.node:
        if node.op_type == "Thresholding_rtl":
            inst = getCustomOp(node)
            inst.set_nodeattr("depth_trigger_bram", THRESHOLD_BRAM_DEPTH)
            inst.set_nodeattr("depth_trigger_uram", 1 << 30)  # FINN reads 0 as "everything to URAM" once BRAM is set
    return model


#: threshold memories of FINN's Thresholding_rtl at least this deep go to block RAM (its depth_trigger_bram),
#: shallower ones to LUTRAM: a 255-level, 20-bit quantizer of 96 channels is 7,660 LUTs all in LUTRAM
THRESHOLD_BRAM_DEPTH = 256


@build_step("folding")
def step_folding(model, ctx: BuildContext):
    """PE/SIMD of every layer (ours and FINN's) for the target FPS, balanced so that each layer gets
    the least parallelism that meets it; a user folding file (FINN's JSON format) overrides."""
    from build_flows.build.folding import best_fps, fastest_within_budget, performance, set_folding

    folding = None
    if ctx.cfg.folding_file:
        path = Path(ctx.cfg.folding_file)
        if not path.exists():
            raise BuildError(f"folding file {path} does not exist")
        folding = {k: v for k, v in json.loads(path.read_text()).items() if isinstance(v, dict)}
    if ctx.cfg.target_fps == "max" and folding is None:
        reserve = ctx.fifo_reserve
        kept = (f" with {reserve['LUT']:,} LUT and {reserve['BRAM']:,} BRAM18 kept for the FIFOs the simulation sized"
                if reserve else "")
        print(f"searching the highest FPS whose estimate fits {ctx.board.name}'s budget{kept} ...", flush=True)
        best = fastest_within_budget(model, ctx.board, ctx.cfg.clock, reserve)
        if best is None:
            set_folding(model, float("inf"))
            raise BuildError(f"the design does not fit {ctx.board.name} even at PE=SIMD=1: "
                             + "; ".join(ctx.board.over_budget(_totals(model, ctx))) +
                             ". Choose a larger board (`qvit boards`) or a smaller model.")
        print(f"highest FPS within budget: {best['fps']:,.0f} ({best['cycles']:,} cycles/image at {ctx.cfg.clock:.0f} MHz), "
              f"limited by {best['limit']}{kept}")
        ctx.report.folding = {"target": "max", "target_cycles": best["cycles"], "max_cycles": best["cycles"],
                              "limited_by": best["limit"] + kept, "fifo_reserve": reserve}
        return model
    fps = ctx.cfg.target_fps if ctx.cfg.target_fps != "max" else None
    target = ctx.cfg.clock * 1e6 / fps if fps else None
    if target is None and folding is None:
        return model
    short = set_folding(model, target if target is not None else float("inf"), folding)
    if target is not None and short and not folding:
        best = best_fps(model, ctx.cfg.clock)
        slow = ", ".join(f"{k} ({v:,} cycles)" for k, v in sorted(short.items(), key=lambda kv: -kv[1])[:3])
        raise BuildError(f"target {fps:,.0f} FPS is not reachable on {ctx.board.name} at {ctx.cfg.clock:.0f} MHz: "
                         f"the best folding reaches {best:,.0f} FPS (slowest layers fully unfolded: {slow}). "
                         "Lower --target-fps (or use --target-fps max) or raise the clock.")
    ctx.report.folding = {"target_cycles": target, "max_cycles": performance(model)["max_cycles"]}
    return model


def _totals(model, ctx: BuildContext) -> dict:
    from build_flows.build.folding import layer_table, on_chip_totals

    return on_chip_totals(layer_table(model, ctx.board.part))


@build_step("minimize_bit_width")
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


@build_step("estimates")
def step_estimates(model, ctx: BuildContext):
    """Where each layer's parameters live (LUTRAM or BRAM, per board and size), per-layer cycles and resources
    (FINN's models and ours), whole-design estimates, the budget check of every resource type."""
    from build_flows.build.folding import (
        decide_memories,
        io_cycles,
        layer_table,
        macs_by_precision,
        on_chip_totals,
        performance,
    )

    decide_memories(model, ctx.board)  # written into the layers: the sim step's RTL reads the same choice
    layers = layer_table(model, ctx.board.part)
    perf = performance(model)
    io = io_cycles(model, ctx.board.axi_width)
    cycles = max(1, perf["max_cycles"], io["cycles"])
    clock_hz = ctx.cfg.clock * 1e6
    fps = clock_hz / cycles
    bottleneck = perf["max_cycles_node_name"] if perf["max_cycles"] >= io["cycles"] else \
        f"the data path ({ctx.board.axi_width} bits per cycle each way)"
    est = Estimate(cycles_per_image=cycles, fps=fps, latency_us=perf["critical_path_cycles"] / clock_hz * 1e6,
                   bottleneck=bottleneck, io_cycles_per_image=io["cycles"], compute_cycles_per_image=perf["max_cycles"],
                   **on_chip_totals(layers))
    from build_flows.build.calibration import lut_per_binary_mac

    report = ctx.report
    report.layers, report.estimated = layers, est
    report.ops_per_image = {k: 2 * v for k, v in macs_by_precision(model).items()}
    report.binary_ops_per_image = report.ops_per_image.get("binary", 0)
    report.binary_ops_per_second = report.binary_ops_per_image * fps
    report.roofline_fraction = report.binary_ops_per_second / ctx.board.binary_op_ceiling(lut_per_binary_mac(),
                                                                                          ctx.cfg.clock)
    over = ctx.board.over_budget(on_chip_totals(layers))
    if over:
        from qonnx.core.modelwrapper import ModelWrapper

        from build_flows.build.folding import fastest_within_budget

        best = fastest_within_budget(ModelWrapper(model.model.__deepcopy__()), ctx.board, ctx.cfg.clock)
        hint = (f"the highest FPS that fits is {best['fps']:,.0f} (--target-fps max builds it)" if best else
                "not even PE=SIMD=1 fits: choose a larger board (`qvit boards`) or a smaller model")
        raise BuildError(f"the design is over {ctx.board.name}'s budget: {'; '.join(over)}. {hint[0].upper()}{hint[1:]}.")
    return model
