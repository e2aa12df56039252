"""``qvit build``: plain ordered lists of named steps (as FINN's ``default_build_dataflow_steps`` and
``estimate_only_dataflow_steps``), each ``step(model, ctx) -> model`` leaving an ONNX checkpoint in
``DIR/checkpoints``; ``--until`` cuts the list. A re-run resumes after the last good step, and a failed
step leaves every earlier result in place.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
import warnings
from pathlib import Path

from build_flows.boards import Board, get_board
from build_flows.build import checkpoints, steps_dataflow, steps_frontend, steps_rtl  # noqa: F401  (register the steps)
from build_flows.build.context import STEP_FUNCTIONS, BuildContext, BuildError, FifosOverBudget
from build_flows.build.report import BuildReport
from build_flows.build.steps_vivado import VIVADO_STEPS
from build_flows.config import BuildConfig
from build_flows.finn_env import VivadoRequiredError, prepare_finn, vivado_available

#: from a model to estimates: everything that runs without RTL tools
ESTIMATE_STEPS = ["export", "tidy_up", "lower_to_hw", "validate_hw", "verify_python", "dataflow_partition",
                  "specialize_layers", "folding", "minimize_bit_width", "estimates"]
#: the RTL checked without vendor tools: Verilator simulation, yosys counts
RTL_STEPS = ["sim", "yosys"]
#: the whole flow; ``--until STEP`` runs it up to STEP
DEFAULT_STEPS = ESTIMATE_STEPS + RTL_STEPS + VIVADO_STEPS


def default_until() -> str:
    """The last step that can run here: the last Vivado-free step when Vivado is absent."""
    return DEFAULT_STEPS[-1] if vivado_available() else ESTIMATE_STEPS[-1]  # `--until sim` adds the RTL simulation


def _finn_config(cfg: BuildConfig, board: Board, out: Path):
    import finn.builder.build_dataflow_config as bc

    return bc.DataflowBuildConfig(
        output_dir=str(out / "finn"), synth_clk_period_ns=1000.0 / cfg.clock, board=board.finn_name,
        fpga_part=board.part, target_fps=int(cfg.target_fps) if isinstance(cfg.target_fps, float) else None,
        folding_config_file=cfg.folding_file, mvau_wwidth_max=cfg.mvau_wwidth_max,
        generate_outputs=[bc.DataflowOutputType.ESTIMATE_REPORTS], enable_build_pdb_debug=False, verbose=False,
        shell_flow_type=bc.ShellFlowType.VIVADO_ZYNQ)


def _write_json(path: Path, obj) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


FINN_LOG = "finn.log"  # FINN's own log lines (datatype changes, float nodes at the graph's ends), per build


@contextlib.contextmanager
def finn_log_in(path: Path):
    """Send FINN's logger (``finn_logger``: its notices during datatype inference and partitioning) to ``path``
    instead of the console, for the duration of a step; the build's own progress lines stay on the console."""
    finn_log = logging.getLogger("finn_logger")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    propagate = finn_log.propagate
    finn_log.addHandler(handler)
    finn_log.propagate = False
    try:
        yield
    finally:
        finn_log.removeHandler(handler)
        finn_log.propagate = propagate
        handler.close()


