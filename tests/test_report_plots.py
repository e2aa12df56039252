"""`qvit report`: a build's report.json as report.md and PNG plots beside it, and `qvit eval`."""

import json

from build_flows.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_writes_tables_and_plots(tmp_path, capsys):
    from mlp_models import export_mlp

    onnx = export_mlp(tmp_path / "mlp.onnx")
    out = tmp_path / "b"
    assert main(["build", str(onnx), "--target-fps", "100000", "--until", "estimates", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    printed = capsys.readouterr().out
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == ["accuracy_vs_bits.png", "cycles.png", "resources_by_layer.png", "resources_by_type.png"]
    assert all((out / "plots" / p).read_bytes().startswith(PNG) and (out / "plots" / p).stat().st_size > 10_000
               for p in plots)
    assert "FIFO occupancy: not drawn" in printed  # no simulation in this build, and it says so
    report = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    # the tables carry the report's own numbers: every layer's row, the totals against the budget
    for layer in report["layers"]:
        assert f"| {layer['name']}" in md and f"| {layer['cycles']:,} |" in md
    assert f"| LUT | {report['estimated']['LUT']:,} | 49,392 |" in md
    assert f"**{report['estimated']['fps']:,.0f} FPS**" in md


def test_report_of_a_build_stopped_early_says_what_is_missing(tmp_path, capsys):
    from mlp_models import export_mlp

    onnx = export_mlp(tmp_path / "mlp.onnx")
    out = tmp_path / "b"
    assert main(["build", str(onnx), "--until", "tidy_up", "--out", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert "resources and cycles: not drawn (the build stopped before its estimates step)" in md
    assert not (out / "plots" / "cycles.png").exists()


def test_eval_gives_the_accuracy_of_a_shipped_checkpoint(capsys):
    from quant_models import data as datasets
    from quant_models.checkpoint import load_checkpoint, pretrained_checkpoint
    from quant_models.train import evaluate

    ckpt = pretrained_checkpoint("ternaryvit-tiny", "fashion-mnist")
    assert main(["eval", str(ckpt), "--limit", "300", "--threads", "1"]) == 0
    line = capsys.readouterr().out
    test = datasets.load("fashion-mnist", "test").subset(range(300))
    want = evaluate(load_checkpoint(ckpt), test)
    assert f"top-1 {want:.2f} % on 300 fashion-mnist test images (recorded in the checkpoint: 85.74 %)" in line
    assert want > 75  # chance is 10 %
