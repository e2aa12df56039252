"""Build steps on the RTL without vendor tools: the stitched accelerator simulated cycle by cycle in
Verilator (bit-exact against QONNX and FINN's python execution, FIFO sizing) and yosys resource counts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from build_flows.build.context import BuildContext, BuildError, FifosOverBudget, build_step
from build_flows.build.steps_vivado import VIVADO_STEPS

STALLED_IMAGES = 16  # real images also run through the stalled simulation (all of them run unstalled)
SIZING_DEPTH = 8192  # every FIFO's depth in the run that sizes them (--size-fifos): deeper than any layer's burst
SLOW_VS_ESTIMATE = 1.1  # simulated cycles above this multiple of the estimate, with FIFOs full: a sizing hint


def real_test_images(ctx: BuildContext, n: int):
    """The first ``n`` test images of the build's checkpoint's dataset as the accelerator takes them (float32
    [n, C, H, W]: standardised, or the raw pixels with ``--pixels uint8``) with their labels and the torch
    model's top-1 predictions; None (and the reason) when the build has no checkpoint with a dataset."""
    import torch

    from quant_models import data, load_checkpoint
    from quant_models.checkpoint import read_checkpoint
    from quant_models.train import standardise, to_unit_float

    if not n:
        return None, "no real images asked for (--images 0)"
    if not ctx.report.checkpoint:
        return None, "the build has no checkpoint (a QONNX file or random weights): no dataset to draw images from"
    dataset = read_checkpoint(ctx.report.checkpoint).get("dataset")
    if not dataset:
        return None, f"checkpoint {ctx.report.checkpoint} names no dataset"
    try:
        test = data.load(dataset, "test").subset(slice(0, n))
    except data.DatasetNotFoundError as e:  # the random vectors still verify the design
        print(f"warning: no real {dataset} images for the simulation: {e}", file=sys.stderr)
        return None, f"the {dataset} test set is not here: {e}"
    x = standardise(to_unit_float(torch.tensor(test.images)), test.mean, test.std)
    net = load_checkpoint(ctx.report.checkpoint, **ctx.cfg.model_overrides).eval()
    with torch.no_grad():
        torch_top = net(x).argmax(1).numpy()
    if ctx.cfg.pixels == "uint8":  # the accelerator takes the raw pixels and does the pre-processing itself
        x = torch.tensor(test.images).permute(0, 3, 1, 2)
    return (x.numpy().astype(np.float32), test.labels, torch_top, dataset), None


