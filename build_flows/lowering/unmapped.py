"""Nodes that did not become hardware layers, and why: the one table of reasons, the list of a
graph's unmapped nodes, and the error that reports them."""

from __future__ import annotations


class Unmappable(Exception):
    """This node cannot become a hardware layer; the message says why."""


# Why an op type has no hardware layer (the lowering records a more specific reason where a rule refused a node).
REASONS = {
    "Softmax": "float softmax: use a -hw model (integer softmax)",
    "LayerNormalization": "LayerNorm has no streamable integer form; use BatchNorm (it folds into thresholds)",
    "Erf": "GELU (Erf): not streamable; use threshold activations",
    "Gelu": "GELU: not streamable; use threshold activations",
    "BatchNormalization": "BatchNormalization left in the graph (export folds it; run qonnx cleanup)",
}


def no_rule_reason(op_type: str) -> str:
    """The reason a node of ``op_type`` has no hardware layer."""
    return REASONS.get(op_type, f"no hardware layer for {op_type}")


def unmapped_nodes(model, reasons: dict | None = None) -> list[dict]:
    """[{name, op_type, reason}] for every node that is not a dataflow (hardware) node. ``reasons``
    maps a node's output tensor to the reason the lowering recorded; others get the table's."""
    from finn.util.fpgadataflow import is_fpgadataflow_node

    reasons = reasons or {}
    return [{"name": n.name, "op_type": n.op_type, "reason": reasons.get(n.output[0]) or no_rule_reason(n.op_type)}
            for n in model.graph.node if not is_fpgadataflow_node(n)]


class UnmappedNodesError(RuntimeError):
    """Some nodes did not map to hardware; the message lists every one with its reason."""

    def __init__(self, nodes: list[dict], total: int):
        self.nodes = nodes
        lines = [f"  {n['name']} ({n['op_type']}): {n['reason']}" for n in nodes]
        super().__init__(f"{len(nodes)} of {total} nodes did not map to hardware layers:\n" + "\n".join(lines)
                         + "\nFix: export a hardware-bound model (`qvit models`: the -hw, ternary and mmfree models), or "
                           "build with --until lower_to_hw to inspect the graph; the build directory keeps every step.")
