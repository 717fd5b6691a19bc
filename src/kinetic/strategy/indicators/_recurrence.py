"""Fast first-order linear recurrence ``y[i] = a * y[i-1] + gain * x[i]`` without a Python loop.

EMA, Wilder smoothing and the ADX smoothing are all this recurrence with a constant
``a`` in ``[0, 1]``. The series is viewed (no copy) as rows of ``_BLOCK`` values. One
matrix-vector product gives every row's zero-start end value; those ends obey the same
recurrence with ``a**B`` over ``n / B`` points (solved by recursion) and give each row's
start value. One matrix product with the lower-triangular Toeplitz matrix
``L[j, k] = gain * a**(k-j)`` then writes the zero-start response straight into the
output; each row's start value enters as an extra ``a * start / gain`` on its first
input (``gain`` must not be 0). Every matrix entry lies within
``[a**B, 1] * gain``, so nothing over- or underflows dangerously, and rounding stays at
a few ulps: the filter is contractive, errors do not accumulate.

Cost: two thin BLAS products and one copy pass over the series, issued in
pieces of ``_ROWS`` rows; no temporary larger than ``n / 16`` values besides the output.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

_BLOCK = 16
_SMALL = 64
# Rows per BLAS call: 512 x 16 x 16 stays below OpenBLAS' threading thresholds (gemm
# 262,144 multiply-adds, gemv 9,216 elements). Threads only lose on these thin products,
# badly so when other processes share the cores, and each piece stays in L1/L2 cache.
_ROWS = 512


@lru_cache(maxsize=128)
def _kernels(a: float, gain: float) -> tuple[F64, F64]:
    """Return ``(L, end_weights)`` for blocks of ``_BLOCK`` values."""
    k = np.arange(_BLOCK)
    lag = np.subtract.outer(k, k).T  # lag[j, k] = k - j
    powers = a ** np.maximum(lag, 0).astype(np.float64)
    lower = np.where(lag >= 0, gain * powers, 0.0)
    return np.ascontiguousarray(lower), np.ascontiguousarray(lower[:, -1])


def _loop(x: F64, a: float, y: float, gain: float, out: F64) -> float:
    for i, v in enumerate(x.tolist()):
        y = a * y + gain * v
        out[i] = y
    return y


def recur_into(x: F64, a: float, init: float, gain: float, out: F64) -> float:
    """Write the recurrence of 1-D ``x`` into ``out`` (not overlapping ``x``); return its end."""
    if gain == 0.0:
        raise ValueError("gain must not be 0")
    n = x.shape[0]
    if n == 0:
        return init
    if n <= _SMALL:
        return _loop(x, a, init, gain, out)
    lower, end_w = _kernels(a, gain)
    full = n // _BLOCK
    rows = x[: full * _BLOCK].reshape(full, _BLOCK)
    block_out = out[: full * _BLOCK].reshape(full, _BLOCK)
    ends = np.empty(full)
    for lo in range(0, full, _ROWS):
        np.matmul(rows[lo : lo + _ROWS], end_w, out=ends[lo : lo + _ROWS])
    starts = np.empty(full)
    starts[0] = init
    recur_into(ends[:-1], a**_BLOCK, init, 1.0, starts[1:])
    # a**(k+1) * start == L[0, k] * (a * start / gain): fold each row's start value into
    # its first input, so one product yields the final output (no rank-1 update pass)
    starts *= a / gain
    tmp = np.empty((min(full, _ROWS), _BLOCK))
    for lo in range(0, full, _ROWS):
        hi = min(lo + _ROWS, full)
        part = tmp[: hi - lo]
        part[...] = rows[lo:hi]
        part[:, 0] += starts[lo:hi]
        np.matmul(part, lower, out=block_out[lo:hi])
    last = float(block_out[-1, -1])
    if full * _BLOCK < n:
        last = _loop(x[full * _BLOCK :], a, last, gain, out[full * _BLOCK :])
    return last


def linear_recurrence(x: F64, a: float, init: float | F64 = 0.0, gain: float = 1.0) -> F64:
    """Return ``y`` with ``y[..., i] = a * y[..., i-1] + gain * x[..., i]``, ``y[..., -1] = init``.

    ``x`` may be 1-D or 2-D (rows filtered independently with the same ``a``); ``init``
    is a scalar or one value per row.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    a, gain = float(a), float(gain)
    out = np.empty_like(x)
    if x.ndim == 1:
        recur_into(x, a, float(np.asarray(init, dtype=np.float64)), gain, out)
        return out
    starts = np.broadcast_to(np.asarray(init, dtype=np.float64), x.shape[:-1])
    for row in range(x.shape[0]):
        recur_into(x[row], a, float(starts[row]), gain, out[row])
    return out
