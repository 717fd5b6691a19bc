"""O(1) incremental indicator states, one ``update`` per closed candle.

Each state gives the same numbers as its vectorised twin in ``vectorised`` after
warm-up and returns ``None`` before it. ``value`` holds the last result.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from kinetic.strategy.indicators._affine import affine_array, parallel

F64 = npt.NDArray[np.float64]


class ADXValue(NamedTuple):
    adx: float
    plus_di: float
    minus_di: float


class MACDValue(NamedTuple):
    line: float
    signal: float
    hist: float


class BollingerValue(NamedTuple):
    mid: float
    upper: float
    lower: float


def _check(n: int) -> None:
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")


def _pct(num: float, den: float) -> float:
    return 100.0 * num / den if den != 0 else 0.0


# ------------------------------------------------------------------ batch feeding
# ``feed`` methods take many bars at once (a backtest fast-forwarding over bars it does
# not step) and leave the state exactly as ``update`` on each would: every elementwise
# term is computed by numpy with the same IEEE operations in the same order as
# ``update``, and the one sequential part, ``y = c * y + u``, runs as a tight loop.


def _affine_array(c: float, us: F64, y: float) -> F64:
    """Every ``y = c * y + u`` over ``us`` in order (the same rounding as ``update``), as
    a float64 array (``_affine``: long series in numpy, checked bit for bit)."""
    return affine_array(c, us, y)


def _affine_end(c: float, us: F64, y: float) -> float:
    """The last ``y = c * y + u`` over ``us`` in order."""
    if parallel(c, len(us)):
        return float(affine_array(c, us, y)[-1])
    for u in us.tolist():
        y = c * y + u
    return y


def _pct_array(num: F64, den: F64) -> F64:
    """``_pct`` elementwise: ``100.0 * num / den``, 0 where ``den`` is 0."""
    out = np.zeros_like(num)
    np.divide(100.0 * num, den, out=out, where=den != 0)
    return out


def _shifted(first: float, x: F64) -> F64:
    """``x`` moved one place later, ``first`` in front (the previous bar's value)."""
    out = np.empty_like(x)
    out[0] = first
    out[1:] = x[:-1]
    return out


class EMAState:
    """EMA with ``span=n`` started at the first value; ready after ``n`` updates."""

    __slots__ = ("_alpha", "_count", "_ema", "n", "value")

    def __init__(self, n: int) -> None:
        _check(n)
        self.n = n
        self._alpha = 2.0 / (n + 1.0)
        self._count = 0
        self._ema = 0.0
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        """Feed one close; return the EMA once warm."""
        if self._count == 0:
            self._ema = close
        else:
            self._ema = (1.0 - self._alpha) * self._ema + self._alpha * close
        self._count += 1
        self.value = self._ema if self._count >= self.n else None
        return self.value

    def feed(self, closes: F64, track: bool = False) -> F64 | None:
        """``update`` on each of ``closes``; with ``track``, return the EMA after each."""
        if len(closes) == 0:
            return np.zeros(0) if track else None
        if self._count == 0:  # the first close seeds: step it
            self.update(float(closes[0]))
            first = self._ema
            rest = self.feed(closes[1:], track)
            return None if rest is None else np.r_[first, rest]
        a = self._alpha
        us = a * closes
        out = None
        if track:
            out = _affine_array(1.0 - a, us, self._ema)
            self._ema = float(out[-1])
        else:
            self._ema = _affine_end(1.0 - a, us, self._ema)
        self._count += len(us)
        self.value = self._ema if self._count >= self.n else None
        return out


class SMAState:
    """Simple moving average over the last ``n`` closes."""

    __slots__ = ("_sum", "_updates", "_window", "n", "value")

    def __init__(self, n: int) -> None:
        _check(n)
        self.n = n
        self._window: deque[float] = deque(maxlen=n)
        self._sum = 0.0
        self._updates = 0
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        """Feed one close; return the mean of the last ``n`` once warm."""
        if len(self._window) == self.n:
            self._sum -= self._window[0]
        self._window.append(close)
        self._sum += close
        self._updates += 1
        if self._updates % self.n == 0:
            self._sum = math.fsum(self._window)  # drop accumulated rounding drift
        self.value = self._sum / self.n if len(self._window) == self.n else None
        return self.value


class RSIState:
    """Wilder RSI; the first bar counts as a zero change (``ta``'s convention)."""

    __slots__ = ("_a", "_count", "_gain", "_loss", "_prev", "n", "value")

    def __init__(self, n: int = 14) -> None:
        _check(n)
        self.n = n
        self._a = 1.0 / n
        self._count = 0
        self._prev = 0.0
        self._gain = 0.0
        self._loss = 0.0
        self.value: float | None = None

    def update(self, close: float) -> float | None:
        """Feed one close; return the RSI once warm."""
        change = close - self._prev if self._count else 0.0
        self._prev = close
        a = self._a
        self._gain = (1.0 - a) * self._gain + a * (change if change > 0 else 0.0)
        self._loss = (1.0 - a) * self._loss + a * (-change if change < 0 else 0.0)
        self._count += 1
        return self._settle()

    def _settle(self) -> float | None:
        if self._count < self.n:
            self.value = None
        elif self._loss == 0:
            self.value = 100.0
        else:
            self.value = 100.0 * self._gain / (self._gain + self._loss)
        return self.value

    def feed(self, closes: F64, track: bool = False) -> F64 | None:
        """``update`` on each of ``closes`` (after the first close was stepped); with
        ``track`` (the state must be warm: ``value`` set), return the RSI after each."""
        if len(closes) == 0:
            return np.zeros(0) if track else None
        if self._count == 0:
            if track:
                raise ValueError("RSIState.feed(track=True) needs a warm state")
            self.update(float(closes[0]))
            return self.feed(closes[1:])
        if track and self.value is None:
            raise ValueError("RSIState.feed(track=True) needs a warm state")
        change = closes - _shifted(self._prev, closes)
        a = self._a
        gains = a * np.where(change > 0, change, 0.0)
        losses = a * np.where(change < 0, -change, 0.0)
        out = None
        if track:
            g = _affine_array(1.0 - a, gains, self._gain)
            lo = _affine_array(1.0 - a, losses, self._loss)
            self._gain, self._loss = float(g[-1]), float(lo[-1])
            with np.errstate(invalid="ignore", divide="ignore"):  # where the loss is 0
                out = np.where(lo == 0, 100.0, 100.0 * g / (g + lo))
        else:
            self._gain = _affine_end(1.0 - a, gains, self._gain)
            self._loss = _affine_end(1.0 - a, losses, self._loss)
        self._prev = float(closes[-1])
        self._count += len(gains)
        self._settle()
        return out


class ATRState:
    """Wilder ATR seeded with the mean of the first ``n`` true ranges."""

    __slots__ = ("_count", "_prev_close", "_seed", "n", "value")

    def __init__(self, n: int = 14) -> None:
        _check(n)
        self.n = n
        self._count = 0
        self._prev_close = 0.0
        self._seed = 0.0
        self.value: float | None = None

    def update(self, high: float, low: float, close: float) -> float | None:
        """Feed one bar; return the ATR once warm."""
        tr = high - low
        if self._count:
            pc = self._prev_close
            tr = max(tr, abs(high - pc), abs(low - pc))
        self._prev_close = close
        self._count += 1
        n = self.n
        if self.value is not None:
            self.value = ((n - 1.0) / n) * self.value + tr / n
        elif self._count < n:
            self._seed += tr
        else:
            self.value = (self._seed + tr) / n
        return self.value

    def feed(self, high: F64, low: F64, close: F64, track: bool = False) -> F64 | None:
        """``update`` on each bar; the state must be warm (``value`` set). With ``track``,
        return the ATR after each bar."""
        if len(close) == 0:
            return np.zeros(0) if track else None
        if self.value is None:
            raise ValueError("ATRState.feed needs a warm state")
        pc = _shifted(self._prev_close, close)
        tr = np.maximum(high - low, np.maximum(np.abs(high - pc), np.abs(low - pc)))
        n = self.n
        out = None
        if track:
            out = _affine_array((n - 1.0) / n, tr / n, self.value)
            self.value = float(out[-1])
        else:
            self.value = _affine_end((n - 1.0) / n, tr / n, self.value)
        self._prev_close = float(close[-1])
        self._count += len(close)
        return out


class ADXState:
    """Wilder ADX with +DI/-DI (``ta`` seeding); ready after ``2n`` bars.

    ``plus_di``/``minus_di`` are available from bar ``n + 1`` on.
    """

    __slots__ = (
        "_count", "_dx_sum", "_prev", "_sm", "_sp", "_str",
        "adx", "minus_di", "n", "plus_di", "value",
    )  # fmt: skip

    def __init__(self, n: int = 14) -> None:
        _check(n)
        self.n = n
        self._count = 0
        self._prev = (0.0, 0.0, 0.0)
        self._str = self._sp = self._sm = 0.0
        self._dx_sum = 0.0
        self.plus_di: float | None = None
        self.minus_di: float | None = None
        self.adx: float | None = None
        self.value: ADXValue | None = None

    def _smooth(self, tr: float, pdm: float, mdm: float) -> None:
        if self._count <= self.n + 1:  # seeding: plain sums of bars 1..n
            self._str += tr
            self._sp += pdm
            self._sm += mdm
            return
        keep = 1.0 - 1.0 / self.n
        self._str = keep * self._str + tr
        self._sp = keep * self._sp + pdm
        self._sm = keep * self._sm + mdm

    def update(self, high: float, low: float, close: float) -> ADXValue | None:
        """Feed one bar; return ``(adx, +di, -di)`` once the ADX is warm."""
        ph, pl, pc = self._prev
        self._prev = (high, low, close)
        self._count += 1
        if self._count == 1:
            return None
        up, down = high - ph, pl - low
        pdm = up if up > down and up > 0 else 0.0
        mdm = down if down > up and down > 0 else 0.0
        self._smooth(max(high, pc) - min(low, pc), pdm, mdm)
        n = self.n
        if self._count <= n:
            return None
        pdi, mdi = _pct(self._sp, self._str), _pct(self._sm, self._str)
        self.plus_di, self.minus_di = pdi, mdi
        dx = _pct(abs(pdi - mdi), pdi + mdi)
        if self._count < 2 * n:
            self._dx_sum += dx
            return None
        if self.adx is None:
            self.adx = (self._dx_sum + dx) / n
        else:
            self.adx = ((n - 1.0) / n) * self.adx + dx / n
        self.value = ADXValue(self.adx, pdi, mdi)
        return self.value

    def feed(self, high: F64, low: F64, close: F64, track: bool = False) -> F64 | None:
        """``update`` on each bar; the state must be warm (``adx`` set). With ``track``,
        return the ADX after each bar."""
        if len(close) == 0:
            return np.zeros(0) if track else None
        return self._feed(high, low, close, track)[0]

    def feed_di(self, high: F64, low: F64, close: F64) -> tuple[F64, F64, F64]:
        """``feed(track=True)``, also returning +DI and -DI: ``(adx, +di, -di)`` per bar."""
        if len(close) == 0:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        adx, pdi, mdi = self._feed(high, low, close, True)
        assert adx is not None
        return adx, pdi, mdi

    def _feed(self, high: F64, low: F64, close: F64, track: bool) -> tuple[F64 | None, F64, F64]:
        if self.adx is None:
            raise ValueError("ADXState.feed needs a warm state")
        ph, pl, pc = self._prev
        up, down = high - _shifted(ph, high), _shifted(pl, low) - low
        pdm = np.where((up > down) & (up > 0), up, 0.0)
        mdm = np.where((down > up) & (down > 0), down, 0.0)
        pc_ = _shifted(pc, close)
        tr = np.maximum(high, pc_) - np.minimum(low, pc_)
        keep = 1.0 - 1.0 / self.n
        str_ = _affine_array(keep, tr, self._str)
        sp = _affine_array(keep, pdm, self._sp)
        sm = _affine_array(keep, mdm, self._sm)
        pdi, mdi = _pct_array(sp, str_), _pct_array(sm, str_)
        dx = _pct_array(np.abs(pdi - mdi), pdi + mdi)
        n = self.n
        out = None
        if track:
            out = _affine_array((n - 1.0) / n, dx / n, self.adx)
            self.adx = float(out[-1])
        else:
            self.adx = _affine_end((n - 1.0) / n, dx / n, self.adx)
        self._str, self._sp, self._sm = float(str_[-1]), float(sp[-1]), float(sm[-1])
        self.plus_di, self.minus_di = float(pdi[-1]), float(mdi[-1])
        self._prev = (float(high[-1]), float(low[-1]), float(close[-1]))
        self._count += len(close)
        self.value = ADXValue(self.adx, self.plus_di, self.minus_di)
        return out, pdi, mdi


class MACDState:
    """MACD line, signal and histogram; ready after ``slow + signal - 1`` closes."""

    __slots__ = ("_fast", "_signal", "_slow", "value")

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9) -> None:
        self._fast = EMAState(fast)
        self._slow = EMAState(slow)
        self._signal = EMAState(signal)
        self.value: MACDValue | None = None

    def update(self, close: float) -> MACDValue | None:
        """Feed one close; return ``(line, signal, hist)`` once warm."""
        f = self._fast.update(close)
        s = self._slow.update(close)
        if f is None or s is None:
            return None
        line = f - s
        sig = self._signal.update(line)
        self.value = None if sig is None else MACDValue(line, sig, line - sig)
        return self.value

    def feed(self, closes: F64, track: bool = False) -> F64 | None:
        """``update`` on each of ``closes``; the state must be warm (``value`` set). With
        ``track``, return the histogram after each close."""
        if len(closes) == 0:
            return np.zeros(0) if track else None
        if self.value is None:
            raise ValueError("MACDState.feed needs a warm state")
        fast = self._fast.feed(closes, track=True)
        slow = self._slow.feed(closes, track=True)
        assert fast is not None
        assert slow is not None
        lines = np.subtract(fast, slow)
        signals = self._signal.feed(lines, track)
        line, sig = float(lines[-1]), self._signal.value
        assert sig is not None
        self.value = MACDValue(line, sig, line - sig)
        return None if signals is None else lines - signals


