"""Market-structure primitives (Smart Money Concepts), all incremental and look-ahead free.

* ``SwingDetector``: fractal swings. Bar ``i`` is a swing high when its high is strictly
  above the highs of the ``n`` bars before it and not below those of the ``n`` bars
  after it (lows mirrored). It is only *confirmed* when bar ``i + n`` closes, and is
  reported then, never earlier.
* ``MarketStructure``: a close beyond the last confirmed swing high (low) is a break.
  In the direction of the current trend (or with no trend yet) it is a break of
  structure (BOS); against it, a change of character (CHoCH) that flips the trend.
  Each swing level can be broken once.
* Fair value gaps: three bars where bar 3's low is above bar 1's high (bullish, zone
  ``[high1, low3]``) or bar 3's high is below bar 1's low (bearish, ``[high3, low1]``).
* Order block: on a bullish break, the last down candle (close < open) among the bars
  since the broken swing formed; its ``[low, high]`` is the zone (bearish mirrored).
* Zones are mitigated (dropped) once a close goes through their far edge.
* ``fib_levels``: retracement prices of a leg; ``retracement`` says where a price sits.
* ``HTFAggregator``: builds higher-timeframe bars from base candles and emits a bar only
  when it is closed (its last base candle seen, or a later bucket started).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kinetic.domain import Candle, Direction

FIB_RATIOS = (0.236, 0.382, 0.5, 0.618, 0.705, 0.786)


@dataclass(frozen=True, slots=True)
class Swing:
    """A confirmed swing point at bar ``index`` (0-based per symbol)."""

    index: int
    price: float
    high: bool


@dataclass(frozen=True, slots=True)
class StructureEvent:
    """A break of a swing level: ``kind`` is ``"BOS"`` or ``"CHoCH"``."""

    kind: str
    side: Direction
    level: float
    index: int


@dataclass(frozen=True, slots=True)
class Zone:
    """Price zone ``[low, high]`` of ``side`` (LONG = demand), known from bar ``index`` on."""

    kind: str  # "FVG" or "OB"
    side: Direction
    low: float
    high: float
    index: int

    def contains(self, low: float, high: float) -> bool:
        """Return True when the range ``[low, high]`` overlaps the zone."""
        return low <= self.high and high >= self.low

    def mitigated_by(self, close: float) -> bool:
        """Return True when ``close`` went through the zone's far edge."""
        return close < self.low if self.side is Direction.LONG else close > self.high


class SwingDetector:
    """Fractal swing highs/lows of ``n`` bars each side, confirmed ``n`` bars later."""

    __slots__ = ("_bars", "count", "n")

    def __init__(self, n: int = 3) -> None:
        if n < 1:
            raise ValueError(f"swing size must be >= 1, got {n}")
        self.n = n
        self._bars: deque[tuple[float, float]] = deque(maxlen=2 * n + 1)
        self.count = 0

    def update(self, high: float, low: float) -> list[Swing]:
        """Feed one bar; return the swings confirmed by it (at most one high and one low)."""
        self._bars.append((high, low))
        self.count += 1
        if len(self._bars) < 2 * self.n + 1:
            return []
        n = self.n
        bars = self._bars
        mid_h, mid_l = bars[n]
        index = self.count - 1 - n
        is_high = is_low = True
        for i, (h, lo) in enumerate(bars):
            if i == n:
                continue
            if h > mid_h or (i < n and h == mid_h):
                is_high = False
            if lo < mid_l or (i < n and lo == mid_l):
                is_low = False
        found: list[Swing] = []
        if is_high:
            found.append(Swing(index, mid_h, True))
        if is_low:
            found.append(Swing(index, mid_l, False))
        return found


