"""``sma_cross``: the reference moving-average crossover, for comparing backtesters.

Parameters: ``fast`` (default 20) and ``slow`` (default 50) simple moving averages of
the close, and ``allow_short``.

* A cross up is ``fast < slow`` on the previous bar and ``fast > slow`` on this one
  (strict on both sides, as backtesting.py's ``crossover``); a cross down mirrors it.
* Long-only: LONG (confidence 100) on a cross up; SHORT on a cross down, meant as
  "exit the long" — it carries ``atr = 0`` so an engine never opens a short on it.
  FLAT otherwise (as backtesting.py's ``crossover``: a signal on the cross bar only).
* With ``allow_short``: a cross carries an ATR either way, and the futures engine
  reverses on it in one step: it closes the opposite position and opens the new side
  at the same fill (the signal bar's close or the next bar's open), as backtesting.py's
  ``position.close(); buy()`` does.

The ATR carried by a signal (the futures stop distance) is the mean true range of the
last 14 bars (Cutler's ATR): it depends on those 15 bars alone, so skipping bars in a
backtest only has to keep the last ones.

Live and paper: an engine acts on the last signal of the candles one scan reads. When a
scan reads several candles at once (a reconnect backfill), a cross on an earlier one of
them is not traded. sma_cross is the backtest reference; the seed strategies' signals describe a
state that lasts, not a one-bar event.

Sizing is not the strategy's business: the backtester runs it all-in (100 % of the
engine's equity at the fill price).
"""

from __future__ import annotations

import math
import sys
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kinetic.domain import Candle, Direction, Signal
from kinetic.strategy.base import Strategy, UnfrozenSignal, new_flat
from kinetic.strategy.registry import register

if TYPE_CHECKING:
    from config import UnifiedConfig
    from kinetic.marketdata.files import CandleArrays

ATR_PERIOD = 14
RESYNC = 64  # running sums are recomputed exactly after this many updates
# the running means' sign is trusted beyond this many units (2**-53) of |value|: an
# error bound of 526 units after RESYNC updates (see ``SmaCrossStrategy._sign``), doubled
_TOL_UNITS = 2.0**-43
_TOL_FLOOR = 2.0**-1000  # subnormal results round absolutely, not relatively
# enum members as module globals (an Enum class's attribute costs a ``__getattr__`` hook)
_LONG, _SHORT = Direction.LONG, Direction.SHORT


@dataclass(slots=True)
class _ExactMean:
    """The last ``n`` values; their mean is ``math.fsum(window) / n`` (correctly rounded).

    A running sum drifts by an ulp or two; on a flat stretch the two averages must come
    out exactly equal, or rounding noise would count as a cross. ``_SymbolState`` keeps
    running sums beside the windows only to tell the sign of ``fast - slow`` when it is
    certain (see ``SmaCrossStrategy._sign``).
    """

    n: int
    window: deque[float] = field(default_factory=deque)

    def mean(self) -> float:
        return math.fsum(self.window) / self.n


def _true_ranges(high: list[float], low: list[float], close: list[float]) -> list[float]:
    """The true range of bars 1.. of the columns, bar 0 giving the first previous close."""
    # max(high - low, |high - prev|, |low - prev|), the same float: subtraction is
    # monotonic, so the largest of the three is this one
    return [max(h, p) - min(lo, p) for h, lo, p in zip(high[1:], low[1:], close, strict=False)]


def _mean(values: Collection[float]) -> float:
    """Their mean, summed left to right (the order the ATR has always been summed in)."""
    if not values:
        return 0.0
    total = 0.0
    for value in values:
        total += value
    return total / len(values)


if sys.version_info < (3, 12):  # pragma: no branch - the interpreter decides

    def _mean(values: Collection[float]) -> float:
        """``sum`` of floats before 3.12 adds left to right in plain doubles, from 0.0:
        the very sums of the loop (3.12 compensates them, so the loop is kept there)."""
        return sum(values, 0.0) / len(values) if values else 0.0


def _sign_of(diff: float) -> int:
    """-1, 0 or 1 as ``diff`` is below, at (or nan) or above 0."""
    return 1 if diff > 0 else -1 if diff < 0 else 0


def _exact_sign(fast: _ExactMean, slow: _ExactMean) -> int:
    return _sign_of(fast.mean() - slow.mean())


def _atr_window() -> deque[float]:
    return deque(maxlen=ATR_PERIOD)