class BollingerState:
    """Bollinger bands over ``n`` closes with population std.

    Two exact passes over the window per update: constant time per candle (the window
    length is fixed), and a flat window gives a standard deviation of exactly 0, which
    a running sum of squares could not promise.
    """

    __slots__ = ("_window", "k", "n", "value")

    def __init__(self, n: int = 20, k: float = 2.0) -> None:
        _check(n)
        self.n = n
        self.k = k
        self._window: deque[float] = deque(maxlen=n)
        self.value: BollingerValue | None = None

    def update(self, close: float) -> BollingerValue | None:
        """Feed one close; return ``(mid, upper, lower)`` once warm."""
        self._window.append(close)
        return self._settle()

    def feed(self, closes: F64) -> None:
        """``update`` on each of ``closes`` (only the last ``n`` stay in the window)."""
        if len(closes):
            self._window.extend(closes[-self.n :].tolist())
            self._settle()

    def _settle(self) -> BollingerValue | None:
        if len(self._window) < self.n:
            return None
        self.value = bands(self._window, self.n, self.k)
        return self.value


def bands(window: Sequence[float], n: int, k: float) -> BollingerValue:
    """``BollingerState``'s value for a full window of ``n`` closes (oldest first)."""
    mid = math.fsum(window) / n
    std = math.sqrt(math.fsum([(v - mid) * (v - mid) for v in window]) / n)
    return BollingerValue(mid, mid + k * std, mid - k * std)