def build(cfg: BuildConfig, log=print, rerun: tuple[str, ...] = ()) -> BuildReport:
    """Run (or resume) the build; returns the report (also in ``DIR/report.json``). Steps named in
    ``rerun`` run again even when done (`qvit sim` re-simulates an existing build)."""

    until = cfg.until or default_until()
    if until not in DEFAULT_STEPS:
        raise ValueError(f"unknown step {until!r} for --until; steps: {', '.join(DEFAULT_STEPS)}")
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a directory: give a directory for the build")
    if out.is_dir() and any(out.iterdir()) and not (out / "build_state.json").exists() and not cfg.force:
        raise ValueError(f"--out {out} is not empty and holds no qvit build: choose a new or empty directory, or add "
                         "--force to build into it (files of the same names are overwritten)")
    try:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ValueError(f"--out {out}: cannot make the build directory ({e.strerror}); choose another --out") from None
    prepare_finn(out / "finn_tmp")
    board = get_board(cfg.board)
    state_path = out / "build_state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    if state and state["fingerprint"] != cfg.fingerprint():
        raise ValueError(f"{out} holds a build of a different configuration or of different file contents (the model "
                         "file, checkpoint or folding file changed since): choose another --out or delete it")
    if not state:
        state = {"fingerprint": cfg.fingerprint(), "steps": [], "report": {}}
        cfg.save(out / "build_config.yaml")
    report = BuildReport.from_dict(state["report"])
    report.board, report.part, report.clock_mhz, report.target_fps = board.name, board.part, cfg.clock, cfg.target_fps
    ctx = BuildContext(cfg=cfg, board=board, dir=out, finn_cfg=_finn_config(cfg, board, out), report=report)
    done = _done_steps(state) - set(rerun)
    stop = DEFAULT_STEPS.index(until)
    for attempt in range(1, MAX_FIFO_REFOLDS + 2):
        try:
            _run_steps(DEFAULT_STEPS[: stop + 1], done, out, ctx, state, log)
            break
        except FifosOverBudget as e:
            if cfg.target_fps != "max" or cfg.folding_file or attempt > MAX_FIFO_REFOLDS:
                raise BuildError(f"step 'sim' failed: {e}") from e
            old = ctx.fifo_reserve or {}
            ctx.fifo_reserve = {k: max(v, old.get(k, 0)) for k, v in e.fifos.items()}
            log(f"{e.args[0].split('. ')[0]}; folding again with {ctx.fifo_reserve['LUT']:,} LUT and "
                f"{ctx.fifo_reserve['BRAM']:,} BRAM18 kept for the FIFOs")
            done = {n for n in _done_steps(state) if DEFAULT_STEPS.index(n) < DEFAULT_STEPS.index("folding")}
    if stop < len(DEFAULT_STEPS) - 1 and not cfg.until:
        nxt = DEFAULT_STEPS[stop + 1]
        sim = "; `--until sim` simulates the accelerator in Verilator (layers all in RTL)" if nxt == "sim" else ""
        log(f"stopped after '{until}'{sim}; the step '{VIVADO_STEPS[0]}' and those after it need Vivado")
    return ctx.report


def _done_steps(state: dict) -> set[str]:
    return {s["name"] for s in state["steps"] if s["status"] == "done"}


#: folding searches again at most this often when ``--target-fps max``'s design is over budget with its sized FIFOs
MAX_FIFO_REFOLDS = 3


def _run_steps(steps: list[str], done: set[str], out: Path, ctx: BuildContext, state: dict, log) -> None:
    """Run ``steps`` in order, skipping those in ``done`` whose checkpoint exists (the model loads from the last
    good checkpoint); each step's status goes into ``state`` and the report after it runs. A failing step raises
    BuildError (FifosOverBudget as it is, for the runner to fold again)."""
    model = None
    for i, name in enumerate(steps):
        ckpt = out / "checkpoints" / f"{i:02d}_{name}.onnx"
        if name in done and ckpt.exists():
            model = None  # loaded lazily from the last good checkpoint
            last_ckpt = ckpt
            continue
        if model is None and i > 0:
            model = checkpoints.load(last_ckpt)
            log(f"resuming after step '{DEFAULT_STEPS[i - 1]}' ({last_ckpt.name})")
        log(f"[{i + 1}/{len(steps)}] {name} ...")
        start = time.time()
        # FINN's and qonnx's passes name new tensors with python's random: seeded per step, identical builds in two
        # directories (or a build resumed) name them alike
        random.seed(f"{state['fingerprint']}:{name}")
        try:
            with warnings.catch_warnings(), finn_log_in(out / FINN_LOG):
                warnings.simplefilter("ignore")
                model = STEP_FUNCTIONS[name](model, ctx)
        except Exception as e:
            seconds = round(time.time() - start, 2)
            state["steps"] = [s for s in state["steps"] if s["name"] != name] + [
                {"name": name, "status": "failed", "seconds": seconds, "error": str(e)}]
            _finish(out, ctx, state)
            if isinstance(e, FifosOverBudget):
                raise
            if isinstance(e, VivadoRequiredError):  # it names the step itself
                raise BuildError(str(e)) from e
            if isinstance(e, (BuildError, ValueError)) or type(e).__name__ == "UnmappedNodesError":
                raise BuildError(f"step '{name}' failed: {e}") from e
            raise BuildError(f"step '{name}' failed ({type(e).__name__}: {e}); earlier steps are kept in {out}/checkpoints "
                             "and the build resumes from them") from e
        checkpoints.save(model, ckpt, out)
        last_ckpt = ckpt
        state["steps"] = [s for s in state["steps"] if s["name"] != name] + [
            {"name": name, "status": "done", "seconds": round(time.time() - start, 2)}]
        _finish(out, ctx, state)


def _finish(out: Path, ctx: BuildContext, state: dict) -> None:
    ctx.report.steps = state["steps"]
    state["report"] = ctx.report.to_dict()
    _write_json(out / "build_state.json", state)
    _write_json(out / "report.json", state["report"])
