"""qonnx custom ops for the nodes in domain ``quant_models.custom_ops``.

qonnx resolves a node's domain to this module and looks its op type up in ``custom_op``; the
python execution calls the one definition in :mod:`quant_models.int_ops`.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.datatype import DataType
from qonnx.custom_op.base import CustomOp

from quant_models.int_ops import int_softmax, mlgru_scan


class IntSoftmax(CustomOp):
    """Quantized softmax over the last axis. Inputs: x (scores on a quantizer grid), scale.
    Output: unsigned ``out_bits`` probabilities on the grid k / 2**out_bits."""

    def get_nodeattr_types(self):
        return {"out_bits": ("i", True, 4), "mask_diagonal": ("i", False, 0)}

    def make_shape_compatible_op(self, model):
        return helper.make_node("Identity", [self.onnx_node.input[0]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        context[node.output[0]] = int_softmax(
            context[node.input[0]],
            context[node.input[1]],
            self.get_nodeattr("out_bits"),
            bool(self.get_nodeattr("mask_diagonal")),
        )

    def verify_node(self):
        return [] if len(self.onnx_node.input) == 2 else ["IntSoftmax needs inputs (x, scale)"]


class MLGRU(CustomOp):
    """MLGRU token recurrence. Inputs: f [B, T, C] (gate on the grid k / 2**f_bits),
    c [B, T, C] (candidate on the grid c_scale * integer), c_scale. Output: h [B, T, C] on c's grid."""

    def get_nodeattr_types(self):
        return {"f_bits": ("i", True, 4)}

    def make_shape_compatible_op(self, model):
        return helper.make_node("Identity", [self.onnx_node.input[1]], [self.onnx_node.output[0]])

    def infer_node_datatype(self, model):
        model.set_tensor_datatype(self.onnx_node.output[0], DataType["FLOAT32"])

    def execute_node(self, context, graph):
        node = self.onnx_node
        f, c, c_scale = (context[i] for i in node.input)
        context[node.output[0]] = mlgru_scan(np.asarray(f), np.asarray(c), c_scale, self.get_nodeattr("f_bits"))

    def verify_node(self):
        return [] if len(self.onnx_node.input) == 3 else ["MLGRU needs inputs (f, c, c_scale)"]


custom_op = {"IntSoftmax": IntSoftmax, "MLGRU": MLGRU}