class MarketStructure:
    """Trend, last swings and BOS/CHoCH events from confirmed swings and closes."""

    __slots__ = ("last_event", "last_high", "last_low", "leg_high", "leg_low", "trend")

    def __init__(self) -> None:
        self.trend = Direction.FLAT
        self.last_high: Swing | None = None  # unbroken swing high, if any
        self.last_low: Swing | None = None
        self.leg_high: Swing | None = None  # latest confirmed swings (broken or not)
        self.leg_low: Swing | None = None
        self.last_event: StructureEvent | None = None

    def add_swing(self, swing: Swing) -> None:
        """Record a newly confirmed swing."""
        if swing.high:
            self.last_high = self.leg_high = swing
        else:
            self.last_low = self.leg_low = swing

    def on_close(self, close: float, index: int) -> StructureEvent | None:
        """Check the close of bar ``index`` against the swing levels; return a break."""
        event = None
        if self.last_high is not None and close > self.last_high.price:
            kind = "CHoCH" if self.trend is Direction.SHORT else "BOS"
            event = StructureEvent(kind, Direction.LONG, self.last_high.price, index)
            self.last_high = None
        elif self.last_low is not None and close < self.last_low.price:
            kind = "CHoCH" if self.trend is Direction.LONG else "BOS"
            event = StructureEvent(kind, Direction.SHORT, self.last_low.price, index)
            self.last_low = None
        if event is not None:
            self.trend = event.side
            self.last_event = event
        return event

    def leg(self) -> tuple[float, float] | None:
        """Return ``(low, high)`` of the latest swing range, once both exist."""
        if self.leg_high is None or self.leg_low is None:
            return None
        return self.leg_low.price, self.leg_high.price


def detect_fvg(bars: list[Candle], index: int) -> Zone | None:
    """Return the fair value gap formed by the last three of ``bars`` (the last is ``index``)."""
    if len(bars) < 3:
        return None
    first, third = bars[-3], bars[-1]
    if third.low > first.high:
        return Zone("FVG", Direction.LONG, first.high, third.low, index)
    if third.high < first.low:
        return Zone("FVG", Direction.SHORT, third.high, first.low, index)
    return None


def find_order_block(bars: list[Candle], side: Direction, index: int) -> Zone | None:
    """Return the last opposite-colour candle of ``bars`` as the order block of ``side``."""
    for bar in reversed(bars):
        opposite = bar.close < bar.open if side is Direction.LONG else bar.close > bar.open
        if opposite:
            return Zone("OB", side, bar.low, bar.high, index)
    return None


def fib_levels(low: float, high: float, side: Direction) -> dict[float, float]:
    """Return retracement prices of the leg ``low..high`` for a ``side`` entry.

    For LONG the leg is an up-move and ratio ``r`` sits at ``high - r * (high - low)``;
    for SHORT it is a down-move, at ``low + r * (high - low)``.
    """
    span = high - low
    if side is Direction.LONG:
        return {r: high - r * span for r in FIB_RATIOS}
    return {r: low + r * span for r in FIB_RATIOS}


def retracement(price: float, low: float, high: float, side: Direction) -> float:
    """Return how far ``price`` retraced the leg for ``side`` (0 = none, 1 = all of it)."""
    span = high - low
    if span <= 0:
        return 0.0
    return (high - price) / span if side is Direction.LONG else (price - low) / span


class HTFAggregator:
    """Aggregate base candles into closed higher-timeframe candles of ``factor`` bars."""

    __slots__ = ("_bar_ms", "_bucket", "_current", "factor")

    def __init__(self, factor: int) -> None:
        if factor < 1:
            raise ValueError(f"HTF factor must be >= 1, got {factor}")
        self.factor = factor
        self._bar_ms: int | None = None
        self._bucket: int | None = None
        self._current: Candle | None = None

    def update(self, c: Candle) -> list[Candle]:
        """Feed one closed base candle; return the HTF candles closed by it (0, 1 or 2)."""
        if self._bar_ms is None:
            self._bar_ms = c.close_time_ms - c.open_time_ms + 1
        span = self._bar_ms * self.factor
        bucket = c.open_time_ms // span
        closed: list[Candle] = []
        if self._current is not None and bucket != self._bucket:
            closed.append(self._current)  # a gap skipped this bucket's last base candle
            self._current = None
        cur = self._current
        if cur is None:
            cur = Candle(c.symbol, bucket * span, bucket * span + span - 1, c.open, c.high,
                         c.low, c.close, c.volume)  # fmt: skip
        else:
            cur = Candle(c.symbol, cur.open_time_ms, cur.close_time_ms, cur.open,
                         max(cur.high, c.high), min(cur.low, c.low), c.close,
                         cur.volume + c.volume)  # fmt: skip
        self._bucket = bucket
        if c.close_time_ms >= cur.close_time_ms:
            closed.append(cur)
            self._current = None
        else:
            self._current = cur
        return closed
