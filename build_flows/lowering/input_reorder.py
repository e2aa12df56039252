"""The input's reorder goes to the host: when the graph input passes a quantizer whose thresholds are the
same for every channel (a per-tensor input quantizer) and then a reorder (NCHW -> NHWC for the first
convolution), the two commute, so the reorder moves in front and, leading the graph, becomes the host
driver's job (:func:`build_flows.sim.accelerator.split_host_steps`). In hardware the reorder could fold only
by the common divisor of both last axes (1 for a 3 x 32 x 32 image: 3,072 cycles per image, every folding);
the thresholds then fold along the channels-last stream."""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation


def _uniform_rows(thresholds: np.ndarray) -> bool:
    return thresholds.ndim == 2 and bool(np.all(thresholds == thresholds[:1]))


class ReorderInputFirst(Transformation):
    """Swap graph input -> Thresholding -> StreamLayout into graph input -> StreamLayout -> Thresholding when
    the Thresholding's rows are all equal, the reorder keeps every element and is its only consumer. The
    thresholds get one (equal) row per channel of the reordered stream."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        source = model.graph.input[0].name
        for thr_node in model.find_consumers(source) or []:
            if not thr_node.op_type.startswith("Thresholding"):
                continue
            consumers = model.find_consumers(thr_node.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type != "StreamLayout":
                continue
            layout = consumers[0]
            linst = getCustomOp(layout)
            if len(linst.get_nodeattr("gather")) != int(np.prod(linst.get_nodeattr("in_shape"))):
                continue  # a selection
            thresholds = model.get_initializer(thr_node.input[1])
            if thresholds is None or not _uniform_rows(thresholds):
                continue
            tinst = getCustomOp(thr_node)
            idt = model.get_tensor_datatype(source)
            odt = model.get_tensor_datatype(thr_node.output[0])
            out_shape = list(linst.get_nodeattr("out_shape"))
            between, result = thr_node.output[0], layout.output[0]
            layout.input[0], layout.output[0] = source, between
            thr_node.input[0], thr_node.output[0] = between, result
            model.set_tensor_shape(between, out_shape)
            model.set_tensor_datatype(between, idt)
            model.set_tensor_datatype(result, odt)
            linst.set_nodeattr("inputDataType", idt.name)
            linst.set_nodeattr("outputDataType", idt.name)
            tinst.set_nodeattr("NumChannels", out_shape[-1])
            tinst.set_nodeattr("numInputVectors", out_shape[:-1])
            tinst.set_nodeattr("PE", 1)
            model.set_initializer(thr_node.input[1], np.repeat(thresholds[:1], out_shape[-1], axis=0))
            return model, False  # one graph input: nothing else to swap (the caller sorts the graph)
        return model, False
