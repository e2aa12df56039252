"""Export to QONNX (Brevitas TorchScript path) and verification against torch.

``export_model`` writes a cleaned QONNX file and checks that QONNX execution reproduces the torch
model on sample inputs: identical argmax on every sample and the max absolute logit difference.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

LOGIT_TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """Export or verification failed; the message names the cause and the fix."""


@dataclass
class ExportReport:
    """What ``export_model`` wrote and how well QONNX reproduced torch."""

    path: str
    input_shape: tuple
    nodes: int
    op_types: dict
    samples: int
    argmax_agree: int
    max_abs_diff: float
    seconds: float

    @property
    def ok(self) -> bool:
        return self.argmax_agree == self.samples and self.max_abs_diff < LOGIT_TOLERANCE

    def to_dict(self):
        return {**asdict(self), "ok": self.ok}


def model_input_shape(model: torch.nn.Module) -> tuple:
    """(1, C, H, W) from a registry model's config."""
    cfg = getattr(model, "cfg", None)
    if cfg is None:
        raise ExportError("the model has no .cfg with img_size/in_chans; pass input_shape explicitly")
    return (1, cfg.in_chans, cfg.img_size, cfg.img_size)


def check_input(model: torch.nn.Module, x: torch.Tensor) -> None:
    """Raise ValueError when ``x`` is not a float batch of the model's input shape."""
    want = model_input_shape(model)[1:]
    if x.dim() != 4 or tuple(x.shape[1:]) != want:
        raise ValueError(f"input shape {tuple(x.shape)} does not fit the model, which expects [N, {', '.join(map(str, want))}]; "
                         "resize the images or build the model with img_size/in_chans overrides")
    if not torch.is_floating_point(x):
        raise ValueError(f"input dtype {x.dtype} is not floating point; normalise images to float32 first")


def op_types(onnx_model) -> dict:
    """Op type -> count of a ModelWrapper or ModelProto."""
    graph = onnx_model.graph
    counts: dict[str, int] = {}
    for node in graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))


def to_qonnx(model: torch.nn.Module, path: str | Path, input_shape: tuple | None = None):
    """Export ``model`` (in eval mode) to a cleaned QONNX file at ``path``; returns the ModelWrapper."""
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    model.eval()
    shape = tuple(input_shape or model_input_shape(model))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Path(tmp) / "raw.onnx"
        try:
            export_qonnx(model, args=torch.zeros(shape), export_path=str(raw), dynamo=False)
        except Exception as e:  # noqa: BLE001 - re-raised with the cause named
            raise ExportError(f"Brevitas could not export the model ({type(e).__name__}: {e}). "
                              "Check that every layer is a Brevitas or exportable torch layer.") from e
        qmodel = _fold_constants(ModelWrapper(str(raw)))
        qmodel = cleanup_model(qmodel)
    qmodel.save(str(path))
    return qmodel


def _foldable(model, node) -> bool:
    if node.op_type in ("Quant", "BipolarQuant"):
        return False
    if node.op_type == "Shape":  # fold only shapes that inference really knows (0 marks unknown)
        shape = model.get_tensor_shape(node.input[0])
        return shape is not None and 0 not in shape
    return True


def _fold_constants(model):
    """Fold constant subgraphs (shape arithmetic, parameter preprocessing) of a raw export.

    qonnx's FoldConstants folds one node per pass with shape inference in between, which takes
    minutes on a ViT; the filtered variant folds every constant chain in one topological pass.
    The exporter cannot see through our custom ops or computed paddings and records unknown shapes
    as zeros, so intermediate shapes are dropped and re-inferred after each pass, and shapes are
    folded only once known.
    """
    from qonnx.transformation.fold_constants import FoldConstantsFiltered
    from qonnx.transformation.infer_shapes import InferShapes

    for _ in range(8):
        before = len(model.graph.node)
        del model.graph.value_info[:]
        model = model.transform(InferShapes())
        model = model.transform(FoldConstantsFiltered(_foldable))
        if len(model.graph.node) == before:
            break
    return model


