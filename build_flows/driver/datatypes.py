"""FINN's datatype names read without FINN: bits, sign and range of ``INTn``, ``UINTn``, ``BIPOLAR``, ``BINARY``,
``TERNARY`` and ``FLOAT32``, and the bit codes a stream carries for them (two's complement, BIPOLAR {-1, +1} as
{0, 1}, FLOAT32 as its IEEE-754 bits). Board-side: numpy only."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StreamType:
    """One FINN datatype, by name."""

    name: str
    bits: int
    signed: bool
    min: float
    max: float

    @property
    def is_float(self) -> bool:
        return self.name == "FLOAT32"

    def to_codes(self, values: np.ndarray) -> np.ndarray:
        """Values of this type -> unsigned bit codes (uint64); ValueError naming the first values it cannot hold."""
        v = np.asarray(values)
        if self.is_float:
            return v.astype(np.float32).view(np.uint32).astype(np.uint64)
        ok = (v == np.round(v)) & (v >= self.min) & (v <= self.max)
        if self.name == "BIPOLAR":
            ok &= v != 0
        if not np.all(ok):
            raise ValueError(f"values {v[~ok].ravel()[:4].tolist()} are not {self.name} (range {self.min:g} to {self.max:g})")
        if self.name == "BIPOLAR":
            return ((v.astype(np.int64) + 1) // 2).astype(np.uint64)
        return (v.astype(np.int64) & ((1 << self.bits) - 1)).astype(np.uint64)

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        """Unsigned bit codes -> values (float32, as FINN's execution keeps them)."""
        if self.is_float:
            return codes.astype(np.uint32).view(np.float32)
        c = codes.astype(np.int64)
        if self.name == "BIPOLAR":
            return (2 * c - 1).astype(np.float32)
        if self.signed:
            c = np.where(c >= (1 << (self.bits - 1)), c - (1 << self.bits), c)
        return c.astype(np.float32)


def stream_type(name: str) -> StreamType:
    """The :class:`StreamType` of a FINN datatype name; ValueError for names a stream cannot carry."""
    if name == "FLOAT32":
        return StreamType(name, 32, True, -np.inf, np.inf)
    if name == "BIPOLAR":
        return StreamType(name, 1, True, -1, 1)
    if name == "BINARY":
        return StreamType(name, 1, False, 0, 1)
    if name == "TERNARY":
        return StreamType(name, 2, True, -1, 1)
    m = re.fullmatch(r"(U?)INT(\d+)", name)
    if not m or int(m.group(2)) < 1:
        raise ValueError(f"datatype {name!r} is not one a stream carries (INTn, UINTn, BIPOLAR, BINARY, TERNARY, FLOAT32)")
    bits = int(m.group(2))
    if m.group(1):
        return StreamType(name, bits, False, 0, 2 ** bits - 1)
    return StreamType(name, bits, True, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
