"""StreamLayout: a fixed reorder of a tensor (any run of reshapes and transposes)."""

from __future__ import annotations

import numpy as np

from build_flows.layers.base import (
    QvitLayer,
    bit_matrix,
    bram18_for,
    lutram_sdp,
    memory_cost,
    register_layer,
    rom_logic_lut,
)

_ROMS: dict = {}  # the gather ROM of each distinct reorder (words, width)
_ROM_LOGIC: dict = {}  # the LUT logic of each distinct ROM


@register_layer
class StreamLayout(QvitLayer):
    """Reorder a tensor: ``y.flat = x.flat[gather]`` (heads split/merge, token/grid views, NCHW/NHWC), or select
    from it when the gather is shorter than the input (class tokens, slices).
    Hardware: a reorder buffer holding two tensors (ping-pong), written in input order and read in output
    order; PE elements per cycle (see rtl/stream_layout for when it holds a copy per lane)."""

    def get_nodeattr_types(self):
        attrs = super().get_nodeattr_types()
        attrs.update({"gather": ("ints", True, []), "ram_style": ("s", False, "distributed", {"distributed", "block"}),
                      "rom_style": ("s", False, "auto", {"auto", "distributed", "block"})})
        return attrs

    def execute_node(self, context, graph):
        x = context[self.onnx_node.input[0]].reshape(-1)
        self._store(context, x[np.asarray(self.get_nodeattr("gather"), dtype=np.int64)])

    def get_exp_cycles(self):
        """One beat per cycle on each side: the longer of the input and the output per image."""
        return max(self.elements(), int(np.prod(self.get_normal_input_shape()))) // self.get_nodeattr("PE")

    def host_reorder(self):
        return np.asarray(self.get_nodeattr("gather"), dtype=np.int64)

    def _buffers(self) -> list[tuple[int, int]]:
        """(depth, width) of each two-image buffer of the RTL (rtl/stream_layout, ping-pong): none for an
        order-keeping or unfoldable gather, one for a gather of whole input beats, one copy per lane when output
        beats gather single elements."""
        from build_flows.rtl.stream_layout.codegen import BEATS, IDENTITY, layout_mode

        pe, gather = self.get_nodeattr("PE"), self.host_reorder()
        size = int(np.prod(self.get_normal_input_shape()))
        if gather.size % pe or len(gather) != self.elements():
            return []
        mode = layout_mode(gather, pe, size)
        copies = 0 if mode == IDENTITY else 1 if mode == BEATS else pe
        return [(2 * size // pe, pe * self.get_output_datatype().bitwidth())] * copies

    def _rom_block(self) -> bool:
        from build_flows.rtl.stream_layout.codegen import rom_in_block

        words, width = self._rom()
        return rom_in_block(self.get_nodeattr("rom_style"), len(words), width)

    def memory_styles(self) -> dict[str, str]:
        styles = {"buffers": self.get_nodeattr("ram_style")} if self._buffers() else {}
        if self._rom()[0]:
            styles["gather ROM"] = "block" if self._rom_block() else "distributed"
        return styles

    def set_memory_style(self, memory: str, style: str) -> None:
        self.set_nodeattr({"buffers": "ram_style", "gather ROM": "rom_style"}[memory], style)

    def _rom(self) -> tuple[list[int], int]:
        """The gather ROM's words and width (none for an order-keeping or unfoldable gather); the folding search asks
        for them many times, so they are kept per gather, PE and shapes."""
        key = (tuple(self.get_nodeattr("gather")), self.get_nodeattr("PE"), tuple(self.get_nodeattr("in_shape")),
               tuple(self.get_nodeattr("out_shape")), self.get_nodeattr("inputDataType"),
               self.get_nodeattr("outputDataType"))
        if key not in _ROMS:
            _ROMS[key] = self._make_rom()
        return _ROMS[key]

    def _make_rom(self) -> tuple[list[int], int, int]:
        from build_flows.rtl import RTLUnsupported
        from build_flows.rtl.stream_layout.codegen import IDENTITY, params_from, rom_words

        try:
            p = params_from(lambda name: "distributed" if name in ("ram_style", "rom_style") else self.get_nodeattr(name))
        except RTLUnsupported:
            return [], 0
        if p.mode == IDENTITY:
            return [], 0
        words = rom_words(p)
        return words, max(1, max(words).bit_length())

    def bram_estimation(self, fpgapart=None):
        words, width = self._rom()
        rom = bram18_for(len(words), width) if words and self._rom_block() else 0
        if self.get_nodeattr("ram_style") != "block":
            return rom
        return rom + sum(bram18_for(*b) for b in self._buffers())

    def rom_logic(self) -> int:
        words, width = self._rom()
        if not words or self._rom_block():
            return 0
        key = (tuple(words), width)
        if key not in _ROM_LOGIC:
            _ROM_LOGIC[key] = rom_logic_lut(bit_matrix(words, width))
        return _ROM_LOGIC[key]

    def block_memories(self) -> list[tuple[int, int]]:
        words, width = self._rom()
        rom = [(len(words), width)] if words and self._rom_block() else []
        return rom + (self._buffers() if self.get_nodeattr("ram_style") == "block" else [])

    def lutram_model(self) -> int:
        return sum(lutram_sdp(*b) for b in self._buffers()) if self.get_nodeattr("ram_style") != "block" else 0

    def lut_estimation(self, fpgapart=None):
        words, width = self._rom()
        rom = memory_cost(len(words) * width)[1] if words and not self._rom_block() else 0
        return rom + self.lutram_model() + 40 + 2 * self.get_outstream_width()