def with_pixel_input(qmodel, mean: tuple | None = None, std: tuple | None = None):
    """``qmodel`` (a ModelWrapper) taking raw 8-bit pixels: its input is annotated UINT8 and feeds
    ``x / 255`` and, with ``mean``/``std`` (per channel, in [0, 1]), ``(x / 255 - mean) / std``, the same float32
    operations as the training data pipeline (``quant_models.train.to_unit_float`` and ``standardise``), so the
    result equals the model on those pixels. Gives a new ModelWrapper."""
    from onnx import TensorProto, helper
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.basic import qonnx_make_model

    graph = qmodel.graph
    old = graph.input[0].name
    shape = qmodel.get_tensor_shape(old)
    pixels = "pixels_uint8"
    nodes, inits, x = [], [], pixels
    steps = [("Div", np.float32(255.0))]
    if mean is not None:
        c = shape[1]
        view = (1, c, 1, 1)
        steps += [("Sub", np.broadcast_to(np.asarray(mean, np.float32), (c,)).reshape(view)),
                  ("Div", np.broadcast_to(np.asarray(std, np.float32), (c,)).reshape(view))]
    for k, (op, c) in enumerate(steps):
        cname, out = f"pixel_pre_{k}_param", (old if k == len(steps) - 1 else f"pixel_pre_{k}_out")
        inits.append(helper.make_tensor(cname, TensorProto.FLOAT, list(np.shape(c)), np.asarray(c).ravel().tolist()))
        nodes.append(helper.make_node(op, [x, cname], [out], name=f"PixelPre_{k}"))
        x = out
    new_graph = helper.make_graph(nodes + list(graph.node), graph.name,
                                  [helper.make_tensor_value_info(pixels, TensorProto.FLOAT, shape)],
                                  list(graph.output), initializer=inits + list(graph.initializer),
                                  value_info=list(graph.value_info) + [graph.input[0]])
    new_graph.quantization_annotation.extend(graph.quantization_annotation)  # qonnx datatype annotations
    out = ModelWrapper(qonnx_make_model(new_graph, opset_imports=list(qmodel.model.opset_import)))
    for prop in qmodel.model.metadata_props:
        out.set_metadata_prop(prop.key, prop.value)
    out.set_tensor_datatype(pixels, DataType["UINT8"])
    return out.transform(InferShapes())


BATCH = 64  # samples per QONNX execution: execute_onnx builds an onnxruntime session per node and call


def qonnx_forward(qmodel, x: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """Run a QONNX model (exported with batch 1) on the samples ``x`` [N, ...]; returns stacked outputs.

    Executing per sample costs about a second on a ViT (a session per node), so the graph is re-batched
    with qonnx's ChangeBatchSize, ``batch`` samples per call. The first and last samples are also run alone
    and must give the same outputs; a graph that does not re-batch (a Reshape whose first dimension is not the batch)
    runs one sample at a time instead."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.change_batchsize import ChangeBatchSize
    from qonnx.transformation.infer_shapes import InferShapes

    iname, oname = qmodel.graph.input[0].name, qmodel.graph.output[0].name
    x = np.asarray(x, dtype=np.float32)

    def run(model, xs):
        return execute_onnx(model, {iname: xs})[oname]

    first = run(qmodel, x[:1])
    if len(x) == 1:
        return first
    outs, batched = [], {}
    try:
        for i in range(0, len(x), batch):
            xs = x[i: i + batch]
            if len(xs) not in batched:
                copy = ModelWrapper(qmodel.model.__deepcopy__())
                batched[len(xs)] = copy.transform(ChangeBatchSize(len(xs))).transform(InferShapes())
            outs.append(run(batched[len(xs)], xs).reshape(len(xs), *first.shape[1:]))
        out = np.concatenate(outs, axis=0)
        if np.array_equal(out[:1], first) and np.array_equal(out[-1:], run(qmodel, x[-1:])):
            return out
    except Exception:  # noqa: BLE001 - any failure of the re-batched graph means: run per sample
        pass
    return np.concatenate([first] + [run(qmodel, x[i: i + 1]) for i in range(1, len(x))], axis=0)


def export_model(model: torch.nn.Module, path: str | Path, samples: torch.Tensor | int = 8, seed: int = 0,
                 input_shape: tuple | None = None) -> ExportReport:
    """Export ``model`` to QONNX at ``path`` and verify it against torch.

    ``samples`` is a float batch [N, C, H, W] (e.g. real images) or a count of random inputs.
    Raises ``ExportError`` when QONNX does not reproduce torch (argmax differs or logits differ by
    ``LOGIT_TOLERANCE`` or more); the file is still written so it can be inspected.
    """
    start = time.time()
    model.eval()
    shape = tuple(input_shape or model_input_shape(model))
    if isinstance(samples, int):
        samples = torch.randn((samples, *shape[1:]), generator=torch.Generator().manual_seed(seed))
    check_input(model, samples)
    qmodel = to_qonnx(model, path, shape)
    with torch.no_grad():
        ref = model(samples).numpy()
    got = qonnx_forward(qmodel, samples.numpy())
    report = ExportReport(
        path=str(path), input_shape=shape, nodes=len(qmodel.graph.node), op_types=op_types(qmodel),
        samples=int(samples.shape[0]), argmax_agree=int((ref.argmax(1) == got.argmax(1)).sum()),
        max_abs_diff=float(np.abs(ref - got).max()), seconds=round(time.time() - start, 2),
    )
    if not report.ok:
        raise ExportError(f"QONNX execution of {path} does not reproduce torch: argmax agrees on "
                          f"{report.argmax_agree}/{report.samples} samples, max |logit diff| = {report.max_abs_diff:.3g} "
                          f"(tolerance {LOGIT_TOLERANCE}). Usually an exact tie at a binarizer; see README 'Exactness'.")
    return report
