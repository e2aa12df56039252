"""Whole ViT accelerators in Verilator: each shipped ViT (Fashion-MNIST size) built through `qvit build ...
--until sim`, every layer in RTL (the float output scale is the host's step), stitched as a graph with forks
and joins, bit-exact with QONNX and FINN's python execution on random vectors and real test images, with and
without random stalls, the top-1 of the simulated outputs equal to torch's on those images. The 1,000-image
runs are `benchmarks/vit_sim.py`."""

import json

import pytest

from build_flows.cli import main

MODELS = ("binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny")


@pytest.mark.parametrize("model", MODELS)
def test_whole_vit_simulates_bit_exactly(model, tmp_path):
    out = tmp_path / "b"
    code = main(["build", model, "--set", "img_size=28", "--set", "in_chans=1", "--target-fps", "2000", "--until", "sim",
                 "--images", "3", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert code == 0, report.get("steps")
    assert report["nodes_hw"] == report["nodes_total"]
    sim = report["sim"]
    assert sim["bit_exact"] is True and sim["max_abs_diff"] == {"qonnx": 0.0, "finn_python": 0.0, "qonnx_stalled": 0.0}
    assert [h.split("_")[0] for h in sim["host_steps"]] == ["ChannelFloat"]
    real = sim["real_images"]
    assert real["dataset"] == "fashion-mnist" and real["images"] == 3 and all(real["bit_exact_per_image"])
    assert real["argmax_agreement_with_torch"] == 1.0
    # steady state within 10 % of the estimate (both cycle counts of the same design, not wall time)
    assert 0.9 <= sim["cycles_vs_estimate"] <= 1.1


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["cifar10", "fashion-mnist"])
@pytest.mark.parametrize("model", MODELS)
def test_thousand_real_images_at_the_target(model, dataset, tmp_path):
    """The benchmark's run (`benchmarks/vit_sim.py`): 1,000 real test images at 5,311 FPS on AUP-ZU3, every
    image bit-exact, the simulated top-1 equal to torch's, at least 5,311 FPS simulated. 15-40 min each."""
    sizes = {"cifar10": [], "fashion-mnist": ["--set", "img_size=28", "--set", "in_chans=1"]}
    out = tmp_path / "b"
    code = main(["build", model, *sizes[dataset], "--board", "AUP-ZU3", "--target-fps", "5311", "--until", "sim",
                 "--images", "1000", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert code == 0, report.get("steps")
    real = report["sim"]["real_images"]
    assert real["dataset"] == dataset and real["images"] == 1000 and all(real["bit_exact_per_image"])
    assert real["top1_simulated"] == real["top1_torch"]
    assert report["sim"]["fps_at_clock"] >= 5311


@pytest.mark.parametrize("option", ["class_attention=1", "gap_head=false", "distill_token=true"])
def test_class_token_vit_simulates_bit_exactly(option, tmp_path):
    """A ViT with a class token (CaiT class attention, or the token read out by the head) or a class and a
    distillation token (DeiT: the two heads averaged, their streams joined by ConcatStreams and the float sum the
    host's step): the constant tokens joined to the stream (InsertTokens) and selected from it (selecting
    StreamLayouts) in the stitched RTL, random weights (no checkpoint has these options), bit-exact with and
    without stalls."""
    out = tmp_path / "b"
    small = ["--set", "embed_dims=[16,32]", "--set", "depths=[1,1]", "--set", "num_heads=[1,2]"]
    code = main(["build", "binaryvit-tiny-hw", "--set", "img_size=28", "--set", "in_chans=1", *small, "--set", option,
                 "--target-fps", "2000", "--until", "sim", "--images", "0", "--out", str(out)])
    report = json.loads((out / "report.json").read_text())
    assert code == 0, report.get("steps")
    assert report["nodes_hw"] == report["nodes_total"]
    assert {"InsertTokens_rtl", "StreamLayout_rtl"} <= {row["op"] for row in report["layers"]}
    if option.startswith("distill"):
        assert [h.split("_")[0] for h in report["sim"]["host_steps"]] == ["ChannelFloat", "SumParts", "ChannelFloat"]
    sim = report["sim"]
    assert sim["bit_exact"] is True and sim["max_abs_diff"] == {"qonnx": 0.0, "finn_python": 0.0, "qonnx_stalled": 0.0}
    assert 0.9 <= sim["cycles_vs_estimate"] <= 1.1
