"""Build steps from a model to a verified graph of hardware layers: export, tidy-up, the exact
lowering, validation (every node in hardware) and python verification against QONNX."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from build_flows.build.context import BuildContext, BuildError, build_step

UNMAPPED_KEY = "qvit_unmapped_reasons"  # model metadata: {output tensor: reason} from the lowering
FINN_FALLBACK_KEY = "qvit_finn_fallback"  # model metadata: the nodes FINN's conversion mapped, from the lowering


@build_step("export")
def step_export(model, ctx: BuildContext):
    """Load a QONNX file, or export a registered model (given/shipped checkpoint, else random weights)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    src = ctx.cfg.model
    if src.endswith(".onnx"):
        path = Path(src)
        if not path.exists():
            raise BuildError(f"model file {path} does not exist; pass a QONNX file or a name from `qvit models`")
        try:
            model = ModelWrapper(str(path))
            model = cleanup_model(model)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
            raise BuildError(f"{path} is not a readable ONNX/QONNX file ({type(e).__name__}: {e}); "
                             "export it with `qvit export` or Brevitas' export_qonnx") from e
        ctx.report.model = path.name
        return _pixel_input(model, ctx, None)
    from build_flows.build.report import checkpoint_line
    from quant_models import create_model, load_checkpoint
    from quant_models.checkpoint import find_shipped_checkpoint, read_checkpoint
    from quant_models.export import export_model

    ckpt = ctx.cfg.checkpoint or find_shipped_checkpoint(src, ctx.cfg.model_overrides)
    if ckpt:
        net = load_checkpoint(ckpt, name=src, **ctx.cfg.model_overrides)
        ctx.report.checkpoint = str(ckpt)
        meta = read_checkpoint(ckpt)
        why = ("given by --checkpoint" if ctx.cfg.checkpoint else
               "the first shipped checkpoint of this model whose config agrees with the overrides (--set)")
        ctx.report.checkpoint_info = {"path": str(ckpt), "dataset": meta.get("dataset"),
                                      "test_top1": meta.get("test_top1"), "why": why}
        print(f"checkpoint: {ckpt} ({why}); {checkpoint_line(ctx.report.checkpoint_info)}", flush=True)
    else:
        net = create_model(src, **ctx.cfg.model_overrides)
        print(f"warning: no checkpoint for {src}: building it with random weights", file=sys.stderr)
    tmp = ctx.dir / "model.onnx"
    rep = export_model(net, tmp, samples=2, seed=ctx.cfg.seed)
    ctx.report.model = src
    ctx.report.verification["torch_vs_qonnx"] = {
        "vectors": rep.samples, "max_abs_diff": rep.max_abs_diff, "argmax_agree": rep.argmax_agree}
    return _pixel_input(ModelWrapper(str(tmp)), ctx, net)


def _pixel_input(model, ctx: BuildContext, net):
    """With ``--pixels uint8``: the model behind its pixel pre-processing (``with_pixel_input``): x / 255, then
    for a checkpoint of ours its dataset's standardisation; a QONNX file must take values in [0, 1]."""
    if ctx.cfg.pixels != "uint8":
        return model
    from quant_models.checkpoint import read_checkpoint
    from quant_models.data import standard_stats
    from quant_models.export import with_pixel_input

    mean = std = None
    if ctx.report.checkpoint:
        dataset = read_checkpoint(ctx.report.checkpoint).get("dataset")
        try:
            mean, std = standard_stats(dataset)
        except ValueError as e:
            raise BuildError(f"--pixels uint8: {e}; build with --pixels float") from e
    elif net is not None:
        raise BuildError("--pixels uint8 needs a checkpoint (its dataset gives the standardisation); a model with "
                         "random weights takes standardised floats: build with --pixels float")
    ctx.report.input = {"pixels": "uint8", "preprocessing": "(x / 255 - mean) / std" if mean else "x / 255",
                        "mean": mean, "std": std}
    return with_pixel_input(model, mean, std)


