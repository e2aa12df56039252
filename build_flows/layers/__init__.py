"""qvit-fpga's hardware layers, one module each, registered with :func:`register_layer`.

The ONNX domain :data:`QVIT_DOMAIN` resolves to this package (build_flows/__init__.py); qonnx finds
the layers in :data:`custom_op`. Each import below registers one layer. RTL backends live in
:mod:`build_flows.layers.rtl`; FINN's layers answer the same questions through :func:`layer_facts`.
"""

# one line per layer: importing its module registers it
from build_flows.layers import (
    add_streams,  # noqa: E402, F401
    channel_float,  # noqa: E402, F401
    channel_requant,  # noqa: E402, F401
    concat_streams,  # noqa: E402, F401
    grid_pool_sum,  # noqa: E402, F401
    insert_tokens,  # noqa: E402, F401
    mul_streams,  # noqa: E402, F401
    pad_stream,  # noqa: E402, F401
    shift_requant,  # noqa: E402, F401
    stream_layout,  # noqa: E402, F401, I001
    stream_matmul,  # noqa: E402, F401
    stream_mlgru,  # noqa: E402, F401
    stream_softmax,  # noqa: E402, F401
    sum_parts,  # noqa: E402, F401
    token_sum,  # noqa: E402, F401
    top_k_labels,  # noqa: E402, F401
    window_max,  # noqa: E402, F401
)
from build_flows.layers.base import (
    FINN_HW_DOMAIN,
    FINN_RTL_DOMAIN,
    QVIT_DOMAIN,
    LayerFacts,
    QvitLayer,
    custom_op,
    memory_cost,
    register_layer,
)
from build_flows.layers.finn_layers import layer_facts

__all__ = ["FINN_HW_DOMAIN", "FINN_RTL_DOMAIN", "QVIT_DOMAIN", "LayerFacts", "QvitLayer", "custom_op", "layer_facts",
           "memory_cost", "register_layer"]
