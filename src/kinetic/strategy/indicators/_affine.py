"""``y = c * y + u`` over a long series, bit for bit as the Python loop, mostly in numpy.

The recurrence is sequential, but a contractive one (``0 < c < 1``) forgets where it
started: two runs over the same inputs from different start values differ by
``c**t`` times the start difference after ``t`` steps, and once rounding has made them
equal at one step they are equal at every later step (each step is the same IEEE
multiply and add of the same operands). So the series is cut into ``m`` chunks of
``L`` values, run side by side as columns (one numpy multiply and add per step over
all ``m`` chunks, the same two roundings as ``c * y + u``): chunk 0 from the true
start value, every other chunk from an approximate value (``_guess``) ``w`` steps
before its first value, ``w`` long enough for the guess's error to be forgotten.
Each chunk's warm-up value just before its first value is then compared, bit for
bit, with the previous chunk's last value (the
same position): equal means the chunk ran from the exact value, so all of it is
exact (by induction from chunk 0). A chunk that did not meet (a long stretch of
zero inputs keeps the relative difference) is recomputed by the plain loop from the
previous chunk's exact end, and the next chunks are checked against that.

Nothing here approximates: every value returned is the loop's value, checked. Inputs
that are not all finite, a ``c`` outside ``(0, 1)``, results that overflow, and
series too short to pay for the columns take the plain loop.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

# warm-up: from a start some ulps off (``_guess``), c**w <= e**-8 leaves a few thousandths
# of an ulp, which rounding nearly always drops (else a chunk is recomputed)
_FORGET = 8.0
_GUESS = 40.0  # the guess's window: c**K <= e**-40
_MIN_CHUNK = 96  # chunks are >= 2 w: the floor only matters for fast-forgetting c
_TILE = 32  # rows per tile of a transposed copy
_STEP_S, _VALUE_S, _LOOP_S = 1.2e-6, 2e-9, 45e-9  # rough costs: a step, a value, a loop value


def affine_loop(c: float, us: list[float], y: float) -> F64:
    """Every ``y = c * y + u`` over ``us`` in order, as a float64 array (the reference)."""
    return np.fromiter((y := c * y + u for u in us), np.float64, len(us))


def _plan(c: float, n: int) -> tuple[int, int] | None:
    """``(w, L)``: warm-up steps and chunk length, or None when the loop is cheaper."""
    if not 0.0 < c < 1.0:
        return None
    w = max(1, math.ceil(_FORGET / -math.log(c)))
    chunk = max(2 * w, _MIN_CHUNK)
    m = n // chunk
    if m < 2:
        return None
    cost = (w + chunk) * _STEP_S + n * (w + chunk) / chunk * _VALUE_S
    return (w, chunk) if cost < n * _LOOP_S else None


def parallel(c: float, n: int) -> bool:
    """True when ``affine_array`` runs ``n`` values in columns (else: the loop)."""
    return _plan(c, n) is not None


def affine_array(c: float, u: F64, y: float) -> F64:
    """Every ``y = c * y + u[i]`` in order (``u`` 1-D float64), as the loop computes it."""
    n = len(u)
    plan = _plan(c, n)
    if plan is None or not np.isfinite(u).all():
        return affine_loop(c, u.tolist(), y)
    with np.errstate(over="ignore", invalid="ignore"):  # checked below
        result = columns(c, u, y, *plan)
    if not np.isfinite(result).all():  # overflowed: the loop's own inf and nan
        return affine_loop(c, u.tolist(), y)
    return result


def columns(c: float, u: F64, y: float, w: int, chunk: int) -> F64:
    """``affine_array`` in ``len(u) // chunk`` columns warmed up for ``w < chunk`` steps
    (finite ``u``, ``0 < c < 1``; any ``w`` is exact, a short one repairs more chunks)."""
    n = len(u)
    m = n // chunk
    if m < 2 or not 0 < w < chunk:
        return affine_loop(c, u.tolist(), y)
    rows = u[: m * chunk].reshape(m, chunk)  # rows[j, t]: value t of chunk j (a view)
    grid = _transposed(rows)  # grid[t, j], contiguous per step
    # chunk j >= 1 warms up on the last w values of chunk j - 1 (w < L), from a start
    # some ulps off (only the speed depends on it)
    z = _guess(c, u, y, chunk - w - 1, chunk, m - 1)
    for t in range(chunk - w, chunk):
        np.multiply(z, c, out=z)
        np.add(z, grid[t, :-1], out=z)
    out = np.empty((chunk, m))
    prev = np.empty(m)
    prev[0] = y
    prev[1:] = z
    for t in range(chunk):
        row = out[t]
        np.multiply(prev, c, out=row)
        np.add(row, grid[t], out=row)
        prev = row
    _repair(c, grid, out, z)
    result = np.empty(n)
    _transposed(out, result[: m * chunk].reshape(m, chunk))
    if m * chunk < n:
        result[m * chunk :] = affine_loop(c, u[m * chunk :].tolist(), float(out[-1, -1]))
    return result


def _guess(c: float, u: F64, y: float, first: int, step: int, count: int) -> F64:
    """Approximately, the recurrence's value after ``u[p]`` for ``p = first + q * step``
    (``q < count``): the sum of the last ``K`` inputs weighted by ``c**age`` (``c**K``
    below 1e-17: the older ones do not show), one matrix-vector product over strided
    windows; the first ones, whose windows would reach before ``u[0]``, by the loop."""
    size = math.ceil(_GUESS / -math.log(c))
    out = np.empty(count)
    early = min(count, max(0, -(-(size - 1 - first) // step)))  # p < size - 1
    for q in range(early):
        out[q] = affine_end(c, u[: first + q * step + 1], y)
    if early < count:
        weights = c ** np.arange(size - 1, -1, -1, dtype=np.float64)  # oldest first
        start = first + early * step - size + 1
        windows = np.lib.stride_tricks.as_strided(
            u[start:], (count - early, size), (step * u.itemsize, u.itemsize), writeable=False
        )
        np.dot(windows, weights, out=out[early:])
    return out


def affine_end(c: float, u: F64, y: float) -> float:
    """The last ``y = c * y + u`` over ``u``, by the loop."""
    for v in u.tolist():
        y = c * y + v
    return y


def _transposed(x: F64, into: F64 | None = None) -> F64:
    """``x.T`` copied (into ``into``), a tile of rows at a time (cache- and TLB-friendly)."""
    if into is None:
        into = np.empty(x.shape[::-1])
    for lo in range(0, x.shape[1], _TILE):
        into[lo : lo + _TILE] = x[:, lo : lo + _TILE].T
    return into


def _repair(c: float, grid: F64, out: F64, z: F64) -> None:
    """Recompute, by the loop, every chunk whose warm-up did not meet the previous
    chunk's exact end (compared as bits: -0.0 is not 0.0), in order."""
    bits = z.view(np.int64)
    while True:
        ends = out[-1, :-1].view(np.int64)
        bad = np.flatnonzero(bits != ends)
        if len(bad) == 0:
            return
        j = int(bad[0]) + 1
        start = float(out[-1, j - 1])
        out[:, j] = affine_loop(c, grid[:, j].tolist(), start)
        z[j - 1] = start
