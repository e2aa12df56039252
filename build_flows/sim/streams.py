"""FINN's stream packing between numpy arrays and AXI-stream beats.

A folded tensor [..., beats, k] becomes beats of ``k * bits`` bits, element ``i`` in bits
``[i*bits, (i+1)*bits)`` (little-endian), the beat zero-padded to whole bytes. Signed types are two's
complement, BIPOLAR {-1, +1} is stored as {0, 1}, FLOAT32 as its IEEE-754 bits: the layout FINN's
driver and rtlsim use.
"""

from __future__ import annotations

import numpy as np
from qonnx.core.datatype import DataType


def to_codes(values: np.ndarray, dtype: DataType) -> np.ndarray:
    """Integer values of ``dtype`` -> unsigned bit codes (uint64). Raises ValueError on values the type
    cannot hold."""
    v = np.asarray(values)
    if dtype == DataType["FLOAT32"]:
        return v.astype(np.float32).view(np.uint32).astype(np.uint64)
    if not dtype.is_integer():
        raise ValueError(f"cannot pack {dtype.name} values")
    ok = (v == np.round(v)) & (v >= dtype.min()) & (v <= dtype.max())
    if dtype == DataType["BIPOLAR"]:
        ok &= v != 0
    if not np.all(ok):
        raise ValueError(f"values {v[~ok].ravel()[:4].tolist()} are not {dtype.name}")
    if dtype == DataType["BIPOLAR"]:
        return ((v.astype(np.int64) + 1) // 2).astype(np.uint64)
    bits = dtype.bitwidth()
    return (v.astype(np.int64) & ((1 << bits) - 1)).astype(np.uint64)


def from_codes(codes: np.ndarray, dtype: DataType) -> np.ndarray:
    """Unsigned bit codes -> values of ``dtype`` (float32, as FINN's execution keeps them)."""
    if dtype == DataType["FLOAT32"]:
        return codes.astype(np.uint32).view(np.float32)
    c = codes.astype(np.int64)
    if dtype == DataType["BIPOLAR"]:
        return (2 * c - 1).astype(np.float32)
    bits = dtype.bitwidth()
    if dtype.signed():
        c = np.where(c >= (1 << (bits - 1)), c - (1 << bits), c)
    return c.astype(np.float32)


def pack_beats(values: np.ndarray, dtype: DataType, per_beat: int) -> np.ndarray:
    """Values (any shape, innermost-first order is the flat order) -> uint8 [n_beats, bytes_per_beat]."""
    codes = to_codes(values, dtype).reshape(-1, per_beat)
    bits = dtype.bitwidth()
    bitplane = ((codes[:, :, None] >> np.arange(bits, dtype=np.uint64)) & 1).astype(np.uint8)
    flat = bitplane.reshape(len(codes), per_beat * bits)
    nbytes = (per_beat * bits + 7) // 8
    flat = np.pad(flat, ((0, 0), (0, nbytes * 8 - flat.shape[1])))
    return np.packbits(flat, axis=1, bitorder="little")


def unpack_beats(beats: np.ndarray, dtype: DataType, per_beat: int) -> np.ndarray:
    """uint8 [n_beats, bytes] -> values float32 [n_beats * per_beat] (flat, in stream order)."""
    bits = dtype.bitwidth()
    flat = np.unpackbits(beats, axis=1, bitorder="little")[:, : per_beat * bits]
    planes = flat.reshape(-1, per_beat, bits).astype(np.uint64)
    codes = (planes << np.arange(bits, dtype=np.uint64)).sum(axis=-1)
    return from_codes(codes, dtype).reshape(-1)
