"""A node no rule of ours maps, mapped by FINN's streamlining and conversion, simulates as exported: nearest
upsampling (ONNX Resize) becomes FINN's UpsampleNearestNeighbour (our RTL of it), `qvit build ... --until sim`,
every node a hardware layer, the stitched RTL bit-exact with QONNX and FINN's python execution, with and without
random stalls, cycles equal to the estimate within 10 %."""

import json

from mlp_models import export_upsample_cnn

from build_flows.cli import main


def test_finn_mapped_upsampling_simulates_bit_exactly(tmp_path, capsys):
    onnx = export_upsample_cnn(tmp_path / "up.onnx")
    out = tmp_path / "b"
    code = main(["build", onnx, "--board", "Pynq-Z2", "--target-fps", "5000", "--until", "sim", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert code == 0, report.get("steps")
    assert "Resize_0 (Resize) -> UpsampleNearestNeighbour" in capsys.readouterr().out
    assert report["finn_fallback"] == [{"name": "Resize_0", "op_type": "Resize", "finn_layer": "UpsampleNearestNeighbour"}]
    assert report["nodes_hw"] == report["nodes_total"] and not report.get("unmapped")
    assert "UpsampleNearestNeighbour_rtl" in {layer["op"] for layer in report["layers"]}
    sim = report["sim"]
    assert sim["bit_exact"] is True and set(sim["max_abs_diff"].values()) == {0.0}
    assert 0.9 <= sim["cycles_vs_estimate"] <= 1.1
