import json
from pathlib import Path

import pytest
import torch

from build_flows.cli import main
from quant_models import create_model, load_checkpoint
from quant_models import data as datasets
from quant_models.checkpoint import read_checkpoint
from quant_models.data.augment import PRESETS
from quant_models.train import TrainConfig, model_overrides, resolve_device, train

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

SMALL = dict(embed_dims=(32, 64), depths=(1, 1), num_heads=(1, 2))


def _cfg(out, **kw):
    base = dict(model="ternaryvit-tiny", dataset="digits", out=str(out), epochs=4, batch_size=64, threads=1,
                preset="none", progress=False, overrides=SMALL, lr=3e-3)
    return TrainConfig(**{**base, **kw})


def test_training_on_digits_beats_chance_and_writes_its_files(tmp_path):
    metrics = train(_cfg(tmp_path / "run"))
    assert metrics["test_top1"] > 50  # chance is 10 %
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(saved["epochs"]) == 4 and saved["test_top1"] == metrics["test_top1"]
    assert {"train_acc", "val_acc", "seconds", "images_per_s"} <= set(saved["epochs"][0])
    model = load_checkpoint(tmp_path / "run" / "model.pt")
    assert model.cfg.img_size == 8 and model.cfg.patch_size == 2


def test_each_model_gets_only_the_config_fields_it_declares():
    digits = datasets.load("digits", "train")
    strong = PRESETS["strong"]
    vit = model_overrides(digits, "binaryvit-tiny-hw", strong)
    assert vit == dict(img_size=8, in_chans=1, num_classes=10, patch_size=2,
                       drop_path=strong.drop_path, dropout=strong.dropout)
    assert "patch_size" not in model_overrides(digits, "resnet-tiny-fp", strong)
    mmfree = model_overrides(digits, "mmfree-vit-tiny", strong)
    assert "drop_path" not in mmfree and mmfree["patch_size"] == 2
    for name in ("binaryvit-tiny-hw", "resnet-tiny-fp", "mmfree-vit-tiny"):
        create_model(name, **model_overrides(digits, name, strong))  # every field set is one the model takes


