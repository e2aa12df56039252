"""The driver's pynq backend with pynq's real package (4.0.0, in its own environment, since pynq needs numpy<2:
`make setup` makes .venv-pynq) over the thinnest fake of a board (tests/pynq_side/fake_board.py): real
``pynq.allocate`` buffers from a fake ``pynq.Device``, IODMA register files that answer like the shell's. Checks
buffer allocation and cache maintenance, the DMA register sequence, the unpacked result, and the time-out."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from build_flows.build.deploy import DRIVER_DIR, DRIVER_FILES

ROOT = Path(__file__).resolve().parents[1]
PYNQ_PYTHON = ROOT / ".venv-pynq" / "bin" / "python"
DESC = {"idt": ["UINT8"], "odt": ["INT8"], "ishape_normal": [[1, 4, 4, 1]], "ishape_folded": [[1, 4, 4, 1, 1]],
        "ishape_packed": [[1, 16, 1]], "oshape_normal": [[1, 3]], "oshape_folded": [[1, 3, 1]],
        "oshape_packed": [[1, 3, 1]], "input_dma_name": ["idma0"], "output_dma_name": ["odma0"],
        "model_input_shape": [1, 1, 4, 4], "host_before": [{"kind": "reorder", "gather": list(range(16))}],
        "host_after": [], "preprocess": {"kind": "uint8"}, "outputs": "scores"}


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    if not PYNQ_PYTHON.exists():
        pytest.fail(f"{PYNQ_PYTHON} is missing: `make setup` makes the pynq environment (pynq 4.0.0 needs numpy<2)")
    pkg = tmp_path_factory.mktemp("pkg")
    (pkg / "qvit_driver").mkdir()
    for f in DRIVER_FILES:
        shutil.copy(DRIVER_DIR / f, pkg / "qvit_driver" / f)
    (pkg / "accelerator.json").write_text(json.dumps(DESC))
    return pkg


def _run(package, mode: str) -> dict:
    proc = subprocess.run([str(PYNQ_PYTHON), str(ROOT / "tests" / "pynq_side" / "fake_board.py"), str(package), mode],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pynq_backend_moves_images_through_the_iodmas(package):
    res = _run(package, "ok")
    assert res["pynq"] == "4.0.0" and res["numpy"].startswith("1."), res
    assert "error" not in res, res["error"]
    x = np.arange(32).reshape(2, 16) % 7
    sums = x.sum(axis=1) % 256
    want = np.zeros((2, 3))
    want[:, 0] = np.where(sums > 127, sums - 256, sums)  # INT8 codes read back as two's complement
    assert np.array_equal(res["outputs"], want)
    # output DMA armed first (so no beat is lost), then the input: address low/high, image count, start
    regs = [tuple(r) for r in res["registers"]]
    assert [(d, off) for d, off, _ in regs] == [("odma0", "0x10"), ("odma0", "0x14"), ("odma0", "0x1c"), ("odma0", "0x0"),
                                               ("idma0", "0x10"), ("idma0", "0x14"), ("idma0", "0x1c"), ("idma0", "0x0")]
    assert regs[2][2] == regs[6][2] == 2 and regs[3][2] == regs[7][2] == 1
    assert regs[1][2] == regs[5][2] == 0x1000  # the high half of a 64-bit buffer address
    assert res["buffers"] == 2 and ["flush", 0] in res["syncs"] and ["invalidate", 1] in res["syncs"]


def test_pynq_backend_times_out_instead_of_waiting_forever(package):
    res = _run(package, "hang")
    assert res["error"].startswith("DriverTimeout: the accelerator gave no result for 2 images within 0.5 s")
