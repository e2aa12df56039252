"""Identical inputs give identical outputs: the same model built in two directories (a CNN with a fork and a join,
through the simulation) writes byte-identical checkpoints (paths inside the build directory are written relative
to it) and RTL (memory files named without a path), and the second build's simulation reuses the first's
simulator."""

import hashlib
import json

from mlp_models import export_branch_cnn

from build_flows.cli import main


def _digests(root, pattern):
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.glob(pattern)) if p.is_file()}


def test_two_builds_in_two_directories_are_byte_identical(tmp_path):
    onnx = export_branch_cnn(tmp_path / "b.onnx")
    for d in ("one", "two"):
        assert main(["build", onnx, "--target-fps", "max", "--until", "sim", "--images", "0",
                     "--out", str(tmp_path / d)]) == 0
    one, two = tmp_path / "one", tmp_path / "two"
    ckpts = _digests(one, "checkpoints/*.onnx")
    assert len(ckpts) == 11 and ckpts == _digests(two, "checkpoints/*.onnx")
    rtl = _digests(one, "sim/rtl/*/*")
    assert any(name.endswith(".dat") for name in rtl) and rtl == _digests(two, "sim/rtl/*/*")
    assert not any(str(one) in (one / f).read_text() for f in rtl if f.endswith(".sv"))
    assert json.loads((two / "report.json").read_text())["sim"]["simulator_cached"] is True


def test_two_vit_builds_in_two_directories_are_byte_identical(tmp_path):
    """The same for a whole shipped ViT (binaryvit-tiny-hw, Fashion-MNIST size): every checkpoint from the
    frontend to the stitched design, every RTL and memory file, the same simulator (about 2 min)."""
    for d in ("one", "two"):
        assert main(["build", "binaryvit-tiny-hw", "--set", "img_size=28", "--set", "in_chans=1", "--target-fps", "2000",
                     "--until", "sim", "--images", "0", "--out", str(tmp_path / d)]) == 0
    one, two = tmp_path / "one", tmp_path / "two"
    ckpts = _digests(one, "checkpoints/*.onnx")
    assert len(ckpts) >= 10 and ckpts == _digests(two, "checkpoints/*.onnx")
    rtl = _digests(one, "sim/rtl/*/*")
    assert len(rtl) > 100 and rtl == _digests(two, "sim/rtl/*/*")
    assert json.loads((two / "report.json").read_text())["sim"]["simulator_cached"] is True
