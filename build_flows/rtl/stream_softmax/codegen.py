"""Code generation for ``qvit_stream_softmax.sv``: the exp() lookup table of the layer's ``scale``, the widths
and the number of row buffers as parameters, and a wrapper module with FINN's port names. ``params_from``
derives the parameters, ``write`` emits ``<module>.sv`` and its table file; ``codes_by_search`` is the
divider-free output rule the RTL uses, in numpy (the hardware tests check it against the floor division).

Why no divider: for integers e >= 0, T > 0 and L = 2**out_bits, the layer's code is
p = min(floor((2eL + T) / (2T)), L - 1). floor((2eL + T) / (2T)) is the largest q >= 0 with 2qT <= 2eL + T,
i.e. with (2q - 1)T <= 2eL; as (2q - 1)T grows with q, the q >= 1 meeting it are exactly 1..that largest q,
so p = #{q in 1..L-1 : (2q - 1)T <= 2eL}. With 2L = 2**(out_bits + 1) and e an integer,
(2q - 1)T <= 2eL  <=>  e >= (2q - 1)T / 2L  <=>  e >= ceil((2q - 1)T / 2L) = c_q, where
ceil(x / 2**s) = (x + 2**s - 1) >> s. The row shares the L - 1 thresholds c_q, which do not decrease with q,
so the q meeting e >= c_q are 1..p and each lane finds p by binary search: out_bits comparisons, the most
significant bit first. Any c_q above the largest table value E can be replaced by E + 1 (both exceed every e).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.rtl import RTLUnsupported, write_wrapper  # noqa: F401 (callers catch codegen.RTLUnsupported)
from quant_models.int_ops import SOFTMAX_FRAC_BITS, softmax_exp_table

SOURCE = Path(__file__).with_name("qvit_stream_softmax.sv")
MAX_TABLE = 4096  # deepest exp() table the generator emits
E_BITS = SOFTMAX_FRAC_BITS + 1  # bits of a table value e (up to 2**16), as stored in the e row buffers
PIPE_GAP = 4      # cycles from the exp/sum pass's last read of a row to the output pass's first: the
                  # table read, the total, the threshold unit's start and its result


def threshold_lanes(folds: int, out_bits: int) -> int:
    """Thresholds the threshold unit computes per cycle: the 2**out_bits - 1 of a row within the ``folds``
    beats the row takes."""
    return -(-(2**out_bits - 1) // max(1, folds))


#: score row buffers: one written by the first pass while the exp/sum pass reads the other (it frees it on the
#: cycle the next row is complete)
SCORE_SLOTS = 2


def e_row_slots(folds: int, out_bits: int) -> int:
    """e row buffers: a row holds one from its first beat in the exp/sum pass until the output pass has read it,
    two rows' beats plus the pipeline gap and the threshold unit's cycles."""
    unit = -(-(2**out_bits - 1) // threshold_lanes(folds, out_bits))
    return 2 + -(-(PIPE_GAP + unit) // max(1, folds))


def codes_by_search(e: np.ndarray, total: np.ndarray, out_bits: int, emax: int = 2**16) -> np.ndarray:
    """The RTL's output rule, in numpy: the largest q in 1..L-1 (L = 2**out_bits) with e >= c_q (0 if none),
    c_q = ceil((2q-1) * total / 2L) saturated at ``emax`` + 1, found as the RTL finds it: by binary search, the
    most significant code bit first. For int64 ``e`` in 0..emax and ``total`` > 0 broadcasting against it. The
    c_q do not decrease with q, so the search gives #{q : e >= c_q} (see the module docstring)."""
    levels, s = 2**out_bits, out_bits + 1
    q = np.arange(1, levels, dtype=np.int64)
    c = np.minimum(((2 * q - 1) * np.asarray(total, dtype=np.int64)[..., None] + (1 << s) - 1) >> s, emax + 1)
    e = np.asarray(e, dtype=np.int64)
    c = np.broadcast_to(c, (*np.broadcast_shapes(e.shape, c.shape[:-1]), levels - 1))
    code = np.zeros(c.shape[:-1], dtype=np.int64)
    for j in range(out_bits):
        cand = code | (1 << (out_bits - 1 - j))
        code = np.where(e >= np.take_along_axis(c, (cand - 1)[..., None], axis=-1)[..., 0], cand, code)
    return code