@build_step("sim")
def step_sim(model, ctx: BuildContext):
    """Stitch every layer's RTL into one accelerator and simulate it cycle by cycle in Verilator
    (:mod:`build_flows.sim`): bit-exact against QONNX execution of the export and FINN's python execution
    on ``sim_vectors`` random inputs and ``sim_images`` real test images of the checkpoint's dataset (top-1
    of the simulated outputs beside the torch model's), once without stalls (cycles per image, latency, FIFO
    high-water marks) and once under random valid/ready stalls (the vectors and the first real images).
    Graphs with layers that have no RTL stop here with the list when ``--until sim`` asked for it, and
    skip it otherwise."""
    from qonnx.core.onnx_exec import execute_onnx

    from build_flows.sim.accelerator import NoRTLError, python_exec_copy, simulate_dataflow
    from quant_models.export import qonnx_forward

    golden = ctx.golden()
    shape = golden.get_tensor_shape(golden.graph.input[0].name)
    xs = ctx.random_inputs(ctx.cfg.sim_vectors, ctx.cfg.seed + 1)
    real, why_not = real_test_images(ctx, ctx.cfg.sim_images)
    if real is not None:
        if tuple(real[0].shape[1:]) != tuple(shape[1:]):
            raise BuildError(f"the {real[3]} test images are {real[0].shape[1:]} but the model takes {tuple(shape[1:])}: "
                             "build the model at its dataset's size (--set img_size=... in_chans=...)")
        xs = np.concatenate([xs, real[0]])
    n_vec = ctx.cfg.sim_vectors
    clk_ns = 1000.0 / ctx.cfg.clock
    # FIFO sizing starts from FIFOs deep enough never to fill, so the high-water marks are the real needs
    depth = SIZING_DEPTH if ctx.cfg.sim_size_fifos else ctx.cfg.sim_fifo_depth
    try:
        (res,), design = simulate_dataflow(model, xs, ctx.dir / "sim", ctx.board.part, clk_ns,
                                           stalls=(0.0,), seed=ctx.cfg.seed, default_fifo=depth)
        n_stalled = n_vec + min(STALLED_IMAGES, len(xs) - n_vec)
        (stalled,), _ = simulate_dataflow(model, xs[:n_stalled], ctx.dir / "sim", ctx.board.part, clk_ns,
                                          stalls=(ctx.cfg.sim_stall,), seed=ctx.cfg.seed + 1, default_fifo=depth)
    except NoRTLError as e:
        if ctx.cfg.until and ctx.cfg.until not in VIVADO_STEPS:  # the user asked for the simulation
            raise BuildError(str(e)) from e
        ctx.report.sim = {"skipped": str(e)}
        return model
    ref = qonnx_forward(golden, xs).reshape(len(xs), -1)
    py = python_exec_copy(model)
    finn = np.stack([execute_onnx(py, {py.graph.input[0].name: x[None]})[py.graph.output[0].name].reshape(-1)
                     for x in xs])
    exact = np.all(res.outputs == ref, axis=1) & np.all(res.outputs == finn, axis=1)
    exact[:n_stalled] &= np.all(stalled.outputs == ref[:n_stalled], axis=1)
    diffs = {"qonnx": float(np.abs(res.outputs - ref).max()), "finn_python": float(np.abs(res.outputs - finn).max()),
             "qonnx_stalled": float(np.abs(stalled.outputs - ref[:n_stalled]).max())}
    clock_hz = ctx.cfg.clock * 1e6
    e = ctx.report.estimated
    # the testbench feeds the accelerator as fast as it takes input: compare with the layers' estimate (the data
    # path's bound, io_cycles_per_image, is the DMA's and is not simulated)
    est = (e.compute_cycles_per_image or e.cycles_per_image) if e else None
    ctx.report.sim = {
        "vectors": n_vec, "bit_exact": bool(exact.all()), "max_abs_diff": diffs,
        "cycles_per_image": res.cycles_per_image, "fps_at_clock": clock_hz / res.cycles_per_image,
        "latency_us": res.latency_cycles / clock_hz * 1e6, "latency_cycles": res.latency_cycles,
        "estimated_cycles_per_image": est,
        "cycles_vs_estimate": res.cycles_per_image / est if est else None,
        "cycles_per_second_simulated": res.cycles_per_second, "simulated_cycles": res.cycles,
        "build_seconds": res.build_seconds, "simulator_cached": res.cached_build,
        "stall_probability": ctx.cfg.sim_stall, "stalled_inputs": n_stalled,
        "host_steps": design.host,
        "fifo_depths": dict(zip(design.edge_names(), design.fifo_depths)),
        "fifo_high_water": dict(zip(design.edge_names(), res.fifo_hwm)),
        "real_images": _real_image_report(real, why_not, res.outputs[n_vec:], exact[n_vec:]),
    }
    full = [n for n, d, h in zip(design.edge_names(), design.fifo_depths, res.fifo_hwm) if h >= d]
    if est and res.cycles_per_image > SLOW_VS_ESTIMATE * est and full:
        ctx.report.sim["hint"] = (f"{res.cycles_per_image / est:.2f}x the estimated cycles with {len(full)} FIFOs full "
                                  f"(first: {full[0]}): layers that read or write in bursts (sliding windows) stall "
                                  f"each other through short FIFOs; size them: qvit sim {ctx.dir} --size-fifos")
    if not ctx.report.sim["bit_exact"]:
        bad = [int(i) for i in np.flatnonzero(~exact)]
        raise BuildError(f"the RTL simulation differs from the golden models on inputs {bad[:10]} (max |diff| {diffs}); "
                         f"the RTL and the layers' python execution disagree: see {ctx.dir / 'sim'}")
    if ctx.cfg.sim_size_fifos:
        _size_fifos(model, ctx, xs[:n_stalled], ref[:n_stalled], res, design, clk_ns)
    return model


