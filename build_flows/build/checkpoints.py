"""Per-step checkpoints of a build: the graph after each step, with every path inside the build directory written
relative to it (``$QVIT_BUILD/...``), so that identical builds in two directories write identical files and a
build directory can be moved. :func:`save` writes one, :func:`load` reads one back with its paths made whole."""

from __future__ import annotations

from pathlib import Path

from onnx import AttributeProto

MARK = "$QVIT_BUILD"


def _rewrite(proto, old: str, new: str) -> None:
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.STRING and old.encode() in attr.s:
                attr.s = attr.s.replace(old.encode(), new.encode())
            elif attr.type == AttributeProto.STRINGS and any(old.encode() in s for s in attr.strings):
                values = [s.replace(old.encode(), new.encode()) for s in attr.strings]
                del attr.strings[:]
                attr.strings.extend(values)
    for prop in proto.metadata_props:
        prop.value = prop.value.replace(old, new)


def save(model, path: str | Path, build_dir: str | Path) -> None:
    """Write ``model`` to ``path`` with ``build_dir``'s absolute path replaced by :data:`MARK`."""
    copy = model.model.__deepcopy__()
    _rewrite(copy, str(Path(build_dir).resolve()), MARK)
    Path(path).write_bytes(copy.SerializeToString())


def load(path: str | Path):
    """A checkpoint of a build directory (``BUILD/checkpoints/NN_step.onnx``) with :data:`MARK` made that
    directory's absolute path again."""
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(path))
    _rewrite(model.model, MARK, str(Path(path).resolve().parent.parent))
    return model
