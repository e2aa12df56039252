"""Streams joined by Concat (two conv branches on channels, token streams on the token axis) build and simulate
as exported: `qvit build ... --until sim`, every node a hardware layer, the stitched RTL (ConcatStreams_rtl under
random stalls in the stalled run) bit-exact with QONNX and FINN's python execution, cycles equal to the estimate
within 10 %."""

import json

from mlp_models import export_branch_cnn

from build_flows.cli import main


def test_joined_streams_simulate_bit_exactly(tmp_path):
    onnx = export_branch_cnn(tmp_path / "branch.onnx")
    out = tmp_path / "b"
    code = main(["build", onnx, "--board", "Pynq-Z2", "--target-fps", "20000", "--until", "sim", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert code == 0, report.get("steps")
    assert report["nodes_hw"] == report["nodes_total"] and not report.get("unmapped")
    assert sum(layer["op"] == "ConcatStreams_rtl" for layer in report["layers"]) == 2
    sim = report["sim"]
    assert sim["bit_exact"] is True and set(sim["max_abs_diff"].values()) == {0.0}
    assert 0.9 <= sim["cycles_vs_estimate"] <= 1.1
