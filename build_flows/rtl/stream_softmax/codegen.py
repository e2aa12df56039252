"""Code generation for ``qvit_stream_softmax.sv``: the exp() lookup table of the layer's ``scale``, the widths
and the number of row buffers as parameters, and a wrapper module with FINN's port names. ``params_from``
derives the parameters, ``write`` emits ``<module>.sv`` and its table file; ``codes_by_comparison`` is the
divider-free output rule the RTL uses, in numpy (the hardware tests check it against the floor division).

Why no divider: for integers e >= 0, T > 0 and L = 2**out_bits, the layer's code is
p = min(floor((2eL + T) / (2T)), L - 1). floor((2eL + T) / (2T)) is the largest q >= 0 with 2qT <= 2eL + T,
i.e. with (2q - 1)T <= 2eL; as (2q - 1)T grows with q, the q >= 1 meeting it are exactly 1..that largest q,
so p = #{q in 1..L-1 : (2q - 1)T <= 2eL}. With 2L = 2**(out_bits + 1) and e an integer,
(2q - 1)T <= 2eL  <=>  e >= (2q - 1)T / 2L  <=>  e >= ceil((2q - 1)T / 2L) = c_q, where
ceil(x / 2**s) = (x + 2**s - 1) >> s. So each lane compares its e with L - 1 thresholds c_q that the row
shares, and counts. Any c_q above the largest table value E can be replaced by E + 1 (both exceed every e).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.rtl import RTLUnsupported, write_wrapper  # noqa: F401 (callers catch codegen.RTLUnsupported)
from quant_models.int_ops import softmax_exp_table

SOURCE = Path(__file__).with_name("qvit_stream_softmax.sv")
MAX_TABLE = 4096  # deepest exp() table the generator emits
PIPE_GAP = 2      # cycles between the exp/sum pass reading a row's last beat and the output pass starting it


def row_slots(folds: int) -> int:
    """Row buffers that let rows stream at ``folds`` beats each: a row holds its buffer while it is
    written, summed and read out again (3 passes) plus the pipeline gap between the last two."""
    return 3 + -(-PIPE_GAP // folds)


def codes_by_comparison(e: np.ndarray, total: np.ndarray, out_bits: int) -> np.ndarray:
    """The RTL's output rule: #{q in 1..L-1 : e >= ceil((2q-1) * total / 2L)}, L = 2**out_bits, for int64
    ``e`` >= 0 and ``total`` > 0 broadcasting against it (see the module docstring)."""
    levels = 2**out_bits
    s = out_bits + 1
    q = np.arange(1, levels, dtype=np.int64)
    c = ((2 * q - 1) * np.asarray(total, dtype=np.int64)[..., None] + (1 << s) - 1) >> s
    return (np.asarray(e, dtype=np.int64)[..., None] >= c).sum(axis=-1)


@dataclass(frozen=True)
class StreamSoftmaxParams:
    pe: int
    cols: int               # N, the row length (last axis)
    idt: DataType
    odt: DataType
    out_bits: int
    mask: bool              # mask_diagonal: column == row index within the matrix is left out
    table: tuple[int, ...]  # e(d), d = 0..len-1
    slots: int              # row buffers

    @property
    def folds(self) -> int:
        return self.cols // self.pe

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
    return StreamSoftmaxParams(pe, cols, idt, odt, out_bits, mask, tuple(int(v) for v in table),
                               row_slots(cols // pe))


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
                  MASK=int(p.mask), DEPTH=len(p.table), EW=p.ew, EMAX=p.emax, TW=p.tw, SLOTS=p.slots,
                  IN_W=in_w, OUT_W=out_w)
    plist = ",\n\t\t".join([f".{k}({v})" for k, v in params.items()] + [f'.EXP_FILE("{tfile}")'])
    masked = ", diagonal masked" if p.mask else ""
    write_wrapper(out / f"{module}.sv", module, "qvit_stream_softmax", plist, [in_w], out_w,
                  f"""// Generated by qvit-fpga: StreamSoftmax, rows of {p.cols}, PE {p.pe},
// {p.idt.name} -> {p.odt.name}, exp() table of {len(p.table)} entries, {p.slots} row buffers{masked}.
""")
    return [SOURCE, out / f"{module}.sv"]
