"""FINN's own example networks build and simulate as exported: Brevitas' BNN-PYNQ CNV-W1A1 (CIFAR-10 CNN with
max pooling) and TFC-W1A1 (MNIST MLP), seeded random weights, through `qvit build ... --until sim --size-fifos`:
every node a hardware layer (the float output scale the host's step), the stitched RTL bit-exact with QONNX and
FINN's python execution with and without random stalls, cycles per image within 10 % of the estimate once the
FIFOs are sized by simulation; TFC also with raw 8-bit pixels in (`--pixels uint8`). The whole list against
finn-plus is `benchmarks/finn_parity.py`."""

import json

import pytest

from build_flows.cli import main
from quant_models.bnn_pynq import export_bnn_pynq


@pytest.mark.parametrize("network,pixels", [("cnv_1w1a", "float"), ("tfc_1w1a", "float"), ("tfc_1w1a", "uint8")])
def test_finn_example_network_simulates_bit_exactly(network, pixels, tmp_path):
    onnx = export_bnn_pynq(network, tmp_path / f"{network}.onnx")
    out = tmp_path / "b"
    code = main(["build", str(onnx), "--board", "AUP-ZU3", "--target-fps", "5311", "--until", "sim", "--size-fifos",
                 "--pixels", pixels, "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert code == 0, report.get("steps")
    assert report["nodes_hw"] == report["nodes_total"] and not report.get("unmapped")
    ops = {layer["op"] for layer in report["layers"]}
    if pixels == "uint8":  # raw pixels in: the pre-processing (x / 255) folds into the first thresholds
        assert report["input"]["preprocessing"] == "x / 255"
        first = next(row for row in report["layers"] if row["op"] == "Thresholding_rtl")
        # 255 thresholds of one channel: one memory, in one BRAM18 or (the smaller share of the budget) in LUTs
        assert first["BRAM"] == 1 or (first["BRAM"] == 0 and 0 < first["LUT"] <= 255)
    if network.startswith("cnv"):
        assert {"WindowMax_rtl", "ConvolutionInputGenerator_rtl", "MVAU_lut_rtl"} <= ops
    sim = report["sim"]
    assert sim["bit_exact"] is True and sim["max_abs_diff"] == {"qonnx": 0.0, "finn_python": 0.0, "qonnx_stalled": 0.0}
    # CNV's per-tensor input quantizer lets its NCHW -> NHWC reorder go first, to the host
    host = ["StreamLayout", "ChannelFloat"] if network.startswith("cnv") else ["ChannelFloat"]
    assert [h.split("_")[0] for h in sim["host_steps"]] == host
    assert [row["name"] for row in report["layers"] if row["host"]] == sim["host_steps"]  # not in the totals
    sizing = sim["fifo_sizing"]
    assert sizing["bit_exact_stalled"] and sizing["cycles_per_image"] <= sim["cycles_per_image"]
    assert 0.9 <= sim["cycles_vs_estimate"] <= 1.1  # cycle counts of the simulated design, not wall time
