"""StreamMatMul: the product of two activation streams (attention scores, attention times values)."""

from __future__ import annotations

import numpy as np

from build_flows.boards import LUT_PER_BINARY_MAC
from build_flows.layers.base import TwoInputLayer, bram18_for, lutram_sdp, precision, register_layer, synth_in_block


@register_layer
class StreamMatMul(TwoInputLayer):
    """Product of two activation streams ``a [..., M, K] @ b [..., K, N]`` (attention scores and
    attention times values). Hardware: ``b`` of one batch is buffered, rows of ``a`` stream past a
    PE x SIMD array (XNOR-popcount when both are binary, LUT multipliers otherwise)."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"SIMD": ("i", False, 1), "in_shape1": ("ints", True, []), "signs": ("ints", False, [])})
        return attrs

    def get_normal_input_shape(self, ind=0):
        return tuple(self.get_nodeattr("in_shape1" if ind == 1 else "in_shape"))

    def get_folded_input_shape(self, ind=0):
        shape = self.get_normal_input_shape(ind)
        simd = self.get_nodeattr("SIMD")
        if shape[-1 if ind == 0 else -2] % simd:
            raise ValueError(f"{self.onnx_node.name}: SIMD={simd} does not divide K")
        return tuple(shape[:-1]) + (shape[-1] // simd, simd) if ind == 0 else self._fold(shape)

    def get_instream_width(self, ind=0):
        lanes = self.get_nodeattr("SIMD") if ind == 0 else self.get_nodeattr("PE")
        return self.get_input_datatype(ind).bitwidth() * lanes

    def execute_node(self, context, graph):
        a, b = (context[i].reshape(self.get_normal_input_shape(j)).astype(np.float64) for j, i in enumerate(self.onnx_node.input))
        signs = self.get_nodeattr("signs")  # per K: +1 add, -1 subtract (channels whose quantizer counts down)
        if signs:
            a = a * np.asarray(signs, dtype=np.float64)
        self._store(context, np.matmul(a, b))

    def folding_knobs(self):
        return [("SIMD", self.get_normal_input_shape(0)[-1]), ("PE", self.get_normal_output_shape()[-1])]

    def macs(self) -> int:
        *batch, m, k = self.get_normal_input_shape(0)
        return int(np.prod(batch, dtype=np.int64)) * m * k * self.get_normal_input_shape(1)[-1]

    def binary(self) -> bool:
        return self.get_input_datatype(0).bitwidth() == 1 and self.get_input_datatype(1).bitwidth() == 1

    def macs_by_precision(self) -> dict[str, int]:
        return {precision(self.get_input_datatype(0), self.get_input_datatype(1)): self.macs()}

    def get_exp_cycles(self):
        """macs / (PE * SIMD), or b's beats (K * N / PE per slice) where SIMD > M leaves the array waiting on b."""
        *batch, k, n = self.get_normal_input_shape(1)
        b_beats = int(np.prod(batch, dtype=np.int64)) * k * n // self.get_nodeattr("PE")
        return max(self.macs() // (self.get_nodeattr("PE") * self.get_nodeattr("SIMD")), b_beats)

    def _memories(self) -> list[tuple[int, int]]:
        """(depth, width) of the RTL's memories: per SIMD lane, b double-buffered (2 K/SIMD N/PE words of PE
        elements); a's rows double-buffered (2 K/SIMD words of SIMD elements); the K/SIMD words of signs."""
        k, n = self.get_normal_input_shape(1)[-2:]
        pe, simd = self.get_nodeattr("PE"), self.get_nodeattr("SIMD")
        kf, nf = k // simd, n // pe
        b = [(2 * kf * nf, pe * self.get_input_datatype(1).bitwidth())] * simd
        return [m for m in b + [(2 * kf, simd * self.get_input_datatype(0).bitwidth()), (kf, simd)] if m[0] > 1]

    def block_memories(self) -> list[tuple[int, int]]:
        """The memories synthesis makes block RAM (the RTL leaves the choice to it)."""
        return [m for m in self._memories() if synth_in_block(*m)]

    def lutram_model(self) -> int:
        return sum(lutram_sdp(*m) for m in self._memories() if not synth_in_block(*m))

    def bram_estimation(self, fpgapart=None):
        return sum(bram18_for(*m) for m in self.block_memories())

    def lut_estimation(self, fpgapart=None):
        lanes = self.get_nodeattr("PE") * self.get_nodeattr("SIMD")
        if self.binary():
            per_mac = LUT_PER_BINARY_MAC
        else:
            per_mac = 1.1 * self.get_input_datatype(0).bitwidth() * self.get_input_datatype(1).bitwidth()
        return int(lanes * per_mac) + self.lutram_model() + 60
