"""Which nodes of a graph did not become hardware layers, and why."""

from __future__ import annotations

from finn.util.fpgadataflow import is_fpgadataflow_node

# Why FINN leaves a node of this op type in software, in the common case.
_REASONS = {
    "IntSoftmax": "integer softmax (qvit op): no FINN hardware layer converts it yet",
    "MLGRU": "MLGRU token recurrence (qvit op): no FINN hardware layer converts it yet",
    "Softmax": "softmax FINN did not convert; use a -hw model (integer softmax)",
    "Tanh": "tanh not followed by a quantizer FINN folds into thresholds",
    "LayerNormalization": "LayerNorm has no streamable integer form; use BatchNorm (it folds into thresholds)",
    "Erf": "GELU (Erf): not streamable; use threshold activations",
    "Gelu": "GELU: not streamable; use threshold activations",
    "Transpose": "layout change FINN cannot stream here (token/head reshuffle)",
    "Reshape": "reshape FINN cannot absorb into a stream here",
    "AveragePool": "average pool that FINN's pooling conversion did not match",
    "ReduceMean": "mean over tokens that FINN's global pooling conversion did not match",
    "Sigmoid": "sigmoid not followed by a quantizer FINN folds into thresholds",
    "Concat": "concatenation FINN did not convert (e.g. class tokens)",
    "Pad": "padding FINN did not convert",
}


def _reason(model, node) -> str:
    op = node.op_type
    inits = [model.get_initializer(i) is not None for i in node.input]
    if op == "MatMul":
        if not any(inits):
            return "MatMul of two activation streams (attention): no FINN layer converted it"
        return "MatMul with weights whose datatypes FINN's MVAU conversion did not accept (weights or inputs not integer)"
    if op in ("Mul", "Add", "Sub", "Div"):
        if any(inits):
            return f"{op} by a constant that streamlining could not absorb into thresholds or weights"
        return f"element-wise {op} of two streams that FINN did not convert"
    if op in ("MultiThreshold",):
        return "MultiThreshold that FINN's conversion did not accept (layout or datatype)"
    if op in ("Quant", "BipolarQuant", "Trunc"):
        return f"{op} left after streamlining (a quantizer not folded into thresholds)"
    return _REASONS.get(op, f"no FINN hardware layer for {op}")


def unmapped_nodes(model, reasons: dict | None = None) -> list[dict]:
    """[{name, op_type, reason}] for every node that is not a dataflow (hardware) node. ``reasons``
    maps a node's output tensor to the reason the lowering recorded; others get a generic one."""
    reasons = reasons or {}
    return [{"name": n.name, "op_type": n.op_type, "reason": reasons.get(n.output[0]) or _reason(model, n)}
            for n in model.graph.node if not is_fpgadataflow_node(n)]


class UnmappedNodesError(RuntimeError):
    """Some nodes did not map to hardware; the message lists every one with its reason."""

    def __init__(self, nodes: list[dict], total: int):
        self.nodes = nodes
        lines = [f"  {n['name']} ({n['op_type']}): {n['reason']}" for n in nodes]
        super().__init__(f"{len(nodes)} of {total} nodes did not map to hardware layers:\n" + "\n".join(lines)
                         + "\nFix: export a hardware-bound model (`qvit models`: the -hw, ternary and mmfree models), or "
                           "build with --until lower_to_hw to inspect the graph; the build directory keeps every step.")