def _real_image_report(real, why_not, outputs, exact) -> dict:
    """Per-image bit-exactness and the top-1 of the simulated outputs beside the torch model's."""
    if real is None:
        return {"skipped": why_not}
    _, labels, torch_top, dataset = real
    sim_top = outputs.reshape(len(outputs), -1).argmax(1)
    return {"dataset": dataset, "split": "test", "images": len(labels), "bit_exact_per_image": [bool(e) for e in exact],
            "top1_simulated": float(100.0 * np.mean(sim_top == labels)),
            "top1_torch": float(100.0 * np.mean(torch_top == labels)),
            "argmax_agreement_with_torch": float(np.mean(sim_top == torch_top))}


def _size_fifos(model, ctx: BuildContext, xs, ref, res, design, clk_ns: float) -> None:
    """FIFO sizing from the simulation, as FINN's throttled FIFO-sizing simulation: with FIFOs of
    :data:`SIZING_DEPTH` the host sends one image per ``res``'s measured cycles per image (the design's own
    rate; unthrottled, the first FIFOs would only record the host's backlog), and each FIFO gets one more
    than its high-water mark (a FIFO that filled even then is an error). Checked by simulating again with
    those depths (no more cycles per image than the host's pace, still bit-exact under stalls), then written into
    the layers' FIFO depth attributes for FINN's IP stitching and into the report's ``sim.fifo_sizing``."""
    from build_flows.sim.accelerator import simulate_dataflow, sized_fifo_depths, write_fifo_depths

    period = int(np.ceil(res.cycles_per_image))
    (paced,), paced_design = simulate_dataflow(model, xs, ctx.dir / "sim", ctx.board.part, clk_ns, stalls=(0.0,),
                                               seed=ctx.cfg.seed, default_fifo=SIZING_DEPTH, in_period=period)
    full = [n for n, h, d in zip(design.edge_names(), paced.fifo_hwm, paced_design.fifo_depths) if h >= d]
    if full:
        raise BuildError(f"FIFOs filled (at least {SIZING_DEPTH} deep, image-deep on fork paths) even with the host "
                         f"sending at the design's rate ({', '.join(full[:5])}): a branch runs ahead of its join for "
                         "most of an image; report this")
    depths = sized_fifo_depths(paced.fifo_hwm)
    (again, stalled), _ = simulate_dataflow(model, xs, ctx.dir / "sim_sized", ctx.board.part, clk_ns,
                                            stalls=(0.0, ctx.cfg.sim_stall), seed=ctx.cfg.seed, fifo_depths=depths)
    names, bits = design.edge_names(), design.edge_bits()
    sizing = {"depths": dict(zip(names, depths)), "cycles_per_image": again.cycles_per_image,
              "host_period_cycles": period, "high_water_paced": dict(zip(names, paced.fifo_hwm)),
              "bit_exact_stalled": bool(np.array_equal(stalled.outputs, ref)),
              "fifo_bits_before": int(sum(d * b for d, b in zip(design.fifo_depths, bits))),
              "fifo_bits_after": int(sum(d * b for d, b in zip(depths, bits)))}
    ctx.report.sim["fifo_sizing"] = sizing
    # the depths hold for the host's pace, ``period`` (the measured rate rounded up to whole cycles): the sized
    # design must keep it (comparing with the unrounded rate failed on a fraction of a cycle)
    if again.cycles_per_image > period or not sizing["bit_exact_stalled"]:
        raise BuildError(f"FIFO sizing from the simulation did not hold: {sizing}; keep the default depths "
                         "(sim_size_fifos: false) and report this")
    write_fifo_depths(model, design, depths)
    _place_fifos(ctx, sizing, depths, bits)


