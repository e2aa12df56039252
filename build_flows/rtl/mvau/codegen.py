"""Code generation for ``qvit_mvau.sv``: parameters from FINN's MVAU attributes, ROM images in FINN's
layout, and a wrapper module with FINN's port names.

``MVAUShape`` holds what the RTL needs; ``from_attrs`` derives it from an MVAU node's attributes (the
same attributes FINN's MVAU has), ``write`` emits ``<module>.sv`` plus its ``.dat`` ROM files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qonnx.core.datatype import DataType

from build_flows.rtl import RTLUnsupported, write_wrapper  # noqa: F401 (callers catch codegen.RTLUnsupported)

SOURCE = Path(__file__).with_name("qvit_mvau.sv")
MODES = {"xnor": 0, "addsub": 1, "mul": 2}
RAM_STYLES = {"auto": "auto", "block": "block", "distributed": "distributed", "ultra": "block"}
# internal_decoupled (FINN: weights from a memory streamer inside the layer) is a ROM here as well;
# external: the weights are an AXI-stream input of the accelerator (in1_V of the layer).
MEM_MODES = ("internal_embedded", "internal_decoupled", "external")
MAX_IBITS, MAX_WBITS = 8, 8  # LUT arithmetic beyond these belongs on DSPs (FINN's MVAU_rtl)


@dataclass(frozen=True)
class MVAUShape:
    mw: int
    mh: int
    simd: int
    pe: int
    idt: DataType
    wdt: DataType
    odt: DataType
    acc_lo: int
    acc_hi: int
    mode: str
    n_thresholds: int = 0
    act_val: int = 0
    ram_style: str = "auto"
    weight_stream: bool = False  # FINN's mem_mode "external": weights arrive on the in1_V stream

    @property
    def sf(self) -> int:
        return self.mw // self.simd

    @property
    def nf(self) -> int:
        return self.mh // self.pe

    @property
    def in_bits(self) -> int:
        return self.simd * self.idt.bitwidth()

    @property
    def out_bits(self) -> int:
        return self.pe * self.odt.bitwidth()

    @property
    def weight_bits(self) -> int:
        """Bits of one weight word (one ROM word, or one beat of the weight stream)."""
        return self.pe * self.simd * self.wdt.bitwidth()

    @property
    def accw(self) -> int:
        """Signed width holding every accumulator value and every clipped threshold (up to acc_hi + 1)."""
        lo, hi = min(self.acc_lo, 0), self.acc_hi + 1
        return max(int(hi).bit_length(), int(-lo - 1).bit_length()) + 1


def arithmetic(idt: DataType, wdt: DataType) -> str:
    """Arithmetic style for input/weight datatypes, or RTLUnsupported with the reason."""
    bip = DataType["BIPOLAR"]
    if idt == bip and wdt == bip:
        return "xnor"
    if not (idt.is_integer() and wdt.is_integer()):
        raise RTLUnsupported(f"non-integer datatypes ({idt.name} inputs, {wdt.name} weights)")
    if idt.bitwidth() > MAX_IBITS or wdt.bitwidth() > MAX_WBITS:
        raise RTLUnsupported(f"{idt.name} inputs x {wdt.name} weights: the LUT datapath takes inputs up to "
                             f"{MAX_IBITS} bits and weights up to {MAX_WBITS} bits (wider layers go to DSPs)")
    if wdt == bip or (wdt.min() >= -1 and wdt.max() <= 1):
        return "addsub"
    return "mul"


def from_attrs(get, n_thresholds: int = 0) -> MVAUShape:
    """MVAUShape from an attribute getter (``inst.get_nodeattr``) of a FINN MVAU node."""
    idt, wdt = DataType[get("inputDataType")], DataType[get("weightDataType")]
    odt, adt = DataType[get("outputDataType")], DataType[get("accDataType")]
    mw, mh, simd, pe = get("MW"), get("MH"), get("SIMD"), get("PE")
    if mw % simd or mh % pe:
        raise RTLUnsupported(f"folding SIMD={simd}, PE={pe} does not divide MW={mw}, MH={mh}")
    mode = arithmetic(idt, wdt)
    if mode == "xnor":
        lo, hi = 0, mw
    else:
        lo, hi = int(adt.min()), int(adt.max())
    if get("noActivation"):
        n_thresholds = 0
    mem_mode = get("mem_mode")
    if mem_mode not in MEM_MODES:
        raise RTLUnsupported(f"mem_mode={mem_mode!r}: the RTL layer supports {', '.join(MEM_MODES)}")
    if mem_mode == "external" and get("TH") != 1:
        raise RTLUnsupported(f"weight stream tiling TH={get('TH')}: the RTL layer streams whole words (TH=1)")
    return MVAUShape(mw, mh, simd, pe, idt, wdt, odt, lo, hi, mode, n_thresholds, int(get("ActVal")),
                     RAM_STYLES.get(get("ram_style"), "auto"), mem_mode == "external")


def _codes(values: np.ndarray, dt: DataType) -> np.ndarray:
    v = np.asarray(values).astype(np.int64)
    if dt == DataType["BIPOLAR"]:
        return (v + 1) // 2
    return v & ((1 << dt.bitwidth()) - 1)


def _hex_words(words: list[int], bits: int) -> str:
    digits = max(1, (bits + 3) // 4)
    return "\n".join(format(w, f"0{digits}x") for w in words) + "\n"


def weight_rom(shape: MVAUShape, weights: np.ndarray) -> list[int]:
    """ROM words (one per nf*SF + sf) from the ONNX weight matrix [MW, MH]."""
    w = _codes(np.asarray(weights).T, shape.wdt)  # [MH, MW]
    wb = shape.wdt.bitwidth()
    words = []
    for nf in range(shape.nf):
        for sf in range(shape.sf):
            word = 0
            for p in range(shape.pe):
                for i in range(shape.simd):
                    word |= int(w[nf * shape.pe + p, sf * shape.simd + i]) << ((p * shape.simd + i) * wb)
            words.append(word)
    return words


def weight_stream_beats(shape: MVAUShape, weights: np.ndarray) -> np.ndarray:
    """One input vector's weight stream (``mem_mode`` external) as uint8 [NF*SF, bytes]: the ROM words in
    ROM order, little-endian, padded to whole bytes (FINN's ``decoupled_npy`` stream packed LSB first)."""
    nbytes = (shape.weight_bits + 7) // 8
    words = weight_rom(shape, weights)
    return np.frombuffer(b"".join(w.to_bytes(nbytes, "little") for w in words), dtype=np.uint8).reshape(-1, nbytes)


def threshold_rom(shape: MVAUShape, thresholds: np.ndarray) -> list[int]:
    """ROM words (one per nf) from FINN's threshold matrix [MH or 1, n]: integer thresholds (ceil; the
    accumulator is an integer), clipped to the accumulator range, two's complement in ACCW bits."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.shape[0] == 1:
        t = np.repeat(t, shape.mh, axis=0)
    t = np.clip(np.ceil(t), min(shape.acc_lo, 0), shape.acc_hi + 1).astype(np.int64)
    aw, n = shape.accw, shape.n_thresholds
    words = []
    for nf in range(shape.nf):
        word = 0
        for p in range(shape.pe):
            for k in range(n):
                word |= (int(t[nf * shape.pe + p, k]) & ((1 << aw) - 1)) << ((p * n + k) * aw)
        words.append(word)
    return words


def write(shape: MVAUShape, weights: np.ndarray, thresholds: np.ndarray | None, out_dir: str | Path,
          module: str) -> list[Path]:
    """Emit ``module`` (a wrapper of qvit_mvau with FINN's ports) and its ROM files into ``out_dir``.
    Gives the RTL source list (``qvit_mvau.sv`` first)."""
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wfile, tfile = out / f"{module}_weights.dat", out / f"{module}_thresholds.dat"
    if not shape.weight_stream:
        wfile.write_text(_hex_words(weight_rom(shape, weights), shape.weight_bits))
    if shape.n_thresholds:
        if thresholds is None or np.asarray(thresholds).shape[-1] != shape.n_thresholds:
            raise ValueError(f"{module}: expected {shape.n_thresholds} thresholds per channel")
        tfile.write_text(_hex_words(threshold_rom(shape, thresholds), shape.pe * shape.n_thresholds * shape.accw))
    idt, wdt = shape.idt, shape.wdt
    params = dict(MW=shape.mw, MH=shape.mh, SIMD=shape.simd, PE=shape.pe, IBITS=idt.bitwidth(), WBITS=wdt.bitwidth(),
                  ISIGNED=int(idt.signed() and idt != DataType["BIPOLAR"]),
                  WSIGNED=int(wdt.signed() and wdt != DataType["BIPOLAR"]),
                  IBIPOLAR=int(idt == DataType["BIPOLAR"]), WBIPOLAR=int(wdt == DataType["BIPOLAR"]),
                  MODE=MODES[shape.mode], ACCW=shape.accw, OBITS=shape.odt.bitwidth(), NTHR=shape.n_thresholds,
                  OBIAS=shape.act_val, WSTREAM=int(shape.weight_stream))
    strings = dict(WEIGHT_FILE="" if shape.weight_stream else wfile, THRESH_FILE=tfile if shape.n_thresholds else "",
                   RAM_STYLE=shape.ram_style)
    plist = ",\n\t\t".join([f".{k}({v})" for k, v in params.items()] + [f'.{k}("{v}")' for k, v in strings.items()])
    in_w, out_w, w_w = (shape.in_bits + 7) // 8 * 8, (shape.out_bits + 7) // 8 * 8, (shape.weight_bits + 7) // 8 * 8
    what = f"{shape.mode} MVAU {shape.mw}x{shape.mh}, SIMD {shape.simd}, PE {shape.pe}"
    wties = "" if shape.weight_stream else (f"\tlogic in1_V_TREADY;\n\twire in1_V_TVALID = 1'b0;\n"
                                            f"\twire [{w_w - 1}:0] in1_V_TDATA = '0;\n")
    where = "streamed (in1_V)" if shape.weight_stream else "in a ROM"
    write_wrapper(out / f"{module}.sv", module, "qvit_mvau", plist, [in_w, w_w] if shape.weight_stream else [in_w],
                  out_w, f"// Generated by qvit-fpga: {what},\n// {idt.name} x {wdt.name} -> {shape.odt.name}, "
                  f"{shape.n_thresholds} thresholds, weights {where}.", body=wties)
    return [SOURCE, out / f"{module}.sv"]
