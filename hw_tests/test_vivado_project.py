"""The Vivado-facing output without Vivado: `qvit build ... --until create_stitched_ip` on a CNN with a fork and a
join (every layer in RTL) generates each layer's IP sources, inserts FINN's FIFOs at the simulated depths and
width converters, and has FINN's CreateStitchedIP write the IP-integrator project script; the build then stops
with one error naming the step, the board's Vivado version and the script. The script is checked: every layer a
cell, every stream connected, every source present; a script with a cell taken out is caught."""

import json

from mlp_models import export_branch_cnn
from qonnx.core.modelwrapper import ModelWrapper

from build_flows.build.steps_vivado import check_project_script
from build_flows.cli import main
from build_flows.finn_env import prepare_finn


def test_stitched_ip_project_script_without_vivado(tmp_path, capsys):
    onnx = export_branch_cnn(tmp_path / "b.onnx")
    out = tmp_path / "b"
    code = main(["build", onnx, "--board", "Pynq-Z2", "--target-fps", "max", "--until", "create_stitched_ip",
                 "--images", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: step 'create_stitched_ip' needs Vivado/Vitis (AMD) (Pynq-Z2 needs Vivado ")
    assert "The Vivado project script is written" in err and "Traceback" not in err
    report = json.loads((out / "report.json").read_text())
    steps = {s["name"]: s["status"] for s in report["steps"]}
    assert steps["sim"] == steps["hw_ipgen"] == "done" and steps["create_stitched_ip"] == "failed"
    viv = report["vivado"]
    assert viv["ip_cells"] >= report["nodes_hw"]
    # the FIFOs carry the simulation's depths (FINN's shallow FIFOs of 2 sit where the simulation had none)
    assert set(viv["fifo_depths"].values()) - {2} <= set(report["sim"]["fifo_depths"].values())
    prepare_finn(out / "finn_tmp")
    core = ModelWrapper(str(out / "checkpoints" / "12_hw_ipgen.onnx"))
    assert {"DuplicateStreams_rtl", "ConcatStreams_rtl", "StreamingFIFO_rtl"} <= {n.op_type for n in core.graph.node}
    script = open(viv["project_script"]).read()
    project = __import__("pathlib").Path(viv["project_script"]).parent
    assert check_project_script(script, core, project) == []
    # the companion: the check catches a layer left out of the block design
    victim = next(n.name for n in core.graph.node if n.op_type == "ConcatStreams_rtl")
    broken = "\n".join(line for line in script.splitlines() if not line.endswith(f" {victim}"))
    assert f"no IP-integrator cell for {victim}" in check_project_script(broken, core, project)
    assert "vivado -mode batch -source make_project.tcl" in open(viv["shell_script"]).read()
