"""The build flow on plain Brevitas MLPs (FINN's own layers): steps, resume, report, and every
user error the issue lists."""

import json

import pytest
from mlp_models import export_mlp
from torch import nn

from build_flows.build import DEFAULT_STEPS, ESTIMATE_STEPS, STEP_FUNCTIONS, BuildError, build
from build_flows.cli import main
from build_flows.config import BuildConfig


@pytest.fixture(scope="module")
def mlp_onnx(tmp_path_factory):
    return export_mlp(tmp_path_factory.mktemp("mlp") / "mlp.onnx")


def test_binary_mlp_maps_every_node_and_is_bit_exact(mlp_onnx, tmp_path, capsys):
    assert main(["build", mlp_onnx, "--out", str(tmp_path / "b"), "--target-fps", "100000"]) == 0
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["nodes_hw"] == report["nodes_total"] > 0 and report["unmapped"] == []
    assert report["verification"]["qonnx_vs_finn_python"]["bit_exact"] is True
    est = report["estimated"]
    assert {"name", "op", "PE", "SIMD", "cycles", "LUT", "BRAM", "DSP"} <= set(report["layers"][0])
    # at least one LUT per XNOR-popcount lane working in parallel, and every cycle of the slowest layer
    lanes = sum(layer["PE"] * layer["SIMD"] for layer in report["layers"] if layer["op"].startswith("MVAU"))
    assert est["fps"] >= 100000 and est["LUT"] >= lanes
    assert est["cycles_per_image"] == max(layer["cycles"] for layer in report["layers"])
    assert report["binary_ops_per_image"] == 2 * (64 * 64 + 64 * 10)  # 2 operations per XNOR-popcount MAC
    assert report["ops_per_image"] == {"binary": 2 * (64 * 64 + 64 * 10)}
    assert 0 < report["roofline_fraction"] <= 1
    assert [s["name"] for s in report["steps"]] == ESTIMATE_STEPS
    assert all(s["status"] == "done" for s in report["steps"])
    assert (tmp_path / "b" / "build_config.yaml").exists() and len(list((tmp_path / "b" / "checkpoints").glob("*.onnx"))) == 10
    out = capsys.readouterr().out
    assert "5/5 nodes in hardware" in out and "need Vivado" in out


def test_resume_after_an_injected_failure(mlp_onnx, tmp_path, monkeypatch):
    calls = []

    def broken(model, ctx):
        calls.append(1)
        raise RuntimeError("injected")

    i = DEFAULT_STEPS.index("folding")
    monkeypatch.setitem(STEP_FUNCTIONS, "folding", broken)
    cfg = BuildConfig(model=mlp_onnx, out=str(tmp_path / "r"))
    with pytest.raises(BuildError, match="step 'folding' failed.*injected"):
        build(cfg)
    kept = sorted(p.name for p in (tmp_path / "r" / "checkpoints").glob("*.onnx"))
    assert kept[-1] == f"{i - 1:02d}_specialize_layers.onnx" and len(kept) == i
    state = json.loads((tmp_path / "r" / "build_state.json").read_text())
    assert state["steps"][-1] == {**state["steps"][-1], "name": "folding", "status": "failed"}
    monkeypatch.undo()
    logs = []
    report = build(cfg, log=logs.append)
    assert logs[0] == f"resuming after step 'specialize_layers' ({i - 1:02d}_specialize_layers.onnx)"
    assert all(s["status"] == "done" for s in report.steps) and len(calls) == 1