def _place_fifos(ctx: BuildContext, sizing: dict, depths: list[int], bits: list[int]) -> None:
    """The sized FIFOs' memories placed for the board (:func:`build_flows.build.fifos.place_fifos`, the choice the
    stitched RTL takes), their resources, and the design's with them against the budget: over it, a BuildError
    (the report keeps the sizing)."""
    from dataclasses import asdict

    from build_flows.build.fifos import place_fifos

    widths = [int(b) for b in bits]  # a FIFO stores its stream's bits, not the byte padding (sim.stitch)
    styles, fifo = place_fifos(depths, widths, ctx.board)
    sizing["widths"] = dict(zip(sizing["depths"], widths))
    sizing["styles"] = dict(zip(sizing["depths"], styles))
    sizing["resources"] = fifo
    est = asdict(ctx.report.estimated) if ctx.report.estimated else {}
    total = {k: int(est.get(k, 0)) + fifo.get(k, 0) for k in ("LUT", "FF", "LUTRAM", "BRAM", "URAM", "DSP")}
    sizing["with_layers"] = total
    over = ctx.board.over_budget(total)
    if over:
        raise FifosOverBudget(f"with its FIFOs (sized by the simulation: {fifo['LUT']:,} LUT, {fifo['BRAM']:,} BRAM18) "
                              f"the design is over {ctx.board.name}'s budget: {'; '.join(over)}. Lower --target-fps (or "
                              "use --target-fps max, which folds again with the FIFOs' cost kept free) or choose a larger "
                              "board (`qvit boards`).", fifo)


@build_step("yosys")
def step_yosys(model, ctx: BuildContext):
    """Resource counts without Vivado: yosys ``synth_xilinx`` of each layer's RTL generated by the sim step,
    beside FINN-style estimates, and of the whole stitched accelerator (the report's ``yosys``). finn-rtllib's
    SystemVerilog is beyond yosys' parsers (read_verilog; yosys-slang calls its thresholding
    unsynthesisable), so its layers keep their estimates, are listed as not synthesised and are black
    boxes in the stitched count. Layers whose arithmetic is meant for LUTs are synthesised without DSPs."""
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.build import calibration
    from build_flows.synth.yosys import YosysError, yosys_command

    try:
        yosys_command()
    except YosysError as e:
        raise BuildError(str(e)) from e

    rtl_dir = ctx.dir / "sim" / "rtl"
    if "skipped" in (ctx.report.sim or {}):
        ctx.report.yosys = {"skipped": "the sim step was skipped (layers without RTL)"}
        return model
    if not rtl_dir.exists():
        raise BuildError("no generated RTL: the 'yosys' step needs the 'sim' step's output (run with --until yosys)")
    layers, total, skipped, done = {}, {}, {}, {}
    nodes = [n for n in model.graph.node if (rtl_dir / n.name).exists()]
    for k, node in enumerate(nodes):
        inst = getCustomOp(node)
        try:
            counts = synth_layer(inst, ctx.board.part, done, progress=f"  yosys {k + 1}/{len(nodes)}: {node.name}")
        except YosysError as e:
            skipped[node.name] = str(e).splitlines()[-1]
            continue
        feats = calibration.features(inst, ctx.board.part)
        fitted = calibration.estimate(node.op_type, feats)
        layers[node.name] = {**counts, "features": feats, **{f"estimated_{r}": v for r, v in fitted.items()}}
        for k, v in counts.items():
            if k != "cells":
                total[k] = total.get(k, 0) + v
    ctx.report.yosys = {"tool": "yosys synth_xilinx (before placement)", "layers": layers,
                        "by_type": by_type(model, layers), "total_synthesised": total, "not_synthesised": skipped,
                        "stitched": ({"skipped": "--yosys-layers-only"} if ctx.cfg.yosys_layers_only
                                     else _synth_stitched(model, ctx, set(skipped)))}
    return model