@build_step("tidy_up")
def step_tidy_up(model, ctx: BuildContext):
    """Shapes, datatypes and constant folding (qonnx), so every tensor has a known shape."""
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes

    return model.transform(InferShapes()).transform(FoldConstants()).transform(InferDataTypes())


@build_step("lower_to_hw")
def step_lower_to_hw(model, ctx: BuildContext):
    """Streamline and convert in one exact pass (:mod:`build_flows.lowering`): quantizers with the
    float operations before them become thresholds, linear layers become MVAUs, the transformer's
    other nodes become our layers; reorders compose, those only around a per-channel requantiser go
    (:mod:`build_flows.lowering.outer_channels`), the input's reorder moves to the host
    (:mod:`build_flows.lowering.input_reorder`); forks get FINN's DuplicateStreams. The reasons
    for nodes that did not map travel in the graph's metadata to ``validate_hw``."""
    from finn.transformation.fpgadataflow.convert_to_hw.duplicate_streams import InferDuplicateStreamsLayer
    from qonnx.transformation.general import SortGraph

    from build_flows.lowering import ComposeLayouts, ReorderInputFirst, RequantOnOuterChannels, lower_to_hw

    finn_mapped = []
    hw, unmapped = lower_to_hw(model, finn_mapped)
    hw = hw.transform(ComposeLayouts()).transform(RequantOnOuterChannels()).transform(ReorderInputFirst())
    hw = hw.transform(InferDuplicateStreamsLayer()).transform(SortGraph())
    reasons = {u["output"]: u["reason"] + (f" (FINN's streamlining and conversion: {u['finn']})" if u.get("finn") else "")
               for u in unmapped}
    hw.set_metadata_prop(UNMAPPED_KEY, json.dumps(reasons))
    hw.set_metadata_prop(FINN_FALLBACK_KEY, json.dumps(finn_mapped))
    if finn_mapped:
        print("FINN's streamlining and conversion mapped what no rule of ours did: " + ", ".join(
            f"{m['name']} ({m['op_type']}) -> {m['finn_layer']}" for m in finn_mapped))
    return hw


@build_step("validate_hw")
def step_validate_hw(model, ctx: BuildContext):
    """Fail, listing every node with its reason, unless every node is a hardware layer."""
    from build_flows.lowering.unmapped import UnmappedNodesError, unmapped_nodes

    unmapped = unmapped_nodes(model, json.loads(model.get_metadata_prop(UNMAPPED_KEY) or "{}"))
    total = len(model.graph.node)
    ctx.report.nodes_total, ctx.report.nodes_hw, ctx.report.unmapped = total, total - len(unmapped), unmapped
    ctx.report.finn_fallback = json.loads(model.get_metadata_prop(FINN_FALLBACK_KEY) or "[]") or None
    if unmapped:
        raise UnmappedNodesError(unmapped, total)
    return model


@build_step("verify_python")
def step_verify_python(model, ctx: BuildContext):
    """FINN's python execution of the hardware graph against QONNX execution of the export (bit-exact)."""
    from qonnx.core.onnx_exec import execute_onnx

    golden = ctx.golden()
    diffs = []
    for x in ctx.random_inputs(ctx.cfg.verify_vectors, ctx.cfg.seed):
        x = x[None]
        ref = execute_onnx(golden, {golden.graph.input[0].name: x})[golden.graph.output[0].name]
        got = execute_onnx(model, {model.graph.input[0].name: x})[model.graph.output[0].name]
        diffs.append(float(np.abs(ref.reshape(got.shape) - got).max()))
    result = {"vectors": len(diffs), "max_abs_diff": max(diffs), "bit_exact": max(diffs) == 0.0}
    ctx.report.verification["qonnx_vs_finn_python"] = result
    if not result["bit_exact"]:
        raise BuildError(f"FINN's python execution differs from QONNX by up to {result['max_abs_diff']:.3g} on "
                         f"{result['vectors']} vectors: a transformation changed the function (please report it).")
    return model
