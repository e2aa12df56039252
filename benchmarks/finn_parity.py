"""FINN conformance: the networks every FINN user tries first, Brevitas' BNN-PYNQ examples (CNV, TFC, SFC, LFC in
W1A1, W1A2, W2A2), exported once to QONNX and built in the same run by finn-plus's estimate-only flow and by
``qvit build`` for the same board and target FPS: nodes mapped to hardware, estimated FPS, LUT, BRAM18 and build
time side by side; then ``qvit build --until yosys`` (FIFOs sized by simulation) for ours: bit-exact against QONNX
and FINN's python execution, simulated cycles per image against the estimate, and yosys' LUT count of the
stitched design (finn-rtllib's layers boxed, their estimates named beside it).

Weights are random (seeded): the trained BNN-PYNQ weights are downloaded from GitHub by Brevitas, which this
machine cannot reach. Estimates and simulation do not depend on trained weights, except where a threshold
table's size does (both flows see the same graph).

Writes ``finn_parity.md`` and ``finn_parity.json`` (rewritten after every network; rows of networks not run are
kept) into ``--out`` (default ``build/benchmarks``; ``--out benchmarks`` regenerates the files the README quotes).
Usage: ``python benchmarks/finn_parity.py [--networks cnv_1w1a tfc_1w1a ...] [--target-fps 5311] [--until yosys]
[--out build/benchmarks]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import describe  # noqa: E402
from benchmarks.results import add_out_argument, out_dir  # noqa: E402
from build_flows.boards import get_board  # noqa: E402
from quant_models.bnn_pynq import NETWORKS, export_bnn_pynq  # noqa: E402

BOARD, TARGET_FPS = "AUP-ZU3", 5311
VIT = "binaryvit-tiny-hw"  # its shipped CIFAR-10 checkpoint: the throughput per LUT set against CNV-W1A1's
#: finn-plus reads Vivado's version from this path at start-up; its estimate-only steps run no Vivado tool
FINN_VIVADO_PATH = "/opt/Xilinx/Vivado/2024.2"


def finn_estimate(onnx: Path, out: Path, board: str, target_fps: float, clock_mhz: float) -> dict:
    """finn-plus's ``estimate_only_dataflow_steps`` on ``onnx``, in a child process (finn-plus wants
    ``XILINX_VIVADO`` set and logs at length, even on stdout): nodes mapped, FPS, LUT, BRAM18, seconds, from the
    ``parity.json`` the child writes into ``out``."""
    env = dict(os.environ, XILINX_VIVADO=os.environ.get("XILINX_VIVADO", FINN_VIVADO_PATH))
    cmd = [sys.executable, __file__, "--finn-reference", str(onnx), str(out), board, str(target_fps), str(clock_mhz)]
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    result = out / "parity.json"
    if not result.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()
        return {"error": tail[-1][:300] if tail else f"exit {proc.returncode}"}
    return {**json.loads(result.read_text()), "seconds": time.time() - t0}


def _finn_reference(onnx: str, out: str, board: str, target_fps: str, clock_mhz: str) -> None:
    """Child process of :func:`finn_estimate`: run the flow and write ``parity.json`` into ``out``."""
    from build_flows.finn_env import prepare_finn

    prepare_finn()
    import finn.builder.build_dataflow as build
    import finn.builder.build_dataflow_config as bc
    from qonnx.core.modelwrapper import ModelWrapper

    cfg = bc.DataflowBuildConfig(output_dir=out, target_fps=int(float(target_fps)),
                                 synth_clk_period_ns=1000.0 / float(clock_mhz), board=get_board(board).finn_name,
                                 shell_flow_type=bc.ShellFlowType.VIVADO_ZYNQ, steps=bc.estimate_only_dataflow_steps,
                                 generate_outputs=[bc.DataflowOutputType.ESTIMATE_REPORTS], verbose=False)
    rc = build.build_dataflow_cfg(onnx, cfg)
    report = Path(out) / "report"
    if rc != 0 or not (report / "estimate_network_performance.json").exists():
        (Path(out) / "parity.json").write_text(json.dumps(
            {"error": f"finn-plus's estimate flow failed (exit {rc}): see its build_dataflow.log"}))
        return
    perf = json.loads((report / "estimate_network_performance.json").read_text())
    res = json.loads((report / "estimate_layer_resources.json").read_text())["total"]
    # the dataflow partition holds the hardware layers; the parent keeps what FINN could not map
    parent = ModelWrapper(str(Path(out) / "intermediate_models" / "dataflow_parent.onnx"))
    child = ModelWrapper(str(Path(out) / "intermediate_models" / "step_generate_estimate_reports.onnx"))
    outside = [n.op_type for n in parent.graph.node if n.op_type != "StreamingDataflowPartition"]
    (Path(out) / "parity.json").write_text(json.dumps(
        {"nodes_hw": len(child.graph.node), "nodes_total": len(child.graph.node) + len(outside), "outside": outside,
         "fps": perf["estimated_throughput_fps"], "LUT": int(res["LUT"]), "BRAM18": int(res["BRAM_18K"]),
         "URAM": int(res["URAM"]), "DSP": int(res["DSP"])}))


def qvit_build(onnx: Path | str, out: Path, board: str, target_fps: float | str, until: str) -> dict:
    """``qvit build onnx --until until`` (FIFOs sized by the simulation): the report's numbers (estimates, the
    simulation, yosys' count of the stitched design)."""
    from build_flows.build import build
    from build_flows.build.context import BuildError
    from build_flows.config import BuildConfig

    cfg = BuildConfig(model=str(onnx), out=str(out), board=board, target_fps=target_fps, until=until, sim_images=0,
                      sim_size_fifos=True)
    t0 = time.time()
    error = None
    try:
        r = build(cfg).to_dict()
    except BuildError as e:  # the steps that finished still count: their results are in report.json
        error = str(e).splitlines()[0][:300]
        r = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    if not r.get("estimated"):
        return {"error": error, "seconds": time.time() - t0}
    est, sim, ys = r["estimated"], r.get("sim") or {}, (r.get("yosys") or {}).get("stitched") or {}
    row = {"nodes_hw": r["nodes_hw"], "nodes_total": r["nodes_total"], "fps": est["fps"], "LUT": est["LUT"],
           "BRAM18": est["BRAM"], "DSP": est["DSP"], "seconds": time.time() - t0,
           "host_steps": [x["name"] for x in r.get("layers") or [] if x.get("host")],
           "binary_ops_per_image": (r.get("ops_per_image") or {}).get("binary", 0)}
    if sim:
        row.update(sim_bit_exact=sim["bit_exact"], sim_cycles=sim["cycles_per_image"],
                   est_cycles=sim["estimated_cycles_per_image"], sim_vs_est=sim["cycles_vs_estimate"],
                   sim_fps=sim["fps_at_clock"], verilator_build_s=sim["build_seconds"],
                   fifo_bits=(sim.get("fifo_sizing") or {}).get("fifo_bits_after"))
        with_fifos = (sim.get("fifo_sizing") or {}).get("with_layers")
        if with_fifos:  # the layers' estimate plus the sized FIFOs', what the stitched yosys count holds
            row.update(LUT_with_fifos=with_fifos["LUT"], BRAM18_with_fifos=with_fifos["BRAM"])
    if error:
        row["failed_step"] = error
    if ys.get("failed"):  # the stitched synthesis stopped (its time limit, say): say so, keep the rest of the row
        row["yosys_failed"] = ys["failed"][:200]
    elif ys:  # finn-rtllib layers are beyond yosys' parser: boxed, their estimate added
        row.update(yosys_LUT=ys["LUT"], yosys_FF=ys["FF"], yosys_BRAM18=ys["BRAM18"],
                   yosys_boxed=len(ys["blackboxes"]), yosys_boxed_estimated_LUT=ys["estimated_LUT_blackboxes"])
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    p.add_argument("--board", default=BOARD)
    p.add_argument("--target-fps", type=float, default=TARGET_FPS)
    p.add_argument("--until", default="yosys", choices=("estimates", "sim", "yosys"),
                   help="how far ours is built: estimates, the Verilator simulation, then yosys (default)")
    p.add_argument("--no-vit", action="store_true",
                   help="skip the comparison build of binaryvit-tiny-hw at --target-fps max, simulated with its FIFOs "
                   "sized (throughput per LUT)")
    add_out_argument(p)
    args = p.parse_args(argv)
    out = out_dir(args)
    board = get_board(args.board)
    os.environ.setdefault("QVIT_SIM_CACHE", tempfile.mkdtemp(prefix="qvit_parity_cache_"))  # uncached builds
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, net in enumerate(args.networks, 1):
            print(f"[{i}/{len(args.networks)}] {net} ...", flush=True)
            onnx = export_bnn_pynq(net, Path(tmp) / f"{net}.onnx")
            row = {"network": net, "board": board.name, "target_fps": args.target_fps,
                   "finn": finn_estimate(onnx, Path(tmp) / f"finn_{net}", board.name, args.target_fps, board.clock_mhz),
                   "qvit": qvit_build(onnx, Path(tmp) / f"qvit_{net}", board.name, args.target_fps,
                                      args.until),
                   "date": datetime.date.today().isoformat(), "load_average_at_start": os.getloadavg()[0]}
            print(json.dumps(row), flush=True)
            rows.append(row)
            write(rows, out)
        if not args.no_vit:
            print(f"binaryvit-tiny-hw at --target-fps max on {board.name} ...", flush=True)
            vit = qvit_build(VIT, Path(tmp) / "qvit_vit", board.name, "max", "sim")  # the fastest that fits with its FIFOs
            vit.update(model=VIT, board=board.name, date=datetime.date.today().isoformat())
            print(json.dumps(vit), flush=True)
            write(rows, out, vit)
    print(f"wrote {out / 'finn_parity.md'} and {out / 'finn_parity.json'}")
    return 0


