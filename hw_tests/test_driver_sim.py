"""The host driver against the simulated board, end to end: the shipped binaryvit-tiny-hw (Fashion-MNIST) built
through the sim step, `qvit deploy` into a package, the package copied into an empty directory, and its own
``validate.py`` / ``driver.py`` run there on the Verilator model of the accelerator. The driver's top-1 on real
test images equals the integer model's (QONNX execution of the export) image for image; its outputs equal the
package's expected outputs byte for byte; bad input gives one ``error:`` line and exit 2."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from build_flows.cli import main

IMAGES = 24


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("deploy")
    build = tmp / "b"
    assert main(["build", "binaryvit-tiny-hw", "--set", "img_size=28", "--set", "in_chans=1", "--target-fps", "2000",
                 "--until", "sim", "--images", "2", "--out", str(build)]) == 0
    assert main(["deploy", str(build), "--out", str(tmp / "pkg"), "--images", str(IMAGES)]) == 0
    unpacked = tmp / "empty" / "pkg"
    shutil.copytree(tmp / "pkg", unpacked)  # what a user copies to another machine
    return build, unpacked


def _script(pkg, *args):
    return subprocess.run([sys.executable, *args], cwd=pkg, capture_output=True, text=True, timeout=900)


def test_validate_on_the_simulated_board_matches_the_integer_model(package):
    from qonnx.core.modelwrapper import ModelWrapper

    from quant_models.export import qonnx_forward

    build, pkg = package
    proc = _script(pkg, "validate.py", "--backend", "sim", "--batchsize", "8")
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert res["images"] == IMAGES and res["backend"] == "sim" and res["simulated_cycles_per_image"] > 0
    # image for image: the driver's top-1 (pre-processing, packing, RTL, host steps) is the export's
    sys.path.insert(0, str(pkg))
    from qvit_driver import Accelerator

    acc = Accelerator.from_package(pkg, "sim")
    with np.load(pkg / "samples" / "test_images.npz") as d:
        images, labels = d["images"], d["labels"]
    top1, scores = acc.classify(images)
    golden = qonnx_forward(ModelWrapper(str(build / "checkpoints" / "00_export.onnx")), acc.preprocess(images))
    assert np.array_equal(scores, golden.reshape(len(images), -1))
    assert np.array_equal(top1, golden.reshape(len(images), -1).argmax(1))
    assert res["top1_percent"] == pytest.approx(100 * float((top1 == labels).mean()))


def test_driver_outputs_are_the_expected_outputs(package):
    _, pkg = package
    proc = _script(pkg, "driver.py", "--backend", "sim", "--exec_mode", "execute", "--batchsize", "3",
                   "--inputfile", "samples/input.npy", "--outputfile", "out.npy")
    assert proc.returncode == 0, proc.stderr
    assert np.array_equal(np.load(pkg / "out.npy"), np.load(pkg / "samples" / "expected_output.npy"))
    proc = _script(pkg, "driver.py", "--backend", "sim", "--exec_mode", "throughput_test", "--batchsize", "4")
    res = json.loads(proc.stdout)
    assert res["batch_size"] == 4 and res["simulated_images_per_s_at_clock"] > 0


@pytest.mark.parametrize("array,flags,message", [
    (np.zeros((2, 1, 27, 28), np.float32), [], "input must be [batch, 1, 28, 28]"),
    (np.zeros((2, 28, 28, 1), np.float32), ["--raw-images"], "images must be uint8 pixels"),
    (np.zeros((2, 28, 28, 3), np.uint8), ["--raw-images"], "images must be [n, 28, 28, 1]"),
])
def test_bad_input_is_a_clear_error(package, tmp_path, array, flags, message):
    _, pkg = package
    np.save(tmp_path / "bad.npy", array)
    proc = _script(pkg, "driver.py", "--backend", "sim", "--inputfile", str(tmp_path / "bad.npy"), *flags)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr


def test_pynq_backend_without_a_bitfile_says_vivado_made_none(package):
    _, pkg = package
    proc = _script(pkg, "validate.py")
    assert proc.returncode == 2 and "no bitfile" in proc.stderr and "synthesize_bitfile" in proc.stderr


def test_deploy_keeps_user_files_and_needs_the_sim_step(package, tmp_path):
    build, _ = package
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    assert main(["deploy", str(build), "--out", str(tmp_path / "mine")]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    assert main(["deploy", str(tmp_path / "mine"), "--out", str(tmp_path / "p")]) == 2  # not a build directory
