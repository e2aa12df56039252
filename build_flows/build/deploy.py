"""``qvit deploy BUILD_DIR --out PKG``: a deployment package for the board (and for the simulated board).

The package holds the host driver (``qvit_driver/``, board-side: numpy and pynq only), ``driver.py`` and
``validate.py`` command lines, ``accelerator.json`` (FINN's io shape dictionary, the host steps around the
accelerator, the pre-processing of raw images), the bitfile and hwh when Vivado made them, the simulated board
(``sim/``: the stitched RTL the build simulated, for ``--backend sim``), sample inputs with their expected
outputs, a test-set sample for ``validate.py`` and a README.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from build_flows.build.context import BuildError

DRIVER_DIR = Path(__file__).resolve().parents[1] / "driver"
DRIVER_FILES = ("__init__.py", "accelerator.py", "backends.py", "cli.py", "datatypes.py", "host_steps.py", "packing.py")
MARKER = "accelerator.json"


def _sim_model(build_dir: Path):
    from build_flows.build import checkpoints
    from build_flows.build.runner import DEFAULT_STEPS

    state_path = build_dir / "build_state.json"
    if not state_path.exists():
        raise BuildError(f"{build_dir} is not a qvit build directory (no build_state.json): give the --out of `qvit build`")
    done = {s["name"] for s in json.loads(state_path.read_text())["steps"] if s["status"] == "done"}
    if "sim" not in done:
        raise BuildError(f"the build in {build_dir} has not run its 'sim' step (the simulated accelerator the package "
                         f"carries, and the check that its RTL is bit-exact): run `qvit build ... --out {build_dir} "
                         "--until sim` first")
    return checkpoints.load(build_dir / "checkpoints" / f"{DEFAULT_STEPS.index('sim'):02d}_sim.onnx")


def _preprocess(cfg, report: dict) -> dict:
    """How raw uint8 images become the model's input, and the dataset's class names."""
    if cfg.pixels == "uint8":
        return {"kind": "uint8"}
    info = report.get("checkpoint_info") or {}
    dataset = info.get("dataset")
    if not dataset:
        return {"kind": "none", "why": "the model came from a QONNX file without a dataset: pre-process images "
                                       "yourself and call execute()"}
    from quant_models import data

    try:
        mean, std = data.standard_stats(dataset)
    except ValueError:  # a dataset without fixed statistics: the test set's, as the build's simulation used
        test = data.load(dataset, "test")
        mean, std = test.mean, test.std
    return {"kind": "standardise", "dataset": dataset, "mean": [float(m) for m in mean], "std": [float(s) for s in std]}


def describe(model, report: dict, cfg, design) -> dict:
    """``accelerator.json``: FINN's io shape dictionary of the accelerator core, the host steps, the pre-processing."""
    from qonnx.custom_op.registry import getCustomOp

    from build_flows.driver.host_steps import jsonable
    from build_flows.layers.finn_layers import layer_facts
    from build_flows.sim.accelerator import split_host_steps

    lead, core, trail = split_host_steps(model)
    by_name = {n.name: n for n in model.graph.node}
    first, last = (getCustomOp(by_name[design.stages[i].name]) for i in (design.first_stage, -1))
    ifold, ofold = first.get_folded_input_shape(0), last.get_folded_output_shape(0)
    ibytes = (design.in_per_beat * design.idt.bitwidth() + 7) // 8
    obytes = (design.out_per_beat * design.odt.bitwidth() + 7) // 8
    last_op = trail[-1].op_type if trail else core[-1].op_type
    return {
        "idt": [design.idt.name], "odt": [design.odt.name],
        "ishape_normal": [list(first.get_normal_input_shape(0))], "ishape_folded": [list(ifold)],
        "ishape_packed": [[1, int(np.prod(ifold[1:-1])), ibytes]],
        "oshape_normal": [list(last.get_normal_output_shape(0))], "oshape_folded": [list(ofold)],
        "oshape_packed": [[1, int(np.prod(ofold[1:-1])), obytes]],
        "input_dma_name": ["idma0"], "output_dma_name": ["odma0"], "number_of_external_weights": 0,
        "num_inputs": 1, "num_outputs": 1,
        "model_input_shape": list(model.get_tensor_shape(model.graph.input[0].name)),
        "host_before": [jsonable(layer_facts(n).host_spec(model)) for n in lead],
        "host_after": [jsonable(layer_facts(n).host_spec(model)) for n in trail],
        "outputs": "labels" if last_op == "TopKLabels" else "scores",
        "preprocess": _preprocess(cfg, report),
        "board": report.get("board"), "clock_mhz": report.get("clock_mhz"), "model": report.get("model"),
        "estimated_fps": (report.get("estimated") or {}).get("fps"),
        "simulated_cycles_per_image": (report.get("sim") or {}).get("cycles_per_image"),
    }