def _fmt(side: dict, key: str, fmt: str = ",.0f") -> str:
    return "-" if key not in side or side[key] is None else format(side[key], fmt)


def _tops_per_klut(side: dict, binary_ops: int | None) -> float | None:
    """Binary operations per second (2 per XNOR-popcount MAC, at the side's FPS) per 1,000 of its LUTs, in TOp/s."""
    from build_flows.build.report import tops_per_klut

    if not binary_ops or not side.get("fps") or not side.get("LUT"):
        return None
    return tops_per_klut(binary_ops * side["fps"], side["LUT"])


def _tops(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _yosys(q: dict) -> str:
    if "yosys_failed" in q:
        return f"failed: {q['yosys_failed']}"
    if "yosys_LUT" not in q:
        return "-"
    boxed = f" + {q['yosys_boxed_estimated_LUT']:,} ({q['yosys_boxed']} boxed)" if q["yosys_boxed"] else ""
    return f"{q['yosys_LUT']:,}{boxed}"


def write(rows: list[dict], out: Path, vit: dict | None = None) -> None:
    """Merge ``rows`` into ``out``/finn_parity.json (other networks' rows are kept; ``vit``, the ViT's build at
    its highest FPS, replaces the kept one when given) and rewrite finn_parity.md."""
    path = out / "finn_parity.json"
    kept = json.loads(path.read_text()) if path.exists() else {}
    old = kept.get("rows", [])
    vit = vit or kept.get("vit_max")
    ran = {(r["network"], r["board"], r["target_fps"]) for r in rows}
    rows = [r for r in old if (r["network"], r["board"], r["target_fps"]) not in ran] + rows
    rows.sort(key=lambda r: (NETWORKS.index(r["network"]) if r["network"] in NETWORKS else 99, r["target_fps"]))
    result = {"date": datetime.date.today().isoformat(), "machine": describe(torch.get_num_threads()), "rows": rows,
              **({"vit_max": vit} if vit else {})}
    path.write_text(json.dumps(result, indent=2))
    lines = [f"# FINN parity: BNN-PYNQ networks, finn-plus's estimate flow beside qvit-fpga ({result['date']})", "",
             f"Machine: {result['machine']}. Produced by `python benchmarks/finn_parity.py`: each network from "
             "`brevitas_examples.bnn_pynq` (seeded random weights: Brevitas downloads the trained ones from GitHub, "
             "not reachable here) exported once with `export_qonnx`; finn-plus 1.6.1's `estimate_only_dataflow_steps` "
             "and `qvit build --until yosys --size-fifos` on that file, same board and target FPS, in the same run. "
             "FINN's numbers are its estimates (its RTL/HLS is not simulated here: that needs Vivado); ours are "
             "estimates, and the Verilator simulation of the stitched RTL (bit-exact against QONNX and FINN's python "
             "execution on 8 random vectors, also under random stalls). ChannelFloat, the float output scale, is a host "
             "step at the graph's end and is not in our totals. yosys LUT: `synth_xilinx` of the stitched design (before "
             "placement), with finn-rtllib's thresholding and sliding-window layers (beyond yosys' parser) as boxes whose "
             "estimated LUTs are added after the +. With FIFOs: our estimate of the layers plus the FIFOs the simulation "
             "sized (each placed in LUTRAM or BRAM and priced by the calibrated FIFO model), what the stitched count "
             "holds besides the width converters; FINN's estimates leave FIFOs out. Binary TOp/s per 1,000 LUT: the "
             "network's binary x binary operations (2 per MAC, the same graph for both) times the side's FPS, over its "
             "LUT estimate (ours without FIFOs, as FINN's).", "",
             "| network | board | target FPS | FINN nodes in HW | qvit nodes in HW | FINN FPS | qvit FPS | FINN LUT "
             "| qvit LUT | qvit LUT with FIFOs | qvit yosys LUT | FINN BRAM18 | qvit BRAM18 (with FIFOs) | FINN s | qvit s "
             "| sim bit-exact | sim cycles/img | sim/est | binary TOp/s per 1,000 LUT (FINN / qvit) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f, q = r["finn"], r["qvit"]
        fn = f"failed: {f['error']}" if "error" in f else f"{f['nodes_hw']}/{f['nodes_total']}"
        qn = f"failed: {q['error']}" if "error" in q else f"{q['nodes_hw']}/{q['nodes_total']}"
        lines.append(f"| {r['network']} | {r['board']} | {r['target_fps']:,.0f} | {fn} | {qn} | {_fmt(f, 'fps')} | "
                     f"{_fmt(q, 'fps')} | {_fmt(f, 'LUT')} | {_fmt(q, 'LUT')} | {_fmt(q, 'LUT_with_fifos')} | "
                     f"{_yosys(q)} | {_fmt(f, 'BRAM18')} | {_fmt(q, 'BRAM18')} ({_fmt(q, 'BRAM18_with_fifos')}) | "
                     f"{_fmt(f, 'seconds', '.0f')} | {_fmt(q, 'seconds', '.0f')} | "
                     f"{q.get('sim_bit_exact', '-')} | {_fmt(q, 'sim_cycles')} | {_fmt(q, 'sim_vs_est', '.3f')} | "
                     f"{_tops(_tops_per_klut(f, q.get('binary_ops_per_image')))} / "
                     f"{_tops(_tops_per_klut(q, q.get('binary_ops_per_image')))} |")
    lines += _throughput_lines(rows, vit)
    (out / "finn_parity.md").write_text("\n".join(lines) + "\n")


def _throughput_lines(rows: list[dict], vit: dict | None) -> list[str]:
    """The binary TOp/s per 1,000 LUT of the ViT at its highest FPS beside CNV-W1A1's (FINN's estimate and ours)."""
    cnv = next((r for r in rows if r["network"] == "cnv_1w1a"), None)
    if not vit or "error" in vit or cnv is None or "error" in cnv["finn"]:
        return []
    ops = cnv["qvit"].get("binary_ops_per_image")
    finn = _tops_per_klut(cnv["finn"], ops)
    mine = _tops_per_klut(vit, vit.get("binary_ops_per_image"))
    ratio = mine / finn if mine and finn else None
    fits = "inside the budget" if "failed_step" not in vit else f"the build stopped: {vit['failed_step']}"
    fifos = (f" ({vit['LUT_with_fifos']:,} with the FIFOs the simulation sized, {fits}; simulated at "
             f"{vit['sim_cycles']:,.0f} cycles per image, bit-exact: {vit['sim_bit_exact']})" if "LUT_with_fifos" in vit else "")
    return ["", f"Throughput per LUT ({vit['date']}): `qvit build {vit['model']} --board {vit['board']} --target-fps max "
            f"--until sim --size-fifos` (its shipped CIFAR-10 checkpoint; the highest FPS that fits with its FIFOs) "
            f"reaches {vit['fps']:,.0f} FPS in {vit['LUT']:,} LUT of layers{fifos}, "
            f"{vit['binary_ops_per_image']:,} binary operations per image: {_tops(mine)} binary TOp/s per 1,000 LUT; "
            f"CNV-W1A1 ({ops:,} per image): {_tops(finn)} in finn-plus's estimate ({cnv['finn']['fps']:,.0f} FPS, "
            f"{cnv['finn']['LUT']:,} LUT), {_tops(_tops_per_klut(cnv['qvit'], ops))} in ours at the same target"
            + (f"; the ViT's is {ratio:.2f}x finn-plus's CNV-W1A1." if ratio else ".")]


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--finn-reference":
        _finn_reference(*sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
