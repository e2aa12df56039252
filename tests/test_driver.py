"""The host driver's board-side parts (build_flows/driver): packing identical to the simulation harness's (FINN's
conventions) for every stream type, host steps identical to the layers' python execution, clear errors for bad
input, and no import of torch, FINN, QONNX or Brevitas. The driver against the simulated board is in
hw_tests/test_driver_sim.py; the pynq backend in tests/test_driver_pynq.py."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from qonnx.core.datatype import DataType

from build_flows.driver import host_steps, packing
from build_flows.driver.accelerator import Accelerator, DriverError
from build_flows.driver.datatypes import stream_type
from build_flows.sim import streams

TYPES = ["BIPOLAR", "BINARY", "TERNARY", "INT2", "UINT3", "INT8", "UINT8", "INT13", "UINT16", "INT32", "FLOAT32"]


def _values(name: str, shape, rng) -> np.ndarray:
    if name == "FLOAT32":
        return rng.standard_normal(shape).astype(np.float32)
    dt = DataType[name]
    v = rng.integers(int(dt.min()), int(dt.max()) + 1, size=shape)
    if name == "BIPOLAR":
        v = 2 * rng.integers(0, 2, size=shape) - 1
    return v.astype(np.float32)


@pytest.mark.parametrize("name", TYPES)
@pytest.mark.parametrize("per_beat", [1, 3, 8])
def test_packing_is_the_simulation_harness_packing(name, per_beat):
    """Fold/pack gives the very bytes the Verilator harness streams (streams.pack_beats), and unpack/unfold
    gives the values back, for every type and beat width (odd widths pad each beat to whole bytes)."""
    rng = np.random.default_rng(per_beat)
    x = _values(name, (5, 6 * per_beat), rng)
    dt = stream_type(name)
    folded = packing.fold(x, (1, 6, per_beat))
    packed = packing.pack(folded, dt)
    want = streams.pack_beats(x.reshape(-1), DataType[name], per_beat).reshape(5, 6, -1)
    assert packed.dtype == np.uint8 and np.array_equal(packed, want)
    back = packing.unfold(packing.unpack(packed, dt, per_beat), (1, 6 * per_beat))
    assert np.array_equal(back, x)


def test_packing_refuses_values_outside_the_type():
    with pytest.raises(ValueError, match="not INT4"):
        packing.pack(np.array([[[8.0]]]), stream_type("INT4"))
    with pytest.raises(ValueError, match="not BIPOLAR"):
        packing.pack(np.array([[[0.0]]]), stream_type("BIPOLAR"))
    with pytest.raises(ValueError, match="not one a stream carries"):
        stream_type("FIXED<8,4>")


def test_host_steps_are_the_layers_execution():
    """The steps the driver runs around the accelerator, against hand-computed results."""
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    assert np.array_equal(host_steps.apply({"kind": "reorder", "gather": [5, 0, 3]}, x), [[5, 0, 3], [11, 6, 9]])
    y = host_steps.apply({"kind": "channel_float", "ops": ["Mul", "Add"], "consts": [[0.5, 2.0, 1.0], [1.0, 0.0, -1.0]],
                          "shape": [2, 3]}, x)
    assert np.array_equal(y, [[1.0, 2.0, 1.0, 2.5, 8.0, 4.0], [4.0, 14.0, 7.0, 5.5, 20.0, 10.0]])
    assert np.array_equal(host_steps.apply({"kind": "sum_parts", "parts": 2, "channels": 3}, x),
                          [[3, 5, 7], [15, 17, 19]])
    assert np.array_equal(host_steps.apply({"kind": "top_k", "k": 2}, np.array([[1.0, 3.0, 3.0, 0.0]])), [[1, 2]])
    with pytest.raises(ValueError, match="unknown host step"):
        host_steps.apply({"kind": "softmax"}, x)


def _desc(**over) -> dict:
    desc = {"idt": ["UINT8"], "odt": ["INT8"], "ishape_normal": [[1, 4, 4, 1]], "ishape_folded": [[1, 4, 4, 1, 1]],
            "oshape_normal": [[1, 3]], "oshape_folded": [[1, 3, 1]], "oshape_packed": [[1, 3, 1]],
            "model_input_shape": [1, 1, 4, 4], "host_before": [{"kind": "reorder", "gather": list(range(16))}],
            "host_after": [], "preprocess": {"kind": "uint8"}, "outputs": "scores"}
    desc.update(over)
    return desc


class _Echo:
    """A backend that gives back the first three bytes of each image: enough to check the host's side."""

    name = "echo"

    def run(self, packed):
        return packed[:, :3, :]

    def last_stats(self):
        return {}


def test_execute_and_classify_around_a_backend():
    acc = Accelerator(_desc(), _Echo())
    images = np.arange(32, dtype=np.uint8).reshape(2, 4, 4, 1)
    out = acc.execute(acc.preprocess(images))
    assert np.array_equal(out, [[0, 1, 2], [16, 17, 18]])
    top1, scores = acc.classify(images)
    assert np.array_equal(top1, [2, 2]) and scores.shape == (2, 3)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 4, 4, 3), np.uint8), r"\[n, 4, 4, 1\]"),
    (np.zeros((2, 4, 4, 1), np.float32), "must be uint8"),
])
def test_preprocess_names_the_expected_images(bad, match):
    with pytest.raises(DriverError, match=match):
        Accelerator(_desc(), _Echo()).preprocess(bad)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 1, 5, 4)), r"must be \[batch, 1, 4, 4\]"),
    (np.zeros((0, 1, 4, 4)), "empty batch"),
    (np.full((1, 1, 4, 4), 300.0), "takes UINT8 values"),
    (np.full((1, 1, 4, 4), 0.5), "takes UINT8 values"),
])
def test_execute_names_bad_input(bad, match):
    with pytest.raises(DriverError, match=match):
        Accelerator(_desc(), _Echo()).execute(bad)


def test_standardisation_is_the_training_arithmetic():
    """float accelerators: x / 255 and (x - mean) / std in float32, bit for bit what training fed the model."""
    import torch

    from quant_models.train import standardise, to_unit_float

    mean, std = (0.2860,), (0.3530,)
    acc = Accelerator(_desc(preprocess={"kind": "standardise", "mean": mean, "std": std}), _Echo())
    images = np.random.default_rng(0).integers(0, 256, size=(6, 4, 4, 1), dtype=np.uint8)
    want = standardise(to_unit_float(torch.tensor(images)), mean, std).numpy()
    assert np.array_equal(acc.preprocess(images), want)


def test_the_driver_imports_nothing_but_numpy(tmp_path):
    """Board-side: the package's copy of the driver imports with torch, FINN, QONNX, Brevitas (and pynq) blocked."""
    from build_flows.build.deploy import DRIVER_DIR, DRIVER_FILES

    (tmp_path / "qvit_driver").mkdir()
    for f in DRIVER_FILES:
        shutil.copy(DRIVER_DIR / f, tmp_path / "qvit_driver" / f)
    code = ("import sys\nclass Block:\n def find_spec(self, name, path=None, target=None):\n"
            "  if name.split('.')[0] in ('torch', 'finn', 'qonnx', 'brevitas', 'build_flows', 'quant_models', 'pynq'):\n"
            "   raise ImportError('blocked ' + name)\nsys.meta_path.insert(0, Block())\n"
            "import qvit_driver, qvit_driver.cli, qvit_driver.backends\nprint('ok')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
