"""Code generation for ``qvit_stream_layout.sv``: a StreamLayout node's gather as a ROM of read addresses
(per output beat: the input beat, or per lane the input beat and element), the mode its structure allows,
and a wrapper module with FINN's port names. ``params_from`` derives the parameters (or says why the RTL
does not implement the node), ``write`` emits ``<module>.sv`` and its ROM file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.rtl import RTLUnsupported, write_wrapper  # noqa: F401 (callers catch codegen.RTLUnsupported)

SOURCE = Path(__file__).with_name("qvit_stream_layout.sv")
BUFFER = Path(__file__).with_name("qvit_stream_layout_buffer.sv")

IDENTITY, BEATS, ELEMENTS = 0, 1, 2  # the module's MODE


@dataclass(frozen=True)
class StreamLayoutParams:
    pe: int
    dt: DataType
    gather: tuple[int, ...]
    in_elements: int = 0  # elements per input image (0: as many as the output, a reorder)
    block: bool = False   # the buffers in block RAM (else distributed RAM): the layer's memory decision
    rom_block: bool = False  # the gather ROM in block RAM (else LUTs): the layer's memory decision

    @property
    def beats(self) -> int:
        """Output beats per image."""
        return len(self.gather) // self.pe

    @property
    def in_beats(self) -> int:
        """Input beats per image (more than the output's for a selection: class tokens, slices)."""
        return (self.in_elements or len(self.gather)) // self.pe

    @property
    def bits(self) -> int:
        """Stream width (in and out), unpadded."""
        return self.pe * self.dt.bitwidth()

    @property
    def mode(self) -> int:
        """IDENTITY when the gather keeps the order and every element, BEATS when each output beat is one
        whole input beat in order, else ELEMENTS."""
        return layout_mode(np.asarray(self.gather, dtype=np.int64), self.pe, self.in_elements)

    @property
    def copies(self) -> int:
        """Copies of the two-image buffer that the RTL holds (one per lane in ELEMENTS mode)."""
        return {IDENTITY: 0, BEATS: 1, ELEMENTS: self.pe}[self.mode]


def layout_mode(gather: np.ndarray, pe: int, in_elements: int = 0) -> int:
    """The RTL mode for ``gather`` at ``pe`` elements per beat from ``in_elements`` per image (0: as many as
    ``gather`` has; see :class:`StreamLayoutParams`.mode)."""
    if in_elements in (0, gather.size) and np.array_equal(gather, np.arange(gather.size)):
        return IDENTITY
    g = gather.reshape(-1, pe)
    if np.all(g % pe == np.arange(pe)) and np.all(g // pe == g[:, :1] // pe):
        return BEATS
    return ELEMENTS


def rom_in_block(rom_style: str, depth: int, width: int) -> bool:
    """Whether a gather ROM of ``depth`` words of ``width`` bits with the layer's ``rom_style`` lives in block RAM
    (without a decision, "auto", where synthesis puts an unmarked ROM: ``synth_in_block``)."""
    from build_flows.layers.base import synth_in_block

    return rom_style == "block" or (rom_style == "auto" and synth_in_block(depth, width))


def params_from(get) -> StreamLayoutParams:
    """The RTL parameters from a StreamLayout node's attribute getter (``inst.get_nodeattr``); raises
    RTLUnsupported with the reason when the RTL does not implement the node."""
    gather = np.asarray(get("gather"), dtype=np.int64)
    pe = int(get("PE"))
    in_shape, out_shape = [int(v) for v in get("in_shape")], [int(v) for v in get("out_shape")]
    idt, odt = DataType[get("inputDataType")], DataType[get("outputDataType")]
    if idt.bitwidth() != odt.bitwidth() or idt.signed() != odt.signed():
        raise RTLUnsupported(f"{idt.name} in, {odt.name} out (a reorder keeps the datatype)")
    size = int(np.prod(in_shape))
    if gather.size != int(np.prod(out_shape)) or gather.size > size:
        raise RTLUnsupported(f"a gather of {gather.size} for {in_shape} -> {out_shape}")
    if gather.size and (gather.min() < 0 or gather.max() >= size):
        raise RTLUnsupported(f"the gather reads outside the {size} input elements")
    if in_shape[-1] % pe or out_shape[-1] % pe:
        raise RTLUnsupported(f"PE={pe} does not divide both last axes ({in_shape[-1]}, {out_shape[-1]})")
    p = StreamLayoutParams(pe, idt, tuple(int(i) for i in gather), size, get("ram_style") == "block")
    if p.mode == IDENTITY:
        return p
    words = rom_words(p)
    return dataclasses.replace(p, rom_block=rom_in_block(get("rom_style"), len(words), max(1, max(words).bit_length())))


def rom_words(p: StreamLayoutParams) -> list[int]:
    """The ROM: per output beat, the input beat (BEATS) or, per lane from lane 0 in the low bits, the input
    beat and the element in it (ELEMENTS)."""
    g = np.asarray(p.gather, dtype=np.int64).reshape(-1, p.pe)
    if p.mode == BEATS:
        return [int(b) for b in g[:, 0] // p.pe]
    lw, baw = max(1, (p.pe - 1).bit_length()), max(1, (p.in_beats - 1).bit_length())
    words = []
    for row in g:
        w = 0
        for lane, a in enumerate(row):
            w |= ((int(a) // p.pe) << lw | int(a) % p.pe) << (lane * (baw + lw))
        words.append(w)
    return words


def write(p: StreamLayoutParams, out_dir: str | Path, module: str) -> list[Path]:
    """Emit ``module`` (a wrapper of qvit_stream_layout with FINN's ports) and its ROM file (absolute path)
    into ``out_dir``. Gives the RTL source list (``qvit_stream_layout.sv`` and its buffer first)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rom = ""
    if p.mode != IDENTITY:
        words = rom_words(p)
        rom = out / f"{module}_gather.dat"
        digits = max(1, (max(words).bit_length() + 3) // 4)
        rom.write_text("".join(format(w, f"0{digits}x") + "\n" for w in words))
    width = (p.bits + 7) // 8 * 8
    params = dict(PE=p.pe, NB=p.in_beats, NBO=p.beats, EBITS=p.dt.bitwidth(), MODE=p.mode, BLOCK=int(p.block),
                  ROM_BLOCK=int(p.rom_block), IN_W=width, OUT_W=width)
    plist = ",\n\t\t".join([f".{k}({v})" for k, v in params.items()] + [f'.ROM_FILE("{rom}")'])
    kind = {IDENTITY: "identity (a register)", BEATS: "whole beats", ELEMENTS: f"elements ({p.pe} buffer copies)"}
    write_wrapper(out / f"{module}.sv", module, "qvit_stream_layout", plist, [width], width,
                  f"""// Generated by qvit-fpga: StreamLayout, {len(p.gather)} {p.dt.name} elements,
// PE {p.pe}, {p.in_beats} beats in, {p.beats} out, gather of {kind[p.mode]}.
""")
    return [SOURCE, BUFFER, out / f"{module}.sv"]
