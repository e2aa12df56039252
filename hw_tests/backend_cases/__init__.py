"""Per RTL backend (``build_flows.layers.rtl.BACKENDS``): how to lint it, simulate it under random stalls
against its numpy golden model, and break it. One module per backend, each with a ``CASES`` dict (backend
class name -> :class:`~backend_cases.base.BackendCase`), merged here with one line per module;
``test_rtl_backends.py`` runs every registered backend through these, so a backend without a case fails there."""

from backend_cases import (
    channel_requant,
    concat_streams,
    duplicate_streams,
    grid_pool_sum,
    insert_tokens,
    mvau,
    pad_stream,
    shift_requant,
    stream_arith,
    stream_layout,
    stream_matmul,
    stream_mlgru,
    stream_softmax,
    token_sum,
    upsample,
)
from backend_cases.base import BackendCase

#: RTL backend class name -> its case
CASES: dict[str, BackendCase] = {}
CASES.update(mvau.CASES)
CASES.update(shift_requant.CASES)
CASES.update(stream_arith.CASES)
CASES.update(duplicate_streams.CASES)
CASES.update(channel_requant.CASES, **token_sum.CASES, **pad_stream.CASES)  # token_sum: TokenSum, WindowMax
CASES.update(stream_softmax.CASES)
CASES.update(stream_mlgru.CASES)
CASES.update(stream_matmul.CASES)
CASES.update(grid_pool_sum.CASES, **stream_layout.CASES)
CASES.update(insert_tokens.CASES)
CASES.update(concat_streams.CASES)
CASES.update(upsample.CASES)
