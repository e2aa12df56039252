"""Reorders compose: a ``StreamLayout`` merges into the one that feeds it, and one that ends up the
identity goes."""

from __future__ import annotations

import numpy as np
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from build_flows.layers import QVIT_DOMAIN


class ComposeLayouts(Transformation):
    """Merge each reorder into the reorder that feeds it when it is that one's only consumer, and
    drop reorders that end up as the identity (an NHWC round trip, a reshape back and forth). One
    merge or removal per :meth:`apply`; ``model.transform(ComposeLayouts())`` repeats it until none is left."""

    def apply(self, model: ModelWrapper) -> tuple[ModelWrapper, bool]:
        for node in list(model.graph.node):
            if node.op_type != "StreamLayout":
                continue
            inst = getCustomOp(node)
            gather = np.asarray(inst.get_nodeattr("gather"), dtype=np.int64)
            prod = model.find_producer(node.input[0])
            if prod is not None and prod.op_type == "StreamLayout" and len(model.find_consumers(prod.output[0])) == 1:
                pinst = getCustomOp(prod)
                inner = np.asarray(pinst.get_nodeattr("gather"), dtype=np.int64)
                inst.set_nodeattr("gather", [int(i) for i in inner[gather]])
                inst.set_nodeattr("in_shape", pinst.get_nodeattr("in_shape"))
                node.input[0] = prod.input[0]
                model.graph.node.remove(prod)
                return model, True
            same_shape = list(inst.get_nodeattr("in_shape")) == list(inst.get_nodeattr("out_shape"))
            consumers = model.find_consumers(node.output[0]) or []
            reshapes_input = all(c.domain == QVIT_DOMAIN or c.op_type == "MVAU" for c in consumers)
            keeps_all = gather.size == int(np.prod(inst.get_nodeattr("in_shape")))  # not a selection
            if keeps_all and np.array_equal(gather, np.arange(gather.size)) and (same_shape or (consumers and reshapes_input)):
                src, dst = node.input[0], node.output[0]
                is_output = dst in [o.name for o in model.graph.output]
                if is_output:
                    prod = model.find_producer(src)
                    if prod is None:
                        continue
                    prod.output[list(prod.output).index(src)] = dst
                    for c in model.find_consumers(src) or []:
                        if c is not node:
                            c.input[list(c.input).index(src)] = dst
                else:
                    for c in model.find_consumers(dst) or []:
                        for k, i in enumerate(c.input):
                            if i == dst:
                                c.input[k] = src
                model.graph.node.remove(node)
                return model, True
        return model, False
