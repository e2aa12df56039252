"""InsertTokens: constant tokens joined to a stream (class and distillation tokens)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import QvitLayer, register_layer


@register_layer
class InsertTokens(QvitLayer):
    """[N, T, C] -> [N, B + T + A, C]: ``before`` (B tokens of C integer codes, flattened) ahead of the stream's
    tokens and ``after`` (A tokens) behind them, on the stream's own grid. Hardware: a counter that emits the
    constants' beats from a table and passes the stream's beats between them."""

    def get_nodeattr_types(self):
        return {"before": ("ints", False, []), "after": ("ints", False, []), **super().get_nodeattr_types()}

    def tokens(self, which: str) -> np.ndarray:
        """The constant tokens ``before`` or ``after`` as [tokens, C]."""
        c = self.get_normal_input_shape()[-1]
        return np.asarray(self.get_nodeattr(which), dtype=np.int64).reshape(-1, c)

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(self.get_normal_input_shape())
        n = x.shape[0]
        parts = [np.broadcast_to(self.tokens("before"), (n, *self.tokens("before").shape)), x,
                 np.broadcast_to(self.tokens("after"), (n, *self.tokens("after").shape))]
        self._store(context, np.concatenate(parts, axis=1))

    def lut_estimation(self, fpgapart=None):
        constants = (len(self.get_nodeattr("before")) + len(self.get_nodeattr("after"))) * \
            self.get_output_datatype().bitwidth()
        return 20 + self.get_outstream_width() + constants // 6  # a mux per output bit, the table in LUTs