def test_resume_reaches_the_same_state(tmp_path):
    straight = train(_cfg(tmp_path / "a", epochs=2))
    train(_cfg(tmp_path / "b", epochs=2, stop_after=1))  # an interrupted run
    assert not (tmp_path / "b" / "model.pt").exists()
    resumed = train(_cfg(tmp_path / "b", epochs=2), resume=True)
    a = read_checkpoint(tmp_path / "a" / "model.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "b" / "model.pt")["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["test_top1"] == straight["test_top1"]
    assert [e["epoch"] for e in resumed["epochs"]] == [1, 2]


def test_resume_with_other_settings_is_refused(tmp_path):
    train(_cfg(tmp_path / "r", epochs=2, stop_after=1))
    before = (tmp_path / "r" / "checkpoint.pt").read_bytes()
    with pytest.raises(ValueError, match=r"epochs 2 -> 3; lr 0.003 -> 0.001.*--init"):
        train(_cfg(tmp_path / "r", epochs=3, lr=1e-3), resume=True)
    assert (tmp_path / "r" / "checkpoint.pt").read_bytes() == before
    # threads and the progress bar do not change the numbers: allowed
    assert len(train(_cfg(tmp_path / "r", epochs=2, threads=2, progress=True), resume=True)["epochs"]) == 2


def test_existing_run_is_not_overwritten(tmp_path):
    train(_cfg(tmp_path / "r", epochs=1))
    before = (tmp_path / "r" / "checkpoint.pt").read_bytes()
    with pytest.raises(FileExistsError, match="--resume"):
        train(_cfg(tmp_path / "r", epochs=1))
    assert (tmp_path / "r" / "checkpoint.pt").read_bytes() == before


def test_distillation_uses_the_teacher(tmp_path):
    # the convnet teacher (it has no patch size, which the trainer sets for 8x8 digits otherwise)
    teach = train(_cfg(tmp_path / "t", model="resnet-tiny-fp", overrides=dict(widths=(8, 16), blocks=(1, 1)), epochs=4))
    assert teach["test_top1"] > 50  # 85.8 % here: a wide margin for another CPU's rounding
    teacher = str(tmp_path / "t" / "model.pt")
    soft = train(_cfg(tmp_path / "s", epochs=1, teacher=teacher, distill_alpha=1.0))
    plain = train(_cfg(tmp_path / "p", epochs=1))
    # same seed and data: only the loss differs, so the first-epoch losses differ
    assert soft["epochs"][0]["train_loss"] != plain["epochs"][0]["train_loss"]
    # with a distillation token only the teacher's loss reaches the distillation head: it stays at its
    # initial weights without a teacher and is trained with one
    token = {**SMALL, "distill_token": True}
    train(_cfg(tmp_path / "h", epochs=1, teacher=teacher, distill="hard", overrides=token))
    train(_cfg(tmp_path / "n", epochs=1, overrides=token))
    hard = load_checkpoint(tmp_path / "h" / "model.pt").head_dist.weight
    untaught = load_checkpoint(tmp_path / "n" / "model.pt").head_dist.weight
    assert not torch.equal(hard, untaught)
    assert torch.equal(untaught, _cfg_model(token).head_dist.weight)


def _cfg_model(overrides):
    """The model a digits run of _cfg starts from (same seed, same config)."""
    torch.manual_seed(0)
    return create_model("ternaryvit-tiny", img_size=8, in_chans=1, num_classes=10, patch_size=2, **overrides)


def test_continued_run_records_what_it_continued(tmp_path):
    first = train(_cfg(tmp_path / "a", epochs=1), command="qvit train ... first")
    second = train(_cfg(tmp_path / "b", epochs=1, init=str(tmp_path / "a" / "model.pt")), command="qvit train ... second")
    third = train(_cfg(tmp_path / "c", epochs=1, init=str(tmp_path / "b" / "model.pt")), command="qvit train ... third")
    assert second["continued_from"] == {"commands": ["qvit train ... first"], "epochs": 1,
                                        "wall_seconds": first["wall_seconds"], "test_top1": first["test_top1"]}
    assert third["continued_from"]["commands"] == ["qvit train ... first", "qvit train ... second"]
    assert third["continued_from"]["epochs"] == 2
    saved = json.loads((tmp_path / "c" / "metrics.json").read_text())
    assert saved["continued_from"] == third["continued_from"]


def test_teacher_or_init_for_another_dataset_is_refused(tmp_path, capsys):
    shipped = Path(__file__).parent.parent / "quant_models" / "checkpoints"
    teacher = shipped / "resnet-tiny-fp_fashion-mnist.pt"
    with pytest.raises(ValueError, match=r"--teacher .* takes 28x28x1 inputs and 10 classes, but digits has 8x8x1"):
        train(_cfg(tmp_path / "t", teacher=str(teacher)))
    with pytest.raises(ValueError, match=r"--distill-tau must be a positive, finite number"):
        train(_cfg(tmp_path / "t", teacher=str(teacher), distill_tau=0.0))
    args = ["train", "--model", "ternaryvit-tiny", "--dataset", "digits", "--out", str(tmp_path / "i"),
            "--init", str(shipped / "ternaryvit-tiny_cifar10.pt")]
    assert main(args) == 2
    assert "--init" in (err := capsys.readouterr().err) and "32x32x3" in err and "trained on digits" in err
    assert not (tmp_path / "t").exists() and not (tmp_path / "i").exists()


def test_train_command(tmp_path, capsys):
    args = ["train", "--model", "binaryvit-tiny-hw", "--dataset", "digits", "--out", str(tmp_path / "c"), "--epochs", "2",
            "--threads", "1", "--no-progress", "--set", "embed_dims=[16,32]", "--set", "depths=[1,1]",
            "--set", "num_heads=[1,1]"]
    assert main([*args, "--stop-after", "1"]) == 0
    out = capsys.readouterr().out
    assert "stopped after epoch 1 of 2" in out and "test top-1" not in out
    assert main([*args, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "epoch 2/2" in out and "epoch 1/2" not in out and "test top-1" in out
    assert main(args) == 2 and "--resume" in capsys.readouterr().err
    assert main(["train", "--model", "binaryvit-tiny-hw", "--dataset", "mnist", "--out", str(tmp_path / "d")]) == 2
    for flag, value, why in (("--weight-decay", "-0.1", "must be 0 or more"), ("--label-smoothing", "1", "in [0, 1)"),
                             ("--warmup-epochs", "nan", "must be 0 or more"),
                             ("--time-limit", "0", "must be a positive, finite number")):
        assert main([*args[:6], str(tmp_path / "e"), flag, value]) == 2
        assert flag in (err := capsys.readouterr().err) and why in err and f"{flag} must" in err
    assert not (tmp_path / "e").exists()
    assert main([*args[:6], str(tmp_path / "f"), *args[7:], "--weight-decay", "0", "--label-smoothing", "0"]) == 0
    recorded = json.loads((tmp_path / "f" / "metrics.json").read_text())["train_config"]
    assert recorded["weight_decay"] == 0 and recorded["label_smoothing"] == 0
    assert main([*args[:6], str(tmp_path / "g"), *args[7:], "--time-limit", "1e-6"]) == 0
    assert "stopped after epoch 1 of 2 (--time-limit 1e-06 min)" in capsys.readouterr().out


def test_time_limit_ends_the_run_between_epochs_and_it_resumes(tmp_path):
    straight = train(_cfg(tmp_path / "a", epochs=3))
    boxed = train(_cfg(tmp_path / "b", epochs=3, time_limit=1e-6))  # the box is over before epoch 1 ends
    assert len(boxed["epochs"]) == 1 and "test_top1" not in boxed  # one epoch always runs, then it stops
    assert (tmp_path / "b" / "checkpoint.pt").exists() and not (tmp_path / "b" / "model.pt").exists()
    roomy = train(_cfg(tmp_path / "b", epochs=3, time_limit=60), resume=True)  # a limit may change on resume
    assert [e["epoch"] for e in roomy["epochs"]] == [1, 2, 3]
    assert roomy["test_top1"] == straight["test_top1"]


def test_pruning_shrinks_dims_and_the_exported_graph(tmp_path):
    from onnx import numpy_helper
    from qonnx.core.modelwrapper import ModelWrapper

    from quant_models.export import export_model
    from quant_models.prune import gated_mlps

    over = {**SMALL, "prune_gates": True}
    train(_cfg(tmp_path / "g", model="binaryvit-tiny-hw", epochs=2, overrides=over, prune_l1=1e-3))
    gated = load_checkpoint(tmp_path / "g" / "model.pt")
    assert any(not torch.equal(m.gate, torch.ones_like(m.gate)) for _, m in gated_mlps(gated))  # the L1 term moved them
    assert main(["prune", "--checkpoint", str(tmp_path / "g" / "model.pt"), "--rate", "0.5",
                 "--out", str(tmp_path / "pruned.pt")]) == 0
    pruned = load_checkpoint(tmp_path / "pruned.pt")
    assert sum(pruned.cfg.mlp_hidden) <= 0.5 * sum(len(m.gate) for _, m in gated_mlps(gated)) + 1
    assert sum(p.numel() for p in pruned.parameters()) < sum(p.numel() for p in gated.parameters())
    r_full = export_model(gated, tmp_path / "full.onnx", samples=1)
    r_small = export_model(pruned, tmp_path / "small.onnx", samples=1)

    def weights(name):
        return sum(numpy_helper.to_array(t).size for t in ModelWrapper(str(tmp_path / name)).graph.initializer)

    assert r_small.ok and r_full.ok and weights("small.onnx") < weights("full.onnx")
    # fine-tuning starts from the pruned weights and keeps the smaller widths
    tuned = train(_cfg(tmp_path / "ft", model="binaryvit-tiny-hw", epochs=1, init=str(tmp_path / "pruned.pt")))
    assert tuple(tuned["config"]["mlp_hidden"]) == pruned.cfg.mlp_hidden
    assert main(["prune", "--checkpoint", str(tmp_path / "g" / "model.pt"), "--rate", "1.5", "--out", "x.pt"]) == 2


@pytest.mark.parametrize("device", DEVICES)
def test_every_model_trains_on_the_device(tmp_path, device):
    """One step of each quantized ViT on the device (CPU here; CUDA too where torch sees a GPU): the integer
    softmax and MLGRU run there in torch, the checkpoint comes back on the CPU and says where it was trained."""
    for name, overrides in (("binaryvit-tiny-hw", dict(embed_dims=(32, 64), depths=(1, 1), num_heads=(1, 2))),
                            ("ternaryvit-tiny", SMALL), ("mmfree-vit-tiny", dict(dim=32, depth=1))):
        out = tmp_path / name
        m = train(_cfg(out, model=name, overrides=overrides, epochs=1, max_train=128, device=device))
        assert m["epochs"][0]["device"].startswith(device) and m["device"].startswith(device)
        state = read_checkpoint(out / "model.pt")["state_dict"]
        assert all(v.device.type == "cpu" for v in state.values() if torch.is_tensor(v))


def test_auto_device_and_the_scaled_learning_rate():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    assert TrainConfig(model="m", dataset="d", out="o", lr=1e-3, batch_size=1024, scale_lr=True).effective_lr == 8e-3
    assert TrainConfig(model="m", dataset="d", out="o", lr=1e-3, batch_size=1024).effective_lr == 1e-3
