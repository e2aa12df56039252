"""Code generation for ``qvit_channel_requant.sv``: the layer's per-channel multipliers and addends as
memory files, a datapath width sized from the input datatype and those constants, and a wrapper module
with FINN's port names. ``params_from`` derives the parameters, ``write`` emits ``<module>.sv`` and its
two constant files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qonnx.core.datatype import DataType

from build_flows.rtl import RTLUnsupported, write_wrapper  # noqa: F401 (callers catch codegen.RTLUnsupported)

SOURCE = Path(__file__).with_name("qvit_channel_requant.sv")
MAX_W = 64  # widest datapath the generator emits


@dataclass(frozen=True)
class ChannelRequantParams:
    pe: int
    channels: int
    idt: DataType
    odt: DataType
    mults: tuple[int, ...]   # per channel
    adds: tuple[int, ...]    # per channel
    shift: int
    levels: int
    qmin: int
    mult_bits: int           # signed width of the multipliers
    width: int               # signed width of mult * n + add
    inner: int = 1           # elements per channel run: 1 when the channel is the last axis

    @property
    def in_bits(self) -> int:
        return self.pe * self.idt.bitwidth()

    @property
    def out_bits(self) -> int:
        return self.pe * self.odt.bitwidth()


def _signed_bits(lo: int, hi: int) -> int:
    """The fewest bits of a two's complement number that holds every integer in [lo, hi]."""
    return max(int(lo).bit_length() if lo < 0 else 0, int(hi).bit_length()) + 1


def _per_channel(values, channels: int, name: str) -> tuple[int, ...]:
    vals = [int(v) for v in values]
    if len(vals) == 1:
        vals = vals * channels
    if len(vals) != channels:
        raise RTLUnsupported(f"{len(vals)} {name} values for {channels} channels")
    return tuple(vals)


def params_from(get, channels: int) -> ChannelRequantParams:
    """The RTL parameters from a ChannelRequant node's attribute getter (``inst.get_nodeattr``) and its
    channel count (the input's last axis, or the constants' count for an outer channel axis: ``inner`` > 1).
    Raises RTLUnsupported when the RTL cannot implement it."""
    idt, odt = DataType[get("inputDataType")], DataType[get("outputDataType")]
    if not idt.is_integer() or idt == DataType["BIPOLAR"]:
        raise RTLUnsupported(f"{idt.name} input (the RTL takes integer inputs)")
    if not odt.is_integer() or odt == DataType["BIPOLAR"]:
        raise RTLUnsupported(f"{odt.name} output (the RTL gives integer outputs)")
    mults, adds = _per_channel(get("mult"), channels, "mult"), _per_channel(get("add"), channels, "add")
    shift, levels, qmin = int(get("shift")), int(get("levels")), int(get("qmin"))
    pe, inner = int(get("PE")), int(get("inner") or 1)
    if inner > 1 and (pe < 1 or inner % pe):
        raise RTLUnsupported(f"PE={pe} does not divide the {inner} elements of a channel")
    if inner == 1 and (pe < 1 or channels % pe):
        raise RTLUnsupported(f"PE={pe} does not divide {channels} channels")
    if shift < 0:
        raise RTLUnsupported(f"negative shift {shift}")
    if levels < 0 or qmin < odt.min() or qmin + levels > odt.max():
        raise RTLUnsupported(f"outputs [{qmin}, {qmin + levels}] outside {odt.name}")
    nlo, nhi = int(idt.min()), int(idt.max())
    # mult * n + add is linear in n: its extremes lie at the ends of the input range
    ends = [m * n + a for m, a in zip(mults, adds) for n in (nlo, nhi)]
    mult_bits = _signed_bits(min(mults), max(mults))
    width = max(_signed_bits(min(ends), max(ends)), mult_bits + idt.bitwidth() + 1,
                _signed_bits(min(adds), max(adds)), _signed_bits(0, levels))
    if width > MAX_W:
        raise RTLUnsupported(f"a {width}-bit datapath (wider than {MAX_W} bits)")
    return ChannelRequantParams(pe, channels, idt, odt, mults, adds, shift, levels, qmin, mult_bits, width, inner)


def _hex_file(path: Path, values, bits: int) -> None:
    digits = (bits + 3) // 4
    path.write_text("".join(format(v & ((1 << bits) - 1), f"0{digits}x") + "\n" for v in values))


def write(p: ChannelRequantParams, out_dir: str | Path, module: str) -> list[Path]:
    """Emit ``module`` (a wrapper of qvit_channel_requant with FINN's ports) and its multiplier and addend
    files into ``out_dir``. Gives the RTL source list (``qvit_channel_requant.sv`` first)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    mfile, afile = out / f"{module}_mult.dat", out / f"{module}_add.dat"
    _hex_file(mfile, p.mults, p.mult_bits)
    _hex_file(afile, p.adds, p.width)
    in_w, out_w = (p.in_bits + 7) // 8 * 8, (p.out_bits + 7) // 8 * 8
    params = dict(PE=p.pe, CHANNELS=p.channels, INNER=p.inner, IBITS=p.idt.bitwidth(), ISIGNED=int(p.idt.signed()),
                  OBITS=p.odt.bitwidth(), MW=p.mult_bits, W=p.width, SHIFT=p.shift, LEVELS=p.levels,
                  QMIN=p.qmin, IN_W=in_w, OUT_W=out_w)
    plist = ",\n\t\t".join([f".{k}({v})" for k, v in params.items()]
                           + [f'.MULT_FILE("{mfile}")', f'.ADD_FILE("{afile}")'])
    inner_note = f" (each {p.inner} elements in a row)" if p.inner > 1 else ""
    write_wrapper(out / f"{module}.sv", module, "qvit_channel_requant", plist, [in_w], out_w,
                  f"""// Generated by qvit-fpga: ChannelRequant, {p.channels} channels{inner_note}, PE {p.pe},
// {p.idt.name} -> {p.odt.name}, {p.qmin} + clip((mult * n + add) >>> {p.shift}, 0, {p.levels}), {p.width}-bit datapath.
""")
    return [SOURCE, out / f"{module}.sv"]