def test_bad_onnx_is_explained(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx file")
    assert main(["build", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "not a readable ONNX" in capsys.readouterr().err
    assert main(["build", str(tmp_path / "missing.onnx"), "--out", str(tmp_path / "y")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unsupported_op_lists_every_unmapped_node(tmp_path, capsys):
    path = export_mlp(tmp_path / "tanh.onnx", tail=nn.Tanh())
    assert main(["build", path, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "did not map to hardware" in err and "(Tanh): tanh not followed by a quantizer" in err
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["nodes_hw"] < report["nodes_total"]
    assert [n["op_type"] for n in report["unmapped"]] == ["Tanh"]


def test_infeasible_target_reports_best_reachable(mlp_onnx, tmp_path, capsys):
    assert main(["build", mlp_onnx, "--out", str(tmp_path / "f"), "--target-fps", "1e12"]) == 2
    err = capsys.readouterr().err
    assert "is not reachable" in err and "best folding reaches" in err


def test_design_over_the_board_budget(tmp_path, capsys):
    path = export_mlp(tmp_path / "wide.onnx", widths=(512, 512, 512, 10))
    assert main(["build", path, "--out", str(tmp_path / "w"), "--board", "Pynq-Z2", "--target-fps", "1e7"]) == 2
    assert "over Pynq-Z2's budget" in capsys.readouterr().err


def test_vivado_step_without_vivado_names_step_and_tool(mlp_onnx, tmp_path, capsys):
    """hw_ipgen runs without Vivado for an all-RTL design; the bitfile step stops with the step, the board's Vivado
    version and what was kept."""
    assert main(["build", mlp_onnx, "--out", str(tmp_path / "v"), "--until", "synthesize_bitfile", "--images", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: step 'create_stitched_ip' needs Vivado/Vitis (AMD) (AUP-ZU3 needs Vivado 2022.2")
    assert "the build resumes from it" in err and "Traceback" not in err
    kept = tmp_path / "v" / "checkpoints"
    assert (kept / "09_estimates.onnx").exists() and (kept / "12_hw_ipgen.onnx").exists()  # earlier results kept


def test_config_yaml_and_changed_config(mlp_onnx, tmp_path):
    cfg = BuildConfig(model=mlp_onnx, out=str(tmp_path / "c"), board="KV260", until="lower_to_hw")
    cfg.save(tmp_path / "c.yaml")
    loaded = BuildConfig.load(tmp_path / "c.yaml")
    assert loaded == cfg and loaded.clock == 200
    build(cfg)
    with pytest.raises(ValueError, match="different configuration"):
        build(BuildConfig(model=mlp_onnx, out=str(tmp_path / "c"), board="ZCU104"))
    with pytest.raises(ValueError, match="unknown board"):
        BuildConfig(model=mlp_onnx, out="x", board="VCU118")
    (tmp_path / "bad.yaml").write_text("model: x\nout: y\nboards: z\n")
    with pytest.raises(ValueError, match="unknown build config fields"):
        BuildConfig.load(tmp_path / "bad.yaml")


def test_post_synthesis_reports_are_read(tmp_path):
    """What FINN's bitfile step leaves (it needs Vivado, so the files here are stand-ins in the layout and format
    Vivado and FINN write): the bitfile, the resource JSON as FINN wrote it, the post-route worst negative slack."""
    from build_flows.build.steps_vivado import post_synthesis, worst_negative_slack

    (tmp_path / "bitfile").mkdir()
    (tmp_path / "bitfile" / "finn-accel.bit").write_bytes(b"\x00")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "post_synth_resources.json").write_text('{"top": {"LUT": 12345.0, "BRAM_18K": 40.0}}')
    (tmp_path / "report" / "post_route_timing.rpt").write_text(
        "| Design Timing Summary\n| ---------------------\n\n"
        "    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)\n"
        "    -------      -------  ---------------------  -------------------      -------\n"
        "     -0.412       -3.101                     12                48211        0.021\n")
    got = post_synthesis(tmp_path)
    assert got["post_synth_resources"] == {"top": {"LUT": 12345.0, "BRAM_18K": 40.0}}
    assert got["wns_ns"] == -0.412 and got["timing_met"] is False and got["bitfile"][0].endswith("finn-accel.bit")
    assert worst_negative_slack("no summary here") is None


def test_the_hosts_reorder_does_not_bound_the_accelerator(tmp_path):
    """A CNN ending in its output reorder to NCHW (10x10x21 -> 21x10x10: PE at most gcd(21, 10) = 1, 2,100 cycles):
    the host driver does that reorder, so a target of 1,000 cycles per image is reachable and the reorder is a host
    step, not the bottleneck."""
    from mlp_models import export_sign_cnn

    onnx = export_sign_cnn(tmp_path / "cnn.onnx")
    assert main(["build", onnx, "--target-fps", "200000", "--until", "estimates", "--out", str(tmp_path / "b")]) == 0
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    host = [layer for layer in report["layers"] if layer["host"]]
    assert [layer["op"] for layer in host] == ["StreamLayout_rtl"]
    assert report["estimated"]["cycles_per_image"] <= 1000 < host[0]["cycles"] == 2100
    assert report["estimated"]["fps"] >= 200_000
