"""Fast first-order linear recurrence ``y[i] = a * y[i-1] + gain * x[i]`` without a Python loop.

EMA, Wilder smoothing and the ADX smoothing are all this recurrence with a constant
``a`` in ``[0, 1]``. The series is cut into blocks of ``_BLOCK``; inside a block the
zero-start response is one matrix product with the lower-triangular Toeplitz matrix
``L[k, j] = a**(k-j)`` (every entry within ``[a**B, 1]``, so nothing over- or underflows
dangerously). The block-end values then obey the same recurrence with ``a**B`` over
``n / B`` points, solved by recursion, and are propagated back with ``a**(k+1)``.
Rounding stays at a few ulps: the filter is contractive, errors do not accumulate.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

_BLOCK = 16
_SMALL = 64


@lru_cache(maxsize=64)
def _kernel(a: float, gain: float) -> F64:
    """Return ``K`` so that ``[x_block | y_prev] @ K`` is the block's output."""
    k = np.arange(_BLOCK)
    lag = np.subtract.outer(k, k)
    lower = np.where(lag >= 0, gain * a ** np.maximum(lag, 0).astype(np.float64), 0.0)
    carry = a ** (k + 1).astype(np.float64)
    return np.ascontiguousarray(np.vstack([lower.T, carry[None, :]]))


def _loop(x: F64, a: float, init: F64, gain: float) -> F64:
    out = np.empty_like(x)
    y = init.copy()
    for i in range(x.shape[-1]):
        y = a * y + gain * x[..., i]
        out[..., i] = y
    return out


def linear_recurrence(x: F64, a: float, init: float | F64 = 0.0, gain: float = 1.0) -> F64:
    """Return ``y`` with ``y[..., i] = a * y[..., i-1] + gain * x[..., i]``, ``y[..., -1] = init``.

    ``x`` may be 1-D or 2-D (rows filtered independently with the same ``a``); ``init``
    is a scalar or one value per row.
    """
    x = np.asarray(x, dtype=np.float64)
    lead = x.shape[:-1]
    start = np.broadcast_to(np.asarray(init, dtype=np.float64), lead).copy()
    n = x.shape[-1]
    if n <= _SMALL:
        return _loop(x, a, start, gain)
    blocks = -(-n // _BLOCK)
    kernel = _kernel(float(a), float(gain))
    # [x | y_prev] per block, so one 2-D BLAS product yields the output (no broadcast pass)
    aug = np.empty((*lead, blocks, _BLOCK + 1))
    full, rem = divmod(n, _BLOCK)
    aug[..., :full, :_BLOCK] = x[..., : full * _BLOCK].reshape(*lead, full, _BLOCK)
    if rem:
        aug[..., full, :rem] = x[..., full * _BLOCK :]
        aug[..., full, rem:_BLOCK] = 0.0
    flat = aug.reshape(-1, _BLOCK + 1)
    ends = (flat[:, :_BLOCK] @ kernel[:_BLOCK, -1]).reshape(*lead, blocks)
    ends = linear_recurrence(ends, float(a) ** _BLOCK, start)
    aug[..., 0, -1] = start
    aug[..., 1:, -1] = ends[..., :-1]
    out = flat @ kernel
    return out.reshape(*lead, blocks * _BLOCK)[..., :n]