def buffer_shapes(cols: int, pe: int, in_bits: int, out_bits: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(depth, width) of the score row buffers and of the e row buffers."""
    folds = cols // pe
    return (SCORE_SLOTS * folds, pe * in_bits), (e_row_slots(folds, out_bits) * folds, pe * E_BITS)


def buffer_in_block(depth: int, width: int) -> bool:
    """The layer's memory decision for a row buffer, shared by the RTL (its ram_style) and the estimate: block
    RAM where synthesis would choose it unmarked (``synth_in_block``), else distributed RAM."""
    from build_flows.layers.base import synth_in_block

    return synth_in_block(depth, width)


@dataclass(frozen=True)
class StreamSoftmaxParams:
    pe: int
    cols: int               # N, the row length (last axis)
    idt: DataType
    odt: DataType
    out_bits: int
    mask: bool              # mask_diagonal: column == row index within the matrix is left out
    table: tuple[int, ...]  # e(d), d = 0..len-1

    @property
    def folds(self) -> int:
        return self.cols // self.pe

    @property
    def z_slots(self) -> int:
        return SCORE_SLOTS

    @property
    def e_slots(self) -> int:
        return e_row_slots(self.folds, self.out_bits)

    @property
    def tu(self) -> int:
        return threshold_lanes(self.folds, self.out_bits)

    @property
    def buffers(self) -> tuple[tuple[int, int], tuple[int, int]]:
        return buffer_shapes(self.cols, self.pe, self.idt.bitwidth(), self.out_bits)

    @property
    def ram_styles(self) -> tuple[str, str]:
        """Where the score and the e row buffers live (``buffer_in_block``)."""
        return tuple("block" if buffer_in_block(*b) else "distributed" for b in self.buffers)

    @property
    def emax(self) -> int:
        return self.table[0]

    @property
    def ew(self) -> int:
        """Bits of a table value."""
        return int(self.emax).bit_length()

    @property
    def tw(self) -> int:
        """Bits of a row total."""
        return int(self.cols * self.emax).bit_length()

    @property
    def in_bits(self) -> int:
        return self.pe * self.idt.bitwidth()

    @property
    def out_stream_bits(self) -> int:
        return self.pe * self.odt.bitwidth()


def params_from(get, in_shape) -> StreamSoftmaxParams:
    """The RTL parameters from a StreamSoftmax node's attribute getter (``inst.get_nodeattr``) and its
    normal input shape; RTLUnsupported with the reason when the RTL does not implement the node."""
    in_shape = tuple(int(v) for v in in_shape)
    cols, pe = in_shape[-1], int(get("PE"))
    idt, odt, out_bits = DataType[get("inputDataType")], DataType[get("outputDataType")], int(get("out_bits"))
    scale, mask = float(get("scale")), bool(get("mask_diagonal"))
    if not idt.is_integer() or idt == DataType["BIPOLAR"]:
        raise RTLUnsupported(f"{idt.name} scores (the RTL takes integer scores)")
    if odt.signed() or not odt.is_integer() or odt.bitwidth() != out_bits or not 1 <= out_bits <= 8:
        raise RTLUnsupported(f"{odt.name} output for out_bits={out_bits} (the RTL gives UINT<out_bits>, 1..8 bits)")
    if not scale > 0:
        raise RTLUnsupported(f"scale {scale} (the RTL's exp() table needs scale > 0)")
    if pe < 1 or cols % pe:
        raise RTLUnsupported(f"PE={pe} does not divide the row length {cols}")
    if mask and (len(in_shape) < 2 or in_shape[-2] != cols or cols < 2):
        raise RTLUnsupported(f"mask_diagonal on shape {in_shape} (needs square matrices of at least 2x2)")
    span = int(idt.max() - idt.min())
    table = softmax_exp_table(scale, span)
    if len(table) > MAX_TABLE:
        raise RTLUnsupported(f"an exp() table of {len(table)} entries (more than {MAX_TABLE})")
    return StreamSoftmaxParams(pe, cols, idt, odt, out_bits, mask, tuple(int(v) for v in table))


def write(p: StreamSoftmaxParams, out_dir: str | Path, module: str) -> list[Path]:
    """Emit ``module`` (a wrapper of qvit_stream_softmax with FINN's ports) and its exp() table file into
    ``out_dir``. Gives the RTL source list (``qvit_stream_softmax.sv`` first)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    tfile = out / f"{module}_exp.dat"
    digits = (p.ew + 3) // 4
    tfile.write_text("".join(format(v, f"0{digits}x") + "\n" for v in p.table))
    in_w, out_w = (p.in_bits + 7) // 8 * 8, (p.out_stream_bits + 7) // 8 * 8
    params = dict(PE=p.pe, N=p.cols, IBITS=p.idt.bitwidth(), ISIGNED=int(p.idt.signed()), OBITS=p.out_bits,
                  MASK=int(p.mask), DEPTH=len(p.table), EW=p.ew, EMAX=p.emax, TW=p.tw, ZSLOTS=p.z_slots,
                  ESLOTS=p.e_slots, TU=p.tu, IN_W=in_w, OUT_W=out_w)
    strings = dict(zip(("Z_RAM_STYLE", "E_RAM_STYLE"), p.ram_styles), EXP_FILE=tfile)
    plist = ",\n\t\t".join([f".{k}({v})" for k, v in params.items()] + [f'.{k}("{v}")' for k, v in strings.items()])
    masked = ", diagonal masked" if p.mask else ""
    write_wrapper(out / f"{module}.sv", module, "qvit_stream_softmax", plist, [in_w], out_w,
                  f"""// Generated by qvit-fpga: StreamSoftmax, rows of {p.cols}, PE {p.pe},
// {p.idt.name} -> {p.odt.name}, exp() table of {len(p.table)} entries,
// {p.z_slots} + {p.e_slots} row buffers, {p.tu} threshold(s) a cycle{masked}.
""")
    return [SOURCE, out / f"{module}.sv"]
