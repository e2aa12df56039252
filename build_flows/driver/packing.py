"""FINN's driver conventions between numpy arrays and the bytes a DMA moves: fold (normal shape -> beats of
elements), pack (beats -> little-endian bytes, element ``i`` of a beat in bits ``[i*bits, (i+1)*bits)``, each
beat zero-padded to whole bytes), and back. Board-side: numpy only."""

from __future__ import annotations

import numpy as np

from .datatypes import StreamType


def fold(x: np.ndarray, folded_shape: tuple[int, ...]) -> np.ndarray:
    """[n, *normal] -> [n, *folded] (the same elements in stream order; only the shape changes)."""
    return np.asarray(x).reshape(len(x), *folded_shape[1:])


def pack(folded: np.ndarray, dt: StreamType) -> np.ndarray:
    """[n, ..., beats, per_beat] values of ``dt`` -> uint8 [n, beats, bytes per beat]."""
    folded = np.asarray(folded)
    n, per_beat = folded.shape[0], folded.shape[-1]
    codes = dt.to_codes(folded).reshape(-1, per_beat)
    planes = ((codes[:, :, None] >> np.arange(dt.bits, dtype=np.uint64)) & 1).astype(np.uint8)
    flat = planes.reshape(len(codes), per_beat * dt.bits)
    nbytes = (per_beat * dt.bits + 7) // 8
    flat = np.pad(flat, ((0, 0), (0, nbytes * 8 - flat.shape[1])))
    return np.packbits(flat, axis=1, bitorder="little").reshape(n, -1, nbytes)


def unpack(packed: np.ndarray, dt: StreamType, per_beat: int) -> np.ndarray:
    """uint8 [n, beats, bytes] -> float32 [n, beats, per_beat] values of ``dt``."""
    packed = np.asarray(packed, dtype=np.uint8)
    n, beats, nbytes = packed.shape
    flat = np.unpackbits(packed.reshape(n * beats, nbytes), axis=1, bitorder="little")[:, : per_beat * dt.bits]
    planes = flat.reshape(-1, per_beat, dt.bits).astype(np.uint64)
    codes = (planes << np.arange(dt.bits, dtype=np.uint64)).sum(axis=-1)
    return dt.from_codes(codes).reshape(n, beats, per_beat)


def unfold(folded: np.ndarray, normal_shape: tuple[int, ...]) -> np.ndarray:
    """[n, *folded] -> [n, *normal]."""
    return np.asarray(folded).reshape(len(folded), *normal_shape[1:])
