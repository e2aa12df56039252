"""Constant tokens (a class or distillation token) joined to a stream by ``Concat`` pass the same elementwise
operations as the stream up to its next quantizer. :class:`MoveConcatPastConstOps` moves such a Concat below
each of those operations, applying it to every input of the Concat separately, so the constant inputs fold
to constants (the lowering folds them: the same float32 operations ONNX runs) and the Concat ends up behind
the quantizer, joining quantized constant tokens to an integer stream: an ``InsertTokens`` layer."""

from __future__ import annotations

import numpy as np
from onnx import helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.base import Transformation

#: operations a Concat moves past: elementwise with constant operands (and quantizers with constant parameters)
MOVABLE = {"Mul", "Add", "Sub", "Div", "Quant", "BipolarQuant", "Relu", "Sigmoid", "Tanh"}


def _split(value: np.ndarray, out_shape, axis: int, sizes: list[int]) -> list[np.ndarray]:
    """A constant operand of an op on the Concat's output, as the operand for each Concat input."""
    value = np.asarray(value)
    if value.ndim == 0:
        return [value] * len(sizes)
    full = (1,) * (len(out_shape) - value.ndim) + value.shape
    value = value.reshape(full)
    if full[axis] == 1:
        return [value] * len(sizes)
    edges = np.cumsum([0, *sizes])
    return [np.take(value, np.arange(edges[k], edges[k + 1]), axis=axis) for k in range(len(sizes))]


def _run(node, model: ModelWrapper, inputs: list, shape) -> np.ndarray:
    """``node`` executed on constant ``inputs`` as QONNX executes it (onnxruntime, or qonnx's custom ops)."""
    from qonnx.core.onnx_exec import execute_node

    ctx = {name: np.asarray(v) for name, v in zip(node.input, inputs)}
    ctx[node.output[0]] = np.zeros(shape, dtype=np.float32)
    execute_node(node, ctx, model.graph, 13)
    return np.asarray(ctx[node.output[0]], dtype=np.float32)


class MoveConcatPastConstOps(Transformation):
    """Move a Concat that has constant inputs and one stream input below its only consumer when that consumer
    is in :data:`MOVABLE` with constant other operands. One move per :meth:`apply`; ``model.transform`` repeats
    it while it moves."""

    def apply(self, model: ModelWrapper):
        for concat in model.graph.node:
            if concat.op_type != "Concat":
                continue
            consts = [model.get_initializer(i) for i in concat.input]
            if sum(c is None for c in consts) != 1:
                continue
            consumers = model.find_consumers(concat.output[0]) or []
            if len(consumers) != 1 or consumers[0].op_type not in MOVABLE:
                continue
            op = consumers[0]
            if op.op_type in ("Mul", "Add") and op.input[1] == concat.output[0]:  # commutative: the stream first
                op.input[0], op.input[1] = op.input[1], op.input[0]
            operands = [model.get_initializer(i) for i in op.input[1:] if i]
            if any(v is None for v in operands) or op.input[0] != concat.output[0]:
                continue
            out_shape = model.get_tensor_shape(concat.output[0])
            axis = helper.get_attribute_value(next(a for a in concat.attribute if a.name == "axis")) % len(out_shape)
            sizes = [model.get_tensor_shape(i)[axis] for i in concat.input]
            split = [_split(v, out_shape, axis, sizes) for v in operands]
            new_inputs = []
            for k, src in enumerate(concat.input):
                names = []
                for j, parts in enumerate(split):
                    name = f"{op.name}_part{k}_operand{j}"
                    model.set_initializer(name, np.asarray(parts[k], dtype=np.asarray(operands[j]).dtype))
                    names.append(name)
                out = f"{op.name}_part{k}_out"
                part = helper.make_node(op.op_type, [src, *names], [out], name=f"{op.name}_part{k}", domain=op.domain)
                part.attribute.extend(op.attribute)
                shape = list(model.get_tensor_shape(src))
                model.set_tensor_shape(out, shape)
                if consts[k] is not None:  # the constant tokens: computed now, by the op's own execution
                    model.set_initializer(out, _run(part, model, [consts[k], *(model.get_initializer(n) for n in names)],
                                                    shape))
                else:
                    model.graph.node.insert(list(model.graph.node).index(concat), part)
                new_inputs.append(out)
            moved = helper.make_node("Concat", new_inputs, [op.output[0]], name=concat.name, axis=axis)
            index = list(model.graph.node).index(op)
            model.graph.node.remove(op)
            model.graph.node.insert(index, moved)
            model.graph.node.remove(concat)
            return model, True
        return model, False
