"""`qvit run`: a shipped checkpoint to a simulated accelerator in one command, with FPS, latency, resources
against the board, bit-exactness and accuracy from the simulated outputs, and the report's plots."""

import json
import re

from build_flows.cli import main


def test_run_prints_the_whole_result(tmp_path, capsys):
    out = tmp_path / "run"
    # 2,000 FPS: the design of test_vit_sim and test_reproducible, so the three share one simulator build
    assert main(["run", "binaryvit-tiny-hw", "--dataset", "fashion-mnist", "--target-fps", "2000", "--images", "5",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    sim, real = report["sim"], report["sim"]["real_images"]
    assert report["checkpoint"].endswith("binaryvit-tiny-hw_fashion-mnist.pt") and real["dataset"] == "fashion-mnist"
    assert f"throughput  {sim['fps_at_clock']:,.0f} FPS simulated" in printed and sim["fps_at_clock"] >= 2000
    assert f"latency     {sim['latency_us']:.1f} us" in printed
    assert re.search(r"resources   budget of AUP-ZU3: LUT [\d,]+ / 49,392, FF .* DSP \d+ / 360", printed)
    assert "bit-exact   yes: Verilator = QONNX = FINN python on 8 random vectors" in printed and "5/5 real images" in printed
    assert f"accuracy    top-1 {real['top1_simulated']:.2f} % on 5 fashion-mnist test images" in printed
    assert real["top1_simulated"] == real["top1_torch"] and all(real["bit_exact_per_image"])
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["accuracy_vs_bits.png", "cycles.png", "fifo_occupancy.png", "resources_by_layer.png",
                     "resources_by_type.png"]