def synth_layer(inst, part: str, done: dict, progress: str | None = None) -> dict:
    """yosys counts of one layer's generated RTL (DSPs only where the layer allows them); ``done`` caches them by
    the RTL's content, so a layer identical to an earlier one (parameters and memory contents) is not synthesised
    again. ``progress`` is printed before a synthesis runs. Raises YosysError."""
    from build_flows.layers import layer_facts
    from build_flows.synth.yosys import synth

    files = [f for f in inst.get_rtl_file_list(abspath=True) if str(f).endswith((".v", ".sv"))]
    dsp = layer_facts(inst).allows_dsp()
    key = _design_key(files, inst.onnx_node.name, dsp)
    if key not in done:
        if progress:
            print(progress, flush=True)
        done[key] = synth(files, inst.get_nodeattr("gen_top_module"), part, nodsp=not dsp)
    return dict(done[key])


def _design_key(files, name: str, dsp: bool) -> str:
    """A hash of a layer's RTL with its own name taken out: sources and the memory files they name."""
    import hashlib
    import re

    h = hashlib.sha256(str(dsp).encode())
    for f in files:
        text = Path(f).read_text()
        for dat in sorted(set(re.findall(r'"(/[^"\s]+\.dat)"', text))):
            h.update(Path(dat).read_bytes())
        h.update(re.sub(r'"/[^"\s]+\.dat"', '"mem"', text).replace(name, "LAYER").encode())
    return h.hexdigest()


def by_type(model, layers: dict) -> dict:
    """Per layer type: how many layers, their yosys counts summed, the estimates summed and the ratio of
    synthesised LUTs (logic, LUTRAM and SRL) to the estimated LUTs."""
    ops = {n.name: n.op_type for n in model.graph.node}
    out: dict[str, dict] = {}
    for name, counts in layers.items():
        row = out.setdefault(ops[name], {"layers": 0})
        row["layers"] += 1
        for k, v in counts.items():
            if isinstance(v, (int, float)):
                row[k] = row.get(k, 0) + v
    for row in out.values():
        row["LUT_vs_estimate"] = row["LUT"] / row["estimated_LUT"] if row.get("estimated_LUT") else None
    return dict(sorted(out.items()))


def _synth_stitched(model, ctx: BuildContext, blackbox: set[str]) -> dict:
    """yosys count of the whole stitched accelerator as simulated (layers, FIFOs at the simulated or
    sized depths, width converters), with the layers yosys cannot read as black boxes."""
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.sim.accelerator import rtl_design, split_host_steps
    from build_flows.synth.yosys import YosysError, synth_stitched

    sim = ctx.report.sim
    depths = sim.get("fifo_sizing", {}).get("depths") or sim["fifo_depths"]
    _, core, _ = split_host_steps(model)
    design = rtl_design(model, core, ctx.dir / "sim" / "rtl", ctx.board.part, 1000.0 / ctx.cfg.clock)
    styles = sim.get("fifo_sizing", {}).get("styles") or {}
    edges = design.with_depths([depths[name] for name in design.edge_names()],
                               [styles.get(name, "auto") for name in design.edge_names()])
    # DSPs when the estimate has some (layers whose multipliers go there, as in their own counts)
    nodsp = not (ctx.report.estimated and ctx.report.estimated.DSP)
    try:
        counts = synth_stitched(design.stages, edges, blackbox, ctx.dir / "yosys_stitched", ctx.board.part, nodsp)
    except YosysError as e:
        return {"failed": str(e).splitlines()[-1]}
    counts.pop("cells")
    nodes = {n.name: n for n in model.graph.node}
    counts["fifo_depths"] = "sized" if "fifo_sizing" in sim else "simulated"
    counts["estimated_LUT_blackboxes"] = int(sum(getCustomOp(nodes[n]).lut_estimation(ctx.board.part) for n in blackbox))
    return counts
