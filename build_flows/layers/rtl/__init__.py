"""RTL backends of hardware layers (code generation, file list, IPI, rtlsim execution), in FINN's RTL
domain, and the specialisation that gives layers their RTL.

The ONNX domain ``finn.custom_op.fpgadataflow.rtl`` resolves to this module (build_flows/__init__.py),
whose ``custom_op`` is FINN's RTL registry: :func:`register_rtl_backend` adds ours to it (FINN's
``register_custom_op``), so FINN's ``is_rtl_node`` and stitching see them as RTL layers, and records
which layer each one implements, so :class:`SpecializeToQvitRTL` needs no list of names.
"""

from __future__ import annotations

from finn.custom_op.fpgadataflow.rtl import custom_op, register_custom_op
from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from build_flows.layers.base import FINN_RTL_DOMAIN

#: our RTL backends, in registration order
BACKENDS: list[type] = []


def register_rtl_backend(cls):
    """Class decorator for an RTL backend: it names the layer it implements (``implements``: op type,
    ``implements_domain``: that layer's domain) and says per node whether it can (``unsupported(inst)``:
    None, or the reason not)."""
    for attr in ("implements", "implements_domain", "unsupported"):
        if not hasattr(cls, attr):
            raise TypeError(f"RTL backend {cls.__name__} lacks '{attr}'")
    register_custom_op(cls)
    BACKENDS.append(cls)
    return cls


class SpecializeToQvitRTL(Transformation):
    """Give each hardware layer that one of our RTL backends implements that backend (op type and
    FINN's RTL domain). Expects hardware layers before FINN's SpecializeLayers; leaves the others."""

    def apply(self, model):
        for node in model.graph.node:
            for backend in BACKENDS:
                if (node.op_type == backend.implements and node.domain == backend.implements_domain
                        and backend.unsupported(getCustomOp(node)) is None):
                    node.op_type, node.domain = backend.__name__, FINN_RTL_DOMAIN
                    break
        return model, False


# one line per backend: importing its module registers it
from build_flows.layers.rtl import mvau_lut_rtl  # noqa: E402, F401, I001
from build_flows.layers.rtl import shift_requant_rtl  # noqa: E402, F401
from build_flows.layers.rtl import stream_arith_rtl  # noqa: E402, F401
from build_flows.layers.rtl import duplicate_streams_rtl  # noqa: E402, F401
from build_flows.layers.rtl import channel_requant_rtl, pad_stream_rtl, token_sum_rtl  # noqa: E402, F401
from build_flows.layers.rtl import stream_softmax_rtl  # noqa: E402, F401
from build_flows.layers.rtl import stream_mlgru_rtl  # noqa: E402, F401
from build_flows.layers.rtl import stream_matmul_rtl  # noqa: E402, F401
from build_flows.layers.rtl import grid_pool_sum_rtl, stream_layout_rtl  # noqa: E402, F401
from build_flows.layers.rtl import window_max_rtl  # noqa: E402, F401
from build_flows.layers.rtl import insert_tokens_rtl  # noqa: E402, F401
from build_flows.layers.rtl import concat_streams_rtl  # noqa: E402, F401
from build_flows.layers.rtl import upsample_rtl  # noqa: E402, F401

__all__ = ["custom_op", "BACKENDS", "register_rtl_backend", "SpecializeToQvitRTL"]
