"""A per-channel requantiser between two reorders that move its channel axis last and back (per-head
constants on attention scores: NCHW -> NHWC -> ChannelRequant -> NCHW) works on the stream as it is: the
``ChannelRequant`` takes the channel as an outer axis (``inner`` elements per channel) and both reorders go.
The reorders held a whole tensor each; the requantiser then also folds along the whole tensor, not just
the channels."""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


def channel_last_split(in_shape: list[int], gather: np.ndarray, channels: int) -> int | None:
    """``inner`` when ``gather`` moves an axis of ``channels`` entries of ``in_shape`` to the end (the flat
    input viewed as (outer, channels, inner) and read as (outer, inner, channels)); None otherwise."""
    size = int(np.prod(in_shape))
    if gather.size != size:
        return None
    for k, dim in enumerate(in_shape):
        inner = int(np.prod(in_shape[k + 1:], dtype=np.int64))
        if dim == channels and inner > 1:
            moved = np.arange(size).reshape(-1, channels, inner).transpose(0, 2, 1).ravel()
            if np.array_equal(gather, moved):
                return inner
    return None


class RequantOnOuterChannels(Transformation):
    """Replace StreamLayout -> ChannelRequant -> StreamLayout, where the first reorder moves the channel axis
    last, the second restores the first's input order and each tensor between has one consumer, by one
    ChannelRequant with ``inner`` set. One replacement per :meth:`apply` (``model.transform`` repeats)."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in list(model.graph.node):
            if node.op_type != "ChannelRequant":
                continue
            before = model.find_producer(node.input[0])
            after = model.find_consumers(node.output[0]) or []
            if before is None or before.op_type != "StreamLayout" or len(after) != 1 or \
                    after[0].op_type != "StreamLayout" or len(model.find_consumers(before.output[0]) or []) != 1:
                continue
            after = after[0]
            inst, first, second = getCustomOp(node), getCustomOp(before), getCustomOp(after)
            channels = int(inst.get_normal_input_shape()[-1])
            mult, add = list(inst.get_nodeattr("mult")), list(inst.get_nodeattr("add"))
            if inst.get_nodeattr("inner") != 1 or len(mult) not in (1, channels) or len(add) not in (1, channels):
                continue
            in_shape = [int(d) for d in first.get_nodeattr("in_shape")]
            g1 = np.asarray(first.get_nodeattr("gather"), dtype=np.int64)
            g2 = np.asarray(second.get_nodeattr("gather"), dtype=np.int64)
            inner = channel_last_split(in_shape, g1, channels)
            if inner is None or g2.size != g1.size or not np.array_equal(g1[g2], np.arange(g1.size)) or \
                    [int(d) for d in second.get_nodeattr("out_shape")] != in_shape:
                continue
            inst.set_nodeattr("mult", [int(m) for m in np.broadcast_to(mult, channels)])
            inst.set_nodeattr("add", [int(a) for a in np.broadcast_to(add, channels)])
            inst.set_nodeattr("inner", inner)
            inst.set_nodeattr("in_shape", in_shape)
            inst.set_nodeattr("out_shape", in_shape)
            node.input[0] = before.input[0]
            node.output[0] = after.output[0]
            model.graph.node.remove(before)
            model.graph.node.remove(after)
            return model, True
        return model, False
