"""The steps to a bitfile: IP generation, the stitched IP and the bitfile with the board's Zynq shell.

``hw_ipgen`` and the Vivado project script of ``create_stitched_ip`` need no Vivado for a graph whose layers are
all RTL (ours and finn-rtllib's): the accelerator core (the host steps left to the driver) gets FINN's FIFOs at
the depths the simulation used and FINN's width converters, each layer's HDL goes into its IP directory, and
FINN's CreateStitchedIP writes ``make_project.tcl`` (IP-integrator block design of every layer, FIFO and
converter). Running that script, and ``synthesize_bitfile``, need Vivado: without it each stops with
:class:`VivadoRequiredError` naming the step, the board's Vivado version and what was written; everything
before stays valid and the build resumes from it.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from build_flows.build.context import BuildContext, BuildError, build_step
from build_flows.finn_env import VivadoRequiredError, require_vivado, vivado_available

VIVADO_STEPS = ["hw_ipgen", "create_stitched_ip", "synthesize_bitfile"]


@build_step("hw_ipgen")
def step_hw_ipgen(model, ctx: BuildContext):
    """The accelerator core with FINN's FIFOs (at the simulated depths) and width converters, every layer's HDL
    in its IP directory (FINN's PrepareIP); FINN's HLS layers, if any, synthesised by Vitis HLS (needs Vivado)."""
    from finn.transformation.fpgadataflow.hlssynth_ip import HLSSynthIP
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.prepare_ip import PrepareIP
    from finn.transformation.fpgadataflow.replace_verilog_relpaths import ReplaceVerilogRelPaths
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from finn.util.fpgadataflow import is_hls_node
    from qonnx.transformation.general import GiveUniqueNodeNames

    from build_flows.sim.accelerator import core_model, rtl_design, split_host_steps, write_fifo_depths

    sim = ctx.report.sim or {}
    if "fifo_depths" not in sim:
        raise BuildError("the 'hw_ipgen' step takes its FIFO depths from the simulation: run the 'sim' step first "
                         "(every layer in RTL)")
    _, core_nodes, _ = split_host_steps(model)
    design = rtl_design(model, core_nodes, ctx.dir / "sim" / "rtl", ctx.board.part, 1000.0 / ctx.cfg.clock)
    depths = (sim.get("fifo_sizing") or {}).get("depths") or sim["fifo_depths"]
    write_fifo_depths(model, design, [depths[name] for name in design.edge_names()])
    core = core_model(model)
    core = core.transform(InsertDWC()).transform(InsertFIFO(create_shallow_fifos=True))
    core = core.transform(SpecializeLayers(ctx.board.part)).transform(GiveUniqueNodeNames())
    core = core.transform(PrepareIP(ctx.board.part, 1000.0 / ctx.cfg.clock))
    if any(is_hls_node(n) for n in core.graph.node):
        require_vivado("hw_ipgen (Vitis HLS synthesis of FINN's HLS layers)", ctx.board)
        core = core.transform(HLSSynthIP())
    return core.transform(ReplaceVerilogRelPaths())


def _source_path(word: str, project: Path) -> Path | None:
    """A source named in the script, with FINN's ``$::env(FINN_RTLLIB)``; None for what Vivado itself makes in
    the project directory (the block design's wrapper)."""
    import os
    import re

    import finn

    env = {"FINN_RTLLIB": os.environ.get("FINN_RTLLIB") or str(Path(finn.__file__).parent / "finn-rtllib")}
    path = Path(re.sub(r"\$::env\((\w+)\)", lambda m: env.get(m.group(1), os.environ.get(m.group(1), m.group(0))), word))
    return None if project in path.parents else path


def check_project_script(text: str, model, project: Path) -> list[str]:
    """What is wrong with FINN's ``make_project.tcl`` (in ``project``) for ``model`` (the core after ``hw_ipgen``): a
    layer without its IP-integrator cell, a source file that does not exist, a stream between two layers not
    connected, the core's input or output not made a port. Empty when the script is whole."""
    import re

    lines = text.splitlines()
    cells = {m.group(1) for line in lines if (m := re.match(r"create_bd_cell -type module -reference \S+ (\S+)", line))}
    nets = {(m.group(1), m.group(2)) for line in lines
            if (m := re.match(r"connect_bd_intf_net \[get_bd_intf_pins ([^/]+)/\S+\] \[get_bd_intf_pins ([^/]+)/", line))}
    external = {m.group(1) for line in lines if (m := re.match(r"make_bd_intf_pins_external \[get_bd_intf_pins ([^/]+)/", line))}
    problems = [f"no source {f}" for line in lines if line.startswith("add_files -norecurse ")
                for f in [_source_path(line.split()[-1], project)] if f is not None and not f.exists()]
    problems += [f"no IP-integrator cell for {n.name}" for n in model.graph.node if n.name not in cells]
    for n in model.graph.node:
        for tensor in n.output:
            for consumer in model.find_consumers(tensor) or []:
                if (n.name, consumer.name) not in nets:
                    problems.append(f"stream {n.name} -> {consumer.name} not connected")
    first, last = model.find_consumer(model.graph.input[0].name), model.find_producer(model.graph.output[0].name)
    problems += [f"{n.name} (the core's {end}) has no external stream port" for n, end in ((first, "input"), (last, "output"))
                 if n is None or n.name not in external]
    return problems


class _ScriptWritten(Exception):
    """FINN wrote the Vivado project script and would now run Vivado."""


@build_step("create_stitched_ip")
def step_create_stitched_ip(model, ctx: BuildContext):
    """FINN's CreateStitchedIP: ``make_project.tcl`` (the IP-integrator block design of every layer, FIFO and
    width converter, packaged as one IP) and, with Vivado, the stitched IP it makes. Without Vivado the script is
    written (``report.vivado``) and the step stops there."""
    from finn.transformation.fpgadataflow import create_stitched_ip as csi
    from qonnx.custom_op.registry import getCustomOp

    transform = csi.CreateStitchedIP(ctx.board.part, 1000.0 / ctx.cfg.clock)
    if vivado_available():
        model = model.transform(transform)
        ctx.report.vivado = {"stitched_ip": model.get_metadata_prop("vivado_stitch_proj")}
        return model

    def stop(cmd, *args, **kwargs):
        raise _ScriptWritten(cmd[-1])

    with mock.patch.object(csi, "launch_process_helper", stop), \
            mock.patch.object(csi, "resolve_xilinx_tool", lambda name: name):
        try:
            model.transform(transform)
        except _ScriptWritten as written:
            project = Path(written.args[0]).parent
        else:
            raise BuildError("FINN's CreateStitchedIP finished without running Vivado: this FINN version differs from "
                             "the one qvit-fpga pins (finn-plus 1.6.1)")
    script = project / "make_project.tcl"
    problems = check_project_script(script.read_text(), model, project)
    if problems:
        raise BuildError(f"FINN's Vivado project script {script} is incomplete: " + "; ".join(problems[:10]))
    fifos = {n.name: getCustomOp(n).get_nodeattr("depth") for n in model.graph.node if n.op_type.startswith("StreamingFIFO")}
    ctx.report.vivado = {"project_script": str(script), "shell_script": str(project / "make_project.sh"),
                         "ip_cells": sum(line.startswith("create_bd_cell") for line in script.read_text().splitlines()),
                         "fifo_depths": fifos, "checked": "every layer a cell, every stream connected, sources exist"}
    require_vivado("create_stitched_ip", ctx.board,
                   written=f"The Vivado project script is written ({script}); `bash {project / 'make_project.sh'}` "
                           "runs it where Vivado is installed")
    return model  # not reached


@build_step("synthesize_bitfile")
def step_synthesize_bitfile(model, ctx: BuildContext):
    """FINN's step_synthesize_bitfile: the stitched IP in the board's Zynq shell (IODMAs, PS), synthesis,
    implementation, bitfile and hwh (needs Vivado)."""
    require_vivado("synthesize_bitfile", ctx.board)
    import finn.builder.build_dataflow_steps as finn_steps

    model = finn_steps.step_synthesize_bitfile(model, ctx.finn_cfg)
    ctx.report.vivado = {**(ctx.report.vivado or {}), **post_synthesis(Path(ctx.finn_cfg.output_dir))}
    return model


def worst_negative_slack(timing_report: str) -> float | None:
    """WNS in ns from a Vivado ``report_timing_summary`` text: the first number under its ``WNS(ns)`` header."""
    lines = timing_report.splitlines()
    for i, line in enumerate(lines):
        if "WNS(ns)" in line:
            for row in lines[i + 1:]:
                fields = row.split()
                if fields and not set(row.strip()) <= {"-", " "}:
                    try:
                        return float(fields[0])
                    except ValueError:
                        break
    return None


def post_synthesis(finn_dir: Path) -> dict:
    """What FINN's bitfile step left in ``finn_dir``: the bitfile and hwh, the post-synthesis resources (FINN's
    ``report/post_synth_resources.json``, as it wrote them) and the post-route worst negative slack."""
    import json

    out = {"bitfile": sorted(str(p) for p in (finn_dir / "bitfile").glob("*.bit"))}
    res = finn_dir / "report" / "post_synth_resources.json"
    if res.exists():
        out["post_synth_resources"] = json.loads(res.read_text())
    timing = finn_dir / "report" / "post_route_timing.rpt"
    if timing.exists():
        out["post_route_timing_report"] = str(timing)
        out["wns_ns"] = worst_negative_slack(timing.read_text())
        out["timing_met"] = out["wns_ns"] is not None and out["wns_ns"] >= 0
    return out


__all__ = ["VIVADO_STEPS", "VivadoRequiredError"]