@dataclass(slots=True)
class _SymbolState:
    fast: _ExactMean
    slow: _ExactMean
    # the true ranges of the last ATR_PERIOD bars, each computed once (a FLAT signal
    # carries their mean on every bar)
    ranges: deque[float] = field(default_factory=_atr_window)
    last_close: float | None = None
    # the sign (-1, 0, 1) of fast - slow on the previous bar, as the exact means give it
    # (0 also for nan: neither side of a cross)
    prev_sign: int | None = None
    last_cross: Direction | None = None
    bars_since_cross: int = 0
    # running sums of the two windows, exact (``fsum``) after a resync and updated since
    # by ``drift`` additions and subtractions; ``top`` bounds |value| of what they hold
    fast_sum: float = 0.0
    slow_sum: float = 0.0
    drift: int = RESYNC  # RESYNC: recompute the sums before using them
    top: float = 0.0
    # backtests: after a fast-forward, the series the state follows and its next bar.
    # While set, the windows, ranges and sums above are stale: bar ``cursor`` is decided
    # from the series' columns (``_looked_up``) and ``_materialise`` brings them back
    series: CandleArrays | None = None
    cursor: int = 0


class SmaCrossStrategy:
    """Simple moving-average crossover with per-symbol incremental state."""

    name = "sma_cross"
    all_in = True  # the backtester sizes its entries at 100 % of the engine's equity

    def __init__(self, fast: int = 20, slow: int = 50, allow_short: bool = False) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"sma_cross needs 1 <= fast < slow, got fast={fast} slow={slow}")
        self.fast = fast
        self.slow = slow
        self.allow_short = allow_short
        self.warmup = slow
        self._states: dict[str, _SymbolState] = {}
        self._reasons: dict[Direction, str] = {}
        # symbol -> (arrays, true ranges, certain signs): ``_columns``
        self._columns_of: dict[str, tuple[object, np.ndarray, np.ndarray, float]] = {}

    def with_params(self, params: dict[str, str]) -> SmaCrossStrategy:
        """Return a copy configured from ``--param KEY=VALUE`` strings."""
        unknown = sorted(set(params) - {"fast", "slow", "allow_short"})
        if unknown:
            raise ValueError(
                f"sma_cross: unknown parameter(s) {unknown}; known: fast, slow, allow_short"
            )
        try:
            fast = int(params.get("fast", self.fast))
            slow = int(params.get("slow", self.slow))
        except ValueError:
            raise ValueError("sma_cross: fast and slow must be integers") from None
        short = params.get("allow_short", str(self.allow_short)).lower() in {"1", "true", "yes"}
        return SmaCrossStrategy(fast, slow, short)

    def reset(self, symbol: str) -> None:
        """Forget the state of ``symbol``."""
        self._states.pop(symbol, None)

    def _state(self, symbol: str) -> _SymbolState:
        state = self._states.get(symbol)
        if state is None:
            state = _SymbolState(_ExactMean(self.fast), _ExactMean(self.slow))
            self._states[symbol] = state
        return state

    def on_candle(self, candle: Candle) -> Signal:
        """Consume one closed candle; return the crossover decision."""
        symbol = candle.symbol
        st = self._states.get(symbol)
        if st is None:
            st = self._state(symbol)
        series = st.series
        if series is not None:  # after a fast-forward (backtests)
            # bar ``cursor`` of the series the state follows is looked up; any other
            # candle refills the windows first and steps (``len(series)``, without its
            # method: the length of its columns)
            i = st.cursor
            if (
                i < len(series.open_time_ms) and candle.open_time_ms == series.open_time_ms.item(i)
                and candle.close == series.close.item(i) and candle.high == series.high.item(i)
                and candle.low == series.low.item(i)
            ):  # fmt: skip
                return self._looked_up(st, candle, i)
            self._materialise(symbol, st)
        return self._stepped(st, candle)

    def _stepped(self, st: _SymbolState, candle: Candle) -> Signal:
        """``on_candle`` from the state's own windows and sums."""
        symbol = candle.symbol
        close = candle.close
        prev = st.last_close
        if prev is not None:
            # max(high, prev) - min(low, prev), the same floats (nan included: ``max``
            # keeps its first argument unless the second is greater), without the calls
            high, low = candle.high, candle.low
            st.ranges.append((prev if prev > high else high) - (prev if prev < low else low))
        st.last_close = close
        # The sign of fsum(fast)/f - fsum(slow)/s without the two fsum on most bars: the
        # running sums are updated with (sum + close) - oldest. With u = 2**-53 and
        # M >= |every value| held since the last resync (``top``), after k <= RESYNC
        # updates each running mean is within ((2k + 1) * 2 + 1) u M <= 259 u M of the
        # true mean, their rounded difference d within 520 u M of the true difference,
        # and the exact computation (two correctly rounded sums, two divisions, a
        # subtraction) within 6 u M of it. Beyond 1024 u M (``_TOL_UNITS``; plus an
        # absolute floor for subnormal results) d has the exact result's sign and the
        # exact result is not 0; within it, or for nan, the means are computed exactly.
        fast, slow = st.fast.window, st.slow.window
        if len(slow) == self.slow and st.drift < RESYNC:
            out_fast, out_slow = fast.popleft(), slow.popleft()
            fast.append(close)
            slow.append(close)
            st.drift += 1
            st.fast_sum = fast_sum = st.fast_sum + close - out_fast
            st.slow_sum = slow_sum = st.slow_sum + close - out_slow
            top = st.top
            a = close if close >= 0.0 else -close  # ``abs``: nan is not above ``top``
            if a > top:
                st.top = top = a
            d = fast_sum / self.fast - slow_sum / self.slow
            tol = top * _TOL_UNITS + _TOL_FLOOR  # > 0 (or nan: both tests fail)
            if d > tol:  # ``abs(d) > tol`` and the sign of ``d``, in two comparisons
                sign: int | None = 1
            elif -d > tol:
                sign = -1
            else:
                sign = _exact_sign(st.fast, st.slow)
        else:
            sign = self._sign(st, close)
        if sign is None:
            return new_flat(symbol, close, candle.close_time_ms, 0.0, None, "warming up")
        prev_sign, st.prev_sign = st.prev_sign, sign
        if prev_sign is not None and prev_sign * sign < 0:  # -1 to 1 (up) or 1 to -1
            st.last_cross = _LONG if sign > 0 else _SHORT
            st.bars_since_cross = 0
        else:
            st.bars_since_cross += 1
        # a signal on the cross bar only (see the module doc)
        if st.last_cross is None or st.bars_since_cross > 0:
            # the ATR rides along: an engine re-anchors a stop on a later fill with it
            return new_flat(symbol, close, candle.close_time_ms, _mean(st.ranges), None, "no cross")
        return self._signal(candle, st.last_cross, st.ranges)

    def _looked_up(self, st: _SymbolState, candle: Candle, i: int) -> Signal:
        """``on_candle`` on bar ``i`` of the series the state follows (``fast_forward``):
        the sign from ``_columns`` where it is certain, else from the exact means of the
        series' windows (what ``_sign`` and ``_exact_sign`` compute); the ATR window is
        the series' ranges of the last ``ATR_PERIOD`` bars (the very floats ``on_candle``
        appends). The windows and sums stay stale until ``_materialise``."""
        series = st.series
        assert series is not None
        cached = self._columns_of.get(candle.symbol)
        if cached is None or cached[0] is not series:
            self._columns(candle.symbol, series)
            cached = self._columns_of[candle.symbol]
        _, ranges, signs, _ = cached
        st.cursor = i + 1
        st.last_close = close = candle.close
        sign = signs.item(i)
        if not sign:
            sign = self._exact_at(series, i + 1)
        prev_sign, st.prev_sign = st.prev_sign, sign
        if prev_sign is not None and prev_sign * sign < 0:
            st.last_cross = _LONG if sign > 0 else _SHORT
            st.bars_since_cross = 0
        else:
            st.bars_since_cross += 1
        first = i + 1 - ATR_PERIOD  # ``max(1, i + 1 - ATR_PERIOD)``, without the call
        window = ranges[first if first > 1 else 1 : i + 1].tolist()
        if st.last_cross is None or st.bars_since_cross > 0:
            return new_flat(candle.symbol, close, candle.close_time_ms, _mean(window), None,
                            "no cross")  # fmt: skip
        return self._signal(candle, st.last_cross, window)

    def _exact_at(self, series: CandleArrays, stop: int) -> int:
        """The sign of the exact means' difference over the windows ending at ``stop - 1``."""
        closes = series.close[stop - self.slow : stop].tolist()
        fast_sum, slow_sum = math.fsum(closes[-self.fast :]), math.fsum(closes)
        return _sign_of(fast_sum / self.fast - slow_sum / self.slow)

    def _sign(self, st: _SymbolState, close: float) -> int | None:
        """``on_candle``'s other cases: warming up (None) or a resync of the sums.

        Pushes ``close`` into both windows and returns the sign of the exact means'
        difference; the running sums restart from ``fsum`` and ``top`` from the
        windows' values.
        """
        fast, slow = st.fast.window, st.slow.window
        if len(slow) < self.slow:  # warming up: no running sums yet
            fast.append(close)
            if len(fast) > self.fast:
                fast.popleft()
            slow.append(close)
            if len(slow) < self.slow:
                return None
        else:
            fast.popleft()
            slow.popleft()
            fast.append(close)
            slow.append(close)
        st.drift = 0
        st.fast_sum, st.slow_sum = math.fsum(fast), math.fsum(slow)
        st.top = max(map(abs, slow))
        # ``_exact_sign(st.fast, st.slow)`` from the sums just taken (the same ``fsum``s)
        return _sign_of(st.fast_sum / self.fast - st.slow_sum / self.slow)

    # ------------------------------------------------------------ fast-forward (backtests)
    def quiet_bars(self, symbol: str, arrays: CandleArrays) -> np.ndarray:
        """Bars on which ``on_candle`` certainly returns FLAT "no cross" (see ``FastForward``).

        A bar is quiet when it is past the warm-up and is not a cross. The window means
        are recomputed vectorised (any summation order), so each difference
        ``fast - slow`` is known only up to a bound on the rounding of both
        computations; a sign counts only when the difference is beyond that bound
        (``_columns``).
        """
        close = np.asarray(arrays.close, dtype=np.float64)
        n = len(close)
        quiet = np.zeros(n, np.bool_)
        if n <= self.slow + 1 or not np.isfinite(close).all():
            return quiet
        signs = self._columns(symbol, arrays)[1][self.slow - 1 :]  # from bar slow - 1
        pos, neg = signs > 0, signs < 0
        # bar k + 1 (in pos's index) is certainly not a cross when the two signs say so
        no_up = pos[:-1] | neg[1:]
        no_down = neg[:-1] | pos[1:]
        no_cross = no_up & no_down  # for bars slow .. n-1
        # quiet: bars slow+1 .. n-1 with no cross on the bar
        quiet[self.slow + 1 :] = no_cross[1:]
        return quiet

    def _columns(self, symbol: str, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray]:
        """``(ranges, signs)`` of ``arrays``, computed once per series (``fast_forward``).

        ``ranges[k]``: bar k's true range, the very float ``on_candle`` computes (``max``
        and ``min`` of two floats return the first unless the second is strictly beyond
        it, as ``np.where`` does here); ``ranges[0]`` is unused. ``signs[k]``: the sign of
        ``fast - slow`` on bar k where the vectorised difference is beyond the rounding
        bound, 0 where it is not (or before the warm-up, or with a non-finite close):
        unknown. The bound: rounding of either computation (the exact means, this
        vectorised one) is at most ``(fast + slow + 8)`` units in the last place of the
        largest close; the margin is four times that, so beyond it the exact means'
        difference has the same sign and is not 0.
        """
        cached = self._columns_of.get(symbol)
        if cached is None or cached[0] is not arrays:
            cached = self._columns_of[symbol] = (arrays, *self._compute_columns(arrays))
        return cached[1], cached[2]

    def _compute_columns(self, arrays: CandleArrays) -> tuple[np.ndarray, np.ndarray, float]:
        """``_columns``' two columns and the largest ``|close|`` of the series (nan or
        inf with a non-finite close: a bound that sends every bar to the exact means)."""
        close = np.asarray(arrays.close, dtype=np.float64)
        high = np.asarray(arrays.high, dtype=np.float64)
        low = np.asarray(arrays.low, dtype=np.float64)
        n = len(close)
        ranges = np.zeros(n, np.float64)
        prev = close[:-1]
        top = np.where(prev > high[1:], prev, high[1:])  # max(high, prev)
        bottom = np.where(prev < low[1:], prev, low[1:])  # min(low, prev)
        ranges[1:] = top - bottom
        signs = np.zeros(n, np.int8)
        largest = float(np.abs(close).max()) if n else 0.0
        if n >= self.slow and np.isfinite(close).all():
            # window sums as a correlation with ones (a dot product per window: about 3x
            # faster than summing a sliding-window view; any summation order is covered)
            fast = np.correlate(close, np.ones(self.fast), "valid")[self.slow - self.fast :]
            fast /= self.fast
            slow = np.correlate(close, np.ones(self.slow), "valid") / self.slow
            diff = fast - slow  # diff[k] is bar k + slow - 1
            tol = 4.0 * (self.fast + self.slow + 8) * 2.0**-53 * largest
            signs[self.slow - 1 :] = (diff > tol).astype(np.int8) - (diff < -tol)
        return ranges, signs, largest

    def fast_forward(self, symbol: str, arrays: CandleArrays, start: int, stop: int) -> None:
        """Advance over quiet bars ``start..stop-1``: the state then follows ``arrays``.

        The sign on bar ``stop - 1`` comes from ``_columns`` (computed once per series)
        where it is certain, else from the exact means. The windows, ranges and running
        sums are not refilled here: the next bar, when it is bar ``stop`` of ``arrays``,
        is decided from the columns (``_looked_up``), and any other candle first has them
        refilled from the series (``_materialise``), as they stand after bar ``stop - 1``.
        """
        if stop <= start:
            return
        if start < self.slow + 1:
            raise ValueError("sma_cross: bars before the warm-up are never fast-forwarded")
        st = self._states.get(symbol)
        if st is None:
            st = self._state(symbol)
        cached = self._columns_of.get(symbol)
        if cached is None or cached[0] is not arrays:
            self._columns(symbol, arrays)
            cached = self._columns_of[symbol]
        sign = cached[2].item(stop - 1)
        if not sign:  # too close to call in floats: the exact means, as ``_sign`` does
            sign = self._exact_at(arrays, stop)
        st.prev_sign = sign
        st.bars_since_cross += stop - start
        st.last_close = arrays.close.item(stop - 1)
        st.series, st.cursor = arrays, stop

    def _materialise(self, symbol: str, st: _SymbolState) -> None:
        """Refill the windows, ranges and running sums from the series the state follows,
        as they stand after bar ``cursor - 1``; the state then steps on its own again.

        The running sums restart from ``fsum`` of the windows, as a resync does: the next
        bar's sign is then the exact one by ``on_candle``'s bound (one update). ``top`` is
        the series' largest |close|, not the window's: any bound at or above what the
        sums hold keeps every sign exact, so only the speed can differ.
        """
        series, stop = st.series, st.cursor
        assert series is not None
        st.series = None
        cached = self._columns_of.get(symbol)
        if cached is None or cached[0] is not series:
            self._columns(symbol, series)
            cached = self._columns_of[symbol]
        _, ranges, _, largest = cached
        closes = series.close[stop - self.slow : stop].tolist()
        fast = closes[-self.fast :]
        st.fast_sum, st.slow_sum = math.fsum(fast), math.fsum(closes)
        st.top = largest
        st.drift = 0
        window = st.fast.window
        window.clear()
        window.extend(fast)
        window = st.slow.window
        window.clear()
        window.extend(closes)
        window = st.ranges
        window.clear()
        window.extend(ranges[max(1, stop - ATR_PERIOD) : stop].tolist())

    def settle(self, symbol: str) -> None:
        """Bring ``symbol``'s windows, ranges and sums up to date (after a fast-forward
        they are refilled only when a candle needs them)."""
        st = self._states.get(symbol)
        if st is not None and st.series is not None:
            self._materialise(symbol, st)

    def _signal(self, candle: Candle, direction: Direction, ranges: Collection[float]) -> Signal:
        reason = self._reasons.get(direction)
        if reason is None:
            word = "up" if direction is _LONG else "down"
            reason = f"SMA{self.fast} crossed {word} SMA{self.slow}"
            self._reasons[direction] = reason
        atr = 0.0  # a long-only exit never opens a short: no stop distance
        if direction is _LONG or self.allow_short:
            atr = max(_mean(ranges), candle.close * 1e-6)
        # ``Signal(candle.symbol, direction, 100, candle.close, candle.close_time_ms, atr,
        # None, reason)``, slot by slot (confidence 100 passes its ``__post_init__``)
        sig = UnfrozenSignal()
        sig.symbol = candle.symbol
        sig.direction = direction
        sig.confidence = 100
        sig.price = candle.close
        sig.ts_ms = candle.close_time_ms
        sig.atr = atr
        sig.regime = None
        sig.reason = reason
        sig.components = {}
        sig.__class__ = Signal  # type: ignore[assignment]
        return sig  # type: ignore[return-value]


@register("sma_cross")
def _build(config: UnifiedConfig, engine: str) -> Strategy:
    """Defaults (20/50, long-only); the backtester applies ``--param`` via ``with_params``."""
    return SmaCrossStrategy()
