import subprocess
import sys
from pathlib import Path

import pytest

from build_flows.cli import main
from quant_models import create_model, save_checkpoint


def test_models_lists_every_model_with_counts(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ["binaryvit-tiny-hw", "ternaryvit-tiny", "mmfree-vit-tiny", "deit-tiny-fp", "binaryvit-224"]:
        assert name in out
    assert "binary MACs" in out and "OPs" in out


def test_export_command_prints_verification(tmp_path, capsys):
    out_file = tmp_path / "m.onnx"
    args = ["export", "--model", "binaryvit-tiny-hw", "--out", str(out_file), "--samples", "1",
            "--set", "embed_dims=[16,32]", "--set", "depths=[1,1]", "--set", "num_heads=[1,1]"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out_file.exists() and "argmax agrees on 1/1" in out and "max |logit diff|" in out


def test_export_with_checkpoint(tmp_path, capsys):
    cfg = dict(img_size=28, in_chans=1, embed_dims=[16, 32], depths=[1, 1], num_heads=[1, 1])
    model = create_model("ternaryvit-tiny", **cfg)
    ckpt = tmp_path / "c.pt"
    save_checkpoint(ckpt, model)
    assert main(["export", "--model", "ternaryvit-tiny", "--checkpoint", str(ckpt), "--out", str(tmp_path / "t.onnx"),
                 "--samples", "1"]) == 0
    assert "input [1, 1, 28, 28]" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["export", "--model", "nope", "--out", "x.onnx"], "Available models"),
    (["export", "--model", "binaryvit-tiny-hw", "--out", "x.onnx", "--set", "img_size=30"], "patch_size"),
    (["export", "--model", "binaryvit-tiny-hw", "--out", "x.onnx", "--set", "imgsize=30"], "unknown config fields"),
    (["export", "--model", "binaryvit-tiny-hw", "--checkpoint", "/nonexistent.pt", "--out", "x.onnx"], "does not exist"),
])
def test_user_errors_exit_2_with_a_reason(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_mismatched_checkpoint_names_tensors(tmp_path, capsys):
    small = create_model("binaryvit-tiny-hw", embed_dims=(16, 32), depths=(1, 1), num_heads=(1, 1))
    ckpt = tmp_path / "c.pt"
    save_checkpoint(ckpt, "binaryvit-tiny-hw", {}, small.state_dict())
    assert main(["export", "--model", "binaryvit-tiny-hw", "--checkpoint", str(ckpt), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err
    assert "does not match the model" in err and "shape mismatches" in err
    save_checkpoint(ckpt, "ternaryvit-tiny", {}, {})
    assert main(["export", "--model", "binaryvit-tiny-hw", "--checkpoint", str(ckpt), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "is for model 'ternaryvit-tiny'" in capsys.readouterr().err


def test_console_script_exit_status():
    qvit = Path(sys.executable).with_name("qvit")
    out = subprocess.run([str(qvit), "export", "--model", "nope", "--out", "x.onnx"], capture_output=True, text=True)
    assert out.returncode == 2 and "Available models" in out.stderr and "Traceback" not in out.stderr


def test_boards_are_data_and_listed(capsys):
    from build_flows.boards import BOARDS, DEFAULT_BOARD, get_board

    assert DEFAULT_BOARD == "AUP-ZU3" and set(BOARDS) == {"Pynq-Z2", "Ultra96-V2", "AUP-ZU3", "KV260", "ZCU104"}
    assert get_board("aup-zu3_8gb").part == "xczu3eg-sfvc784-2-e"
    import finn.util.basic as finn_basic

    for b in BOARDS.values():  # our table agrees with finn-plus's part map
        assert finn_basic.pynq_part_map[b.finn_name] == b.part
        assert finn_basic.pynq_native_port_width[b.finn_name] == b.axi_width
    with pytest.raises(ValueError, match="available boards"):
        get_board("VCU118")
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "xc7z020clg400-1" in out and "(default)" in out


def test_export_verifies_on_real_images(tmp_path, capsys):
    args = ["export", "--model", "binaryvit-tiny-hw", "--out", str(tmp_path / "d.onnx"), "--samples", "2", "--dataset", "digits",
            "--set", "img_size=8", "--set", "in_chans=1", "--set", "patch_size=2", "--set", "embed_dims=[16,32]",
            "--set", "depths=[1,1]", "--set", "num_heads=[1,1]"]
    assert main(args) == 0
    assert "argmax agrees on 2/2" in capsys.readouterr().out
