"""Exact thresholds: the integer (or float32) input values at which a quantizer's output code steps.

A quantizer node after a chain of elementwise float operations is, on an integer input ``n``, a
monotonic step function ``code(n)`` per channel. Rather than solving for the steps with algebra
(which is off by one wherever float rounding meets a step), we search for them by bisection on the
function itself, evaluated with the same float32 operations the exported graph executes, and then
check the thresholds against the function. The result reproduces the graph bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FULL_CHECK = 1 << 22  # check every input value when range x channels is at most this


class NotMonotonicError(ValueError):
    """The function of the input is not monotonic per channel, so no thresholds express it."""


@dataclass
class Steps:
    """Thresholds ``T [C, L-1]`` on the input such that, per channel c, ``count = #{k: x >= T[c, k]}``
    and ``code = qmin + count`` (rising channels) or ``code = qmax - count`` (``falling[c]``)."""

    thresholds: np.ndarray
    qmin: int
    qmax: int
    falling: np.ndarray


def _float_from_key(k: np.ndarray) -> np.ndarray:
    """Map int64 keys to float32 values monotonically (key 0 is +0.0; neighbours are adjacent floats)."""
    k = np.asarray(k, dtype=np.int64)
    mag = np.abs(k).astype(np.uint32).view(np.float32)
    return np.where(k < 0, -mag, mag).astype(np.float32)


def _key_from_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    mag = np.abs(x).view(np.uint32).astype(np.int64)
    return np.where(np.signbit(x), -mag, mag)


def find_steps(code, lo: int | None, hi: int | None, channels: int, qmin: int, qmax: int) -> Steps:
    """Thresholds of ``code`` (vectorized: an array [..., channels] of inputs in, integer codes out).

    ``lo``/``hi`` bound an integer input; ``None`` for both means a float32 input (thresholds are
    float32 values, searched over the ordered float32 lattice between -inf and +inf).
    """
    is_float = lo is None
    if is_float:
        lo_k, hi_k = -0x7F800000, 0x7F800000  # -inf .. +inf as keys

        def value(k):
            return _float_from_key(k)
    else:
        lo_k, hi_k = int(lo), int(hi)

        def value(k):
            return k.astype(np.float64)

    def codes(k):
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # the float search visits +-inf
            return np.rint(np.asarray(code(value(k)), dtype=np.float64)).astype(np.int64)

    ends = codes(np.array([[lo_k] * channels, [hi_k] * channels], dtype=np.int64))
    falling = ends[1] < ends[0]
    levels = qmax - qmin
    targets = np.arange(1, levels + 1, dtype=np.int64)[:, None]  # [L-1, 1]
    a = np.full((levels, channels), lo_k, dtype=np.int64)
    b = np.full((levels, channels), hi_k + 1, dtype=np.int64)
    while np.any(a < b):
        mid = (a + b) // 2
        c = codes(np.minimum(mid, hi_k))
        rise = np.where(falling, qmax - c, c - qmin)  # the count reached at mid
        ok = (rise >= targets) & (mid <= hi_k)
        b = np.where(ok & (a < b), mid, b)
        a = np.where(~ok & (a < b), mid + 1, a)
    t_keys = a.T  # [C, L-1]; hi_k + 1 means "never reached"
    if is_float:
        never = t_keys > hi_k
        thresholds = _float_from_key(np.minimum(t_keys, hi_k)).astype(np.float32)
        thresholds[never] = np.inf
    else:
        thresholds = t_keys.astype(np.float64)
    steps = Steps(thresholds, qmin, qmax, falling)
    _check(steps, codes, lo_k, hi_k, channels, is_float)
    return steps


def apply_steps(steps: Steps, x: np.ndarray) -> np.ndarray:
    """Codes from thresholds (what the hardware computes), x [..., C]."""
    x = np.asarray(x, dtype=np.float64)
    t = np.sort(steps.thresholds.astype(np.float64), axis=1)
    flat = x.reshape(-1, x.shape[-1])
    count = np.stack([np.searchsorted(t[c], flat[:, c], side="right") for c in range(flat.shape[1])], axis=1)
    count = count.reshape(x.shape)
    return np.where(steps.falling, steps.qmax - count, steps.qmin + count)


def _check(steps: Steps, codes, lo_k, hi_k, channels, is_float):
    span = hi_k - lo_k + 1
    if not is_float and span * channels <= FULL_CHECK:
        keys = np.arange(lo_k, hi_k + 1, dtype=np.int64)[:, None].repeat(channels, 1)
    else:
        rng = np.random.default_rng(0)
        keys = rng.integers(lo_k, hi_k + 1, size=(4096, channels), dtype=np.int64)
        t = steps.thresholds
        edge = _key_from_float(t) if is_float else t.astype(np.int64)
        edge = np.clip(edge.T, lo_k, hi_k)  # [L-1, C]
        keys = np.concatenate([keys, edge, np.clip(edge - 1, lo_k, hi_k)])
    vals = _float_from_key(keys) if is_float else keys.astype(np.float64)
    want = codes(keys)
    got = apply_steps(steps, vals)
    bad = np.argwhere(want != got)
    if len(bad):
        i, c = bad[0]
        raise NotMonotonicError(f"the quantizer's input function is not monotonic in channel {c} (input {vals[i, c]} "
                                f"gives code {want[i, c]}, thresholds give {got[i, c]})")


@dataclass
class FixedPoint:
    """Per channel ``count = clip(floor((mult * n + add) / 2**shift), 0, levels)``: what a step
    function of an integer input is when its steps are evenly spaced up to rounding (a normalized,
    rescaled, requantized value). One multiplier per lane replaces 2**bits - 1 thresholds."""

    mult: np.ndarray
    add: np.ndarray
    shift: int
    levels: int


def fit_fixed_point(steps: Steps, lo: int, hi: int, max_shift: int = 30, max_span: int = 1 << 20) -> FixedPoint | None:
    """The fixed-point form of integer-input thresholds, checked on every input in [lo, hi]; None if
    the steps are not evenly spaced enough for any multiplier up to ``max_shift`` bits."""
    if hi - lo + 1 > max_span:
        return None
    t = steps.thresholds.astype(np.float64)  # [C, L]
    channels, levels = t.shape
    n = np.arange(lo, hi + 1, dtype=np.int64)
    lines = [_fit_channel(t[c], lo, hi) for c in range(channels)]
    if any(line is None for line in lines):
        return None  # some channel's steps are not evenly spaced: no slope fits at any precision
    shifts = (8, 12, 16, 20, 24, max_shift)
    exact = np.ones(len(shifts), dtype=bool)  # shifts at which every channel so far is exact
    for c, (u, v) in enumerate(lines):
        want = np.searchsorted(np.sort(t[c]), n, side="right")  # the count the thresholds give
        for k, shift in enumerate(shifts):
            if exact[k]:
                mult, add = int(round(u * 2.0**shift)), int(round(v * 2.0**shift))
                exact[k] = np.array_equal(np.clip((mult * n + add) >> shift, 0, levels), want)
        if not exact.any():
            return None
    shift = shifts[int(np.argmax(exact))]
    mults = np.array([int(round(u * 2.0**shift)) for u, _ in lines], dtype=np.int64)
    adds = np.array([int(round(v * 2.0**shift)) for _, v in lines], dtype=np.int64)
    return FixedPoint(mults, adds, shift, levels)


def _fit_channel(t: np.ndarray, lo: int, hi: int):
    """(u, v) such that floor(u n + v) steps exactly at the thresholds inside [lo, hi], or None.

    Each step j at T_j asks u T_j + v >= j and u (T_j - 1) + v < j: v lies between a lower and an
    upper envelope, both linear in u; the slope that opens the widest gap between them is found by
    golden-section search (the gap is concave in u)."""
    j = np.arange(1, len(t) + 1, dtype=np.float64)
    inside = (t > lo) & (t <= hi)
    below = int((t <= lo).sum())
    top = below + int(inside.sum())
    # (coefficient of u, constant): bound = const - coef * u
    lower = [(tt, jj) for tt, jj in zip(t[inside], j[inside])] + ([(lo, below)] if below else [])
    upper = [(tt - 1, jj) for tt, jj in zip(t[inside], j[inside])] + ([(hi, top + 1)] if top < len(t) else [])
    if not upper:
        upper = [(hi, top + 1)]
    lc, lk = np.array(lower or [(lo, 0)], dtype=np.float64).T
    uc, uk = np.array(upper, dtype=np.float64).T

    def room(u):
        return (uk - uc * u).min() - (lk - lc * u).max()

    if inside.sum() >= 2:
        u0 = (j[inside][-1] - j[inside][0]) / max(1.0, t[inside][-1] - t[inside][0])
    else:
        u0 = 1.0 / max(1, hi - lo)
    a, b = 0.0, 2 * u0 + 1.0 / max(1, hi - lo)
    for _ in range(80):
        m1, m2 = a + (b - a) * 0.382, a + (b - a) * 0.618
        if room(m1) > room(m2):
            b = m2
        else:
            a = m1
    u = (a + b) / 2
    if room(u) <= 0:
        return None
    v = (lk - lc * u).max() + room(u) / 2  # the middle of the gap tolerates the rounding of u and v
    return u, v