def _refuse_to_overwrite(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists() and not force:
        raise BuildError(f"{out} is not empty and not a qvit deployment package: choose another --out, or --force to "
                         "write into it")


def _samples(model, build_dir: Path, report: dict, acc_desc: dict, pkg: Path, n_images: int) -> dict:
    """samples/: the first test images of the dataset (uint8, labels) and, for the first few, the model inputs
    with the outputs the build's golden model gives (FINN's python execution of the same graph)."""
    from qonnx.core.onnx_exec import execute_onnx

    from build_flows.sim.accelerator import python_exec_copy

    out = pkg / "samples"
    out.mkdir(exist_ok=True)
    info = {}
    dataset = acc_desc["preprocess"].get("dataset")
    x = None
    if dataset and n_images:
        from quant_models import data

        try:
            test = data.load(dataset, "test").subset(slice(0, n_images))
        except data.DatasetNotFoundError as e:
            info["test_images"] = f"not included: {e}"
        else:
            np.savez_compressed(out / "test_images.npz", images=test.images, labels=test.labels)
            info["test_images"] = f"samples/test_images.npz: the first {len(test.labels)} {dataset} test images"
            from build_flows.driver.accelerator import Accelerator

            x = Accelerator(acc_desc, backend=None).preprocess(test.images[:8])
    if x is None:
        rng = np.random.default_rng(0)
        shape = (8, *acc_desc["model_input_shape"][1:])
        x = (rng.integers(0, 256, size=shape) if acc_desc["preprocess"]["kind"] == "uint8"
             else rng.standard_normal(shape)).astype(np.float32)
    py = python_exec_copy(model)
    name_in, name_out = py.graph.input[0].name, py.graph.output[0].name
    y = np.stack([execute_onnx(py, {name_in: xi[None]})[name_out].reshape(-1) for xi in x])
    np.save(out / "input.npy", x)
    np.save(out / "expected_output.npy", y)
    info["io"] = "samples/input.npy (model inputs) and samples/expected_output.npy (the golden model's outputs)"
    return info


def _bitfile(build_dir: Path, pkg: Path) -> list[str]:
    """The bitfile and hwh of FINN's synthesize_bitfile step, when Vivado made them."""
    found = sorted((build_dir / "finn" / "bitfile").glob("*.bit")) if (build_dir / "finn" / "bitfile").exists() else []
    if not found:
        return []
    (pkg / "bitfile").mkdir(exist_ok=True)
    shutil.copy(found[0], pkg / "bitfile" / "qvit.bit")
    copied = ["bitfile/qvit.bit"]
    hwh = found[0].with_suffix(".hwh")
    if hwh.exists():
        shutil.copy(hwh, pkg / "bitfile" / "qvit.hwh")
        copied.append("bitfile/qvit.hwh")
    return copied


def deploy(build_dir: str | Path, out: str | Path, force: bool = False, images: int = 100, log=print) -> dict:
    """Write the deployment package of ``build_dir`` to ``out``; gives what it wrote."""
    from build_flows.boards import get_board
    from build_flows.config import BuildConfig
    from build_flows.finn_env import prepare_finn
    from build_flows.sim.accelerator import export_simulated_board

    build_dir, pkg = Path(build_dir).resolve(), Path(out).resolve()
    _refuse_to_overwrite(pkg, force)
    prepare_finn(build_dir / "finn_tmp")
    model = _sim_model(build_dir)
    cfg = BuildConfig.load(build_dir / "build_config.yaml")
    report = json.loads((build_dir / "report.json").read_text())
    board = get_board(cfg.board)
    tmp = pkg.with_name(pkg.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"[1/4] simulated board: the stitched RTL of {build_dir.name} ...")
    sim = report.get("sim") or {}
    depths = list(((sim.get("fifo_sizing") or {}).get("depths") or sim.get("fifo_depths") or {}).values()) or None
    design = export_simulated_board(model, build_dir / "sim" / "rtl", tmp / "sim", board.part, cfg.clock, depths)
    log("[2/4] accelerator.json and the driver ...")
    desc = describe(model, report, cfg, design)
    (tmp / MARKER).write_text(json.dumps(desc, indent=1))
    (tmp / "qvit_driver").mkdir()
    for f in DRIVER_FILES:
        shutil.copy(DRIVER_DIR / f, tmp / "qvit_driver" / f)
    for script, fn in (("driver.py", "driver_main"), ("validate.py", "validate_main")):
        (tmp / script).write_text(f'"""{SCRIPT_DOCS[script]}"""\nimport sys\n\nfrom qvit_driver.cli import {fn}\n\n'
                                  f'if __name__ == "__main__":\n    sys.exit({fn}())\n')
    log(f"[3/4] samples: up to {images} test images and the golden model's outputs ...")
    samples = _samples(model, build_dir, report, desc, tmp, images)
    bit = _bitfile(build_dir, tmp)
    log("[4/4] README ...")
    (tmp / "README.md").write_text(package_readme(desc, report, bit, samples))
    if pkg.exists():
        shutil.rmtree(pkg)
    tmp.replace(pkg)
    files = sorted(str(p.relative_to(pkg)) for p in pkg.rglob("*") if p.is_file())
    return {"package": str(pkg), "files": files, "bitfile": bool(bit)}


SCRIPT_DOCS = {
    "driver.py": "Run the accelerator on an input file, or measure its throughput (FINN's driver options); "
                 "see README.md.",
    "validate.py": "Top-1 accuracy of the accelerator on a dataset file (images, labels); see README.md.",
}


def package_readme(desc: dict, report: dict, bitfile: list[str], samples: dict) -> str:
    """The package's README: what is in it and the commands to run on the board and on a development machine."""
    pre = desc["preprocess"]
    pre_text = {"uint8": "raw 8-bit pixels (the accelerator's first layer standardises them)",
                "standardise": f"x / 255, then the {pre.get('dataset')} standardisation, in float32",
                "none": pre.get("why", "")}[pre["kind"]]
    board_note = ("" if bitfile else "\n**No bitfile**: this build ran without Vivado (its 'synthesize_bitfile' step "
                  "needs it). Everything else is here; run the simulated board (`--backend sim`) on a development "
                  "machine, or rebuild with Vivado and deploy again.\n")
    return f"""# qvit-fpga deployment package: {desc['model']} on {desc['board']}

Accelerator input: {desc['idt'][0]} {desc['ishape_normal'][0]} (folded {desc['ishape_folded'][0]}, packed
{desc['ishape_packed'][0]} bytes per image); output: {desc['odt'][0]} {desc['oshape_normal'][0]}. Clock
{desc['clock_mhz']} MHz; estimated {desc['estimated_fps'] or 0:,.0f} images/s; simulated
{desc['simulated_cycles_per_image'] or 0:,.0f} cycles per image. Pre-processing of raw images: {pre_text}.
{board_note}
## On the board (PYNQ image)
Copy this directory to the board, then (as root, as PYNQ needs):

    python3 driver.py --exec_mode throughput_test --batchsize 100
    python3 driver.py --exec_mode execute --inputfile samples/input.npy --outputfile output.npy
    python3 validate.py --dataset samples/test_images.npz

`output.npy` should equal `samples/expected_output.npy`. `--timeout S` (default 10) bounds the wait for a batch:
the driver stops with an error instead of waiting forever on a DMA that never completes.

From Python:

    from qvit_driver import Accelerator
    acc = Accelerator.from_package(".")           # loads bitfile/qvit.bit
    top1, scores = acc.classify(images)           # uint8 [n, H, W, C]
    outputs = acc.execute(inputs)                 # model inputs [n, C, H, W]

## On a development machine (the simulated board)
With qvit-fpga installed, the same driver runs on the Verilator model of the same accelerator:

    python3 validate.py --backend sim --dataset samples/test_images.npz
    python3 driver.py --backend sim --exec_mode execute --inputfile samples/input.npy

## Files
- `accelerator.json`: shapes and datatypes (FINN's conventions), host steps, pre-processing
- `qvit_driver/`: the driver (numpy; pynq on the board)
- `sim/`: the simulated board (stitched RTL, FIFO depths as simulated)
- `samples/`: {'; '.join(samples.values())}
{''.join(f'- `{b}`' + chr(10) for b in bitfile)}"""
