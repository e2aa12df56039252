"""Lower an exported QONNX graph to hardware layers, exactly.

The pass walks the graph once in topological order and tracks, for every float tensor of the
source graph, a :class:`Form`: an integer tensor of the new graph plus the chain of elementwise
float32 operations that turns it into the source value. Rules (:mod:`build_flows.lowering.rules`):

- a quantizer (``Quant``, ``BipolarQuant``) becomes FINN's ``Thresholding`` layer on the integer
  tensor, its thresholds found on the chain itself (:mod:`build_flows.lowering.thresholds`):
  BatchNorm, affine, scales, average divisions and sigmoids all fold into thresholds, bit-exactly;
- a linear layer (``MatMul``/``Gemm`` with weights, ``Conv``) becomes FINN's ``MVAU`` (with FINN's
  ``ConvolutionInputGenerator`` for convolutions) on integer weights, when its input is an exact
  affine function of the integer tensor (power-of-two scales: see README); the scales move behind
  it into the chain;
- the transformer's other nodes become our layers (:mod:`build_flows.layers`): matmuls of two
  streams, integer softmax, MLGRU, integer adds and products of streams, token-grid pooling, token
  sums, padding, layout changes (every reshape/transpose run collapses into one reorder, or none),
  constant tokens joined to a stream (a Concat moved behind the stream's quantizer first:
  :class:`MoveConcatPastConstOps`);
- the remaining chain at the graph output becomes one ``ChannelFloat`` layer.

A node that fits no rule goes to FINN's own streamlining and conversion (:mod:`build_flows.lowering.finn_fallback`);
one that neither maps is copied unchanged and recorded with the reason, so the validation pass
lists every one (:mod:`build_flows.lowering.unmapped`). Hardware layers are channels-last; NCHW
nodes are wrapped in reorders that cancel against their neighbours' (:class:`ComposeLayouts`).
"""

from __future__ import annotations

from qonnx.core.modelwrapper import ModelWrapper

from build_flows.lowering import rules  # noqa: F401  (fills RULES)
from build_flows.lowering.compose_layouts import ComposeLayouts
from build_flows.lowering.core import Form, Lowering, Unmappable
from build_flows.lowering.input_reorder import ReorderInputFirst
from build_flows.lowering.move_concat import MoveConcatPastConstOps
from build_flows.lowering.outer_channels import RequantOnOuterChannels
from build_flows.lowering.unmapped import UnmappedNodesError, no_rule_reason, unmapped_nodes

__all__ = ["ComposeLayouts", "Form", "Lowering", "ReorderInputFirst", "RequantOnOuterChannels", "Unmappable",
           "UnmappedNodesError", "lower_to_hw", "no_rule_reason", "unmapped_nodes"]


def lower_to_hw(model: ModelWrapper, finn_mapped: list | None = None) -> tuple[ModelWrapper, list[dict]]:
    """The hardware graph of ``model`` (a cleaned QONNX graph with shapes) and its unmapped nodes
    ([{name, op_type, reason, output}, with ``finn``: why FINN's conversion did not map it either]).
    ``finn_mapped``, when given, receives the nodes that FINN's conversion mapped ({name, op_type, finn_layer})."""
    model = model.transform(MoveConcatPastConstOps())
    low = Lowering(model)
    hw = low.run()
    if finn_mapped is not None:
        finn_mapped.extend(low.finn_mapped)
    return hw, low.unmapped
