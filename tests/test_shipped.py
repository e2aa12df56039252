"""Shipped checkpoints load through the registry and reproduce their recorded accuracy."""

import json

import numpy as np
import pytest

from quant_models import create_model, data
from quant_models.checkpoint import CHECKPOINT_DIR, shipped_checkpoints
from quant_models.train import evaluate

SHIPPED = shipped_checkpoints()


def test_the_package_ships_checkpoints():
    assert SHIPPED, f"no shipped checkpoints in {CHECKPOINT_DIR}"
    for ckpt in SHIPPED:
        assert ckpt.stat().st_size < 5 * 2**20 and ckpt.with_suffix(".json").exists()


@pytest.mark.parametrize("ckpt", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_checkpoint_reproduces_its_accuracy(ckpt):
    meta = json.loads(ckpt.with_suffix(".json").read_text())
    model = create_model(meta["model"], pretrained=meta["dataset"])
    test = data.load(meta["dataset"], "test")
    acc = evaluate(model, test.subset(np.arange(meta["subset_size"])))
    assert acc == pytest.approx(meta["test_top1_subset"], abs=1e-9)
    assert acc > 100 / len(test.classes) * 3  # far above chance


def test_missing_pretrained_names_what_is_shipped():
    with pytest.raises(FileNotFoundError, match="Shipped checkpoints"):
        create_model("mmfree-vit-tiny", pretrained="imagenet")
