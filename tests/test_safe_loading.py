"""Files a user hands over are read without running code: a crafted run checkpoint on `qvit train --resume` and a
crafted CIFAR-10 python batch are refused with a clear error, and the payload never runs; genuine files load."""

import os
import pickle

import numpy as np
import pytest
import torch

from build_flows.cli import main
from quant_models import data


class _Payload:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_run_checkpoint_does_not_run_code(tmp_path, capsys):
    marker = tmp_path / "pwned"
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"state_dict": {}, "metrics": _Payload(marker), "epoch": 0}, out / "checkpoint.pt")
    code = main(["train", "--model", "binaryvit-tiny-hw", "--dataset", "digits", "--set", "img_size=8", "--set",
                 "in_chans=1", "--out", str(out), "--epochs", "1", "--resume", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and not marker.exists()
    assert err.startswith("error: ") and "is not a run checkpoint of `qvit train`" in err and "Traceback" not in err


def _batches(root, payload=None):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, size=(4, 3072), dtype=np.uint8), b"labels": [1, 2, 3, 4]}
        if payload is not None and name == "test_batch":
            d[b"batch_label"] = payload
        with open(root / name, "wb") as f:
            pickle.dump(d, f)


def test_cifar_python_batches_load_and_a_crafted_one_is_refused(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    _batches(good)
    test = data.cifar10("test", good)
    assert test.images.shape == (4, 32, 32, 3) and test.labels.tolist() == [1, 2, 3, 4]
    bad = tmp_path / "bad"
    bad.mkdir()
    marker = tmp_path / "pwned"
    _batches(bad, _Payload(marker))
    with pytest.raises(ValueError, match="is not a CIFAR-10 python batch .*posix.system"):
        data.cifar10("test", bad)
    assert not marker.exists()
