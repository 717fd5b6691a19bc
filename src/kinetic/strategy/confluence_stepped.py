"""A stepped bar's ``confluence`` signal from the precomputed per-bar values (backtests).

``ConfluenceStrategy.on_candle`` on bar ``i`` of a series it declared (``action_bars``)
reads that bar's values from ``confluence_arrays.Lookup`` instead of its incremental
state. The signal is the one the per-bar path builds (``_indicators``, ``_patterns``,
``SignalScorer.score``, ``ConfluenceStrategy._signal``): the same evidence in the same
order, the same float operations on the same values, the same components (in the same
order) and the same reason text. Only the intermediate objects are left out: no
``Evidence`` or ``Score``, no previous ``Candle`` (the patterns are the series' own,
computed exactly with it), and a detail string is formatted only for evidence that
counts (points > 0), the only detail the reason shows; a part's rounding and text are
kept per signed points (``_PARTS``: most are a weight times 1 or 0.5) and the ``Signal``
is stored slot by slot (``UnfrozenSignal``).
tests/unit/strategy/test_confluence_arrays.py compares every field (and the components'
order) against a strategy fed every candle.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING

from kinetic.domain import Candle, Direction, Regime, Signal
from kinetic.strategy.base import UnfrozenSignal
from kinetic.strategy.confluence_arrays import (
    BEARISH,
    BULLISH,
    DOJI,
    HAMMER,
    MACD_DOWN,
    MACD_UP,
    RESISTANCE,
    SIDEWAYS,
    STAR,
    SUPPORT,
    TRENDING,
    TURNING,
)
from kinetic.strategy.scoring import DOJI_AT_LEVEL, OPPOSING_COST

if TYPE_CHECKING:
    from collections.abc import Mapping

    from kinetic.strategy.confluence_arrays import Lookup

LONG, SHORT, FLAT = Direction.LONG, Direction.SHORT, Direction.FLAT
# one piece of evidence that counts: name, side, points, detail (None: none)
_Item = tuple[str, Direction, float, str | None]


_REGIMES = {0: Regime.TRANSITIONAL, TRENDING: Regime.TRENDING, SIDEWAYS: Regime.SIDEWAYS}
_SIDE_TEXT = {LONG: LONG.value, SHORT: SHORT.value}


def regime_of(code: int) -> Regime:
    """The regime a bar's flags name (``RegimeDetector.detect`` of its ADX)."""
    return _REGIMES[code & (TRENDING | SIDEWAYS)]


def _indicators(
    out: list[_Item], weights: Mapping[str, float], cols: Lookup, i: int, code: int
) -> None:
    """Bar ``i``'s indicator evidence with points > 0 (``SignalScorer``'s points, weight x
    clamp01) into ``out``, in ``on_candle``'s order; ``_patterns`` then adds the rest."""
    get = weights.get
    spread = cols.spread.item(i)
    if spread:
        s = abs(spread) / 1.0
        p = get("ema_trend", 0.0) * (0.0 if s < 0.0 else 1.0 if s > 1.0 else s)
        if p > 0:
            out.append(("ema_trend", LONG if spread > 0 else SHORT, p,
                        f"EMA spread {spread:+.2f}%"))  # fmt: skip
    if code & (MACD_UP | MACD_DOWN):
        p = get("macd", 0.0) * 1.0
        if p > 0:
            out.append(("macd", LONG if code & MACD_UP else SHORT, p, None))
    rsi = cols.rsi.item(i)
    if rsi < 35.0 or rsi > 65.0:
        side = LONG if rsi < 35.0 else SHORT
        s = (35.0 - rsi) / 15.0 if side is LONG else (rsi - 65.0) / 15.0
        p = get("rsi", 0.0) * (0.0 if s < 0.0 else 1.0 if s > 1.0 else s)
        if p > 0:
            out.append(("rsi", side, p, f"RSI {rsi:.1f}"))
    k = cols.stoch_k.item(i)
    if k < 20.0 or k > 80.0:  # k nan (no stochastic value yet): neither
        p = get("stochastic", 0.0) * (1.0 if code & TURNING else 0.5)
        if p > 0:
            out.append(("stochastic", LONG if k < 20.0 else SHORT, p, f"%K {k:.1f}"))


def _patterns(
    out: list[_Item], weights: Mapping[str, float], cols: Lookup, i: int, code: int, close: float
) -> None:
    get = weights.get
    if code & (BULLISH | BEARISH):
        p = get("engulfing", 0.0) * 1.0
        if p > 0:
            bull = code & BULLISH
            out.append(("engulfing", LONG if bull else SHORT, p,
                        "bullish engulfing" if bull else "bearish engulfing"))  # fmt: skip
    if code & (HAMMER | STAR):
        p = get("hammer_star", 0.0) * 1.0
        if p > 0:
            up = code & HAMMER
            out.append(("hammer_star", LONG if up else SHORT, p,
                        "hammer" if up else "shooting star"))  # fmt: skip
    if code & (SUPPORT | RESISTANCE):  # the level in reach that the evidence names
        level, tolerance = cols.level.item(i), 0.5 * cols.atr.item(i)
        dist = abs(close - level)
        if tolerance > 0 and dist <= tolerance:
            bonus = DOJI_AT_LEVEL if code & DOJI else 0.0
            s = 1.0 - 0.5 * dist / tolerance + bonus
            p = get("support_resistance", 0.0) * (0.0 if s < 0.0 else 1.0 if s > 1.0 else s)
            if p > 0:  # clamp01 twice (the evidence's, the scorer's) is clamp01 once
                support = code & SUPPORT
                out.append(("support_resistance", LONG if support else SHORT, p,
                            f"{'support' if support else 'resistance'} {level:g}"))  # fmt: skip


_value = itemgetter(0)
_SCALES: dict[float, str] = {}  # confidence scale -> its ``:g`` text


def _scale_text(scale: float) -> str:
    text = _SCALES.get(scale)
    if text is None:
        if len(_SCALES) >= 64:
            _SCALES.clear()
        text = _SCALES[scale] = f"{scale:g}"
    return text


# signed points -> (round(points, 6), its ``+.1f`` text): the weights times 1 or 0.5 that
# most parts are (macd, stochastic, patterns) come back every bar; bounded. The parts
# whose points are a weight times a strength drawn from a price (ema_trend, rsi,
# support_resistance) seldom come back: not kept.
_PARTS: dict[float, tuple[float, str]] = {}
_PARTS_MAX = 4096
_DRAWN = frozenset(("ema_trend", "rsi", "support_resistance"))


def _explained(items: list[_Item], side: Direction, raw: int) -> tuple[dict[str, float], str]:
    """``SignalScorer.score``'s components and reason for ``items`` won by ``side``."""
    # the names are distinct: no ``_against`` parts, each part its one signed points
    components = {}
    pieces = []
    for name, s, p, detail in items:
        signed = p if s is side else -p
        if name in _DRAWN:
            value = round(signed, 6)
            components[name] = value
            pieces.append((value, f"{name} {value:+.1f} ({detail})"))
            continue
        part = _PARTS.get(signed)
        if part is None:
            if len(_PARTS) >= _PARTS_MAX:
                _PARTS.clear()
            value = round(signed, 6)
            part = _PARTS[signed] = (value, f"{value:+.1f}")
        components[name] = part[0]
        pieces.append((part[0], f"{name} {part[1]} ({detail})" if detail else f"{name} {part[1]}"))
    # the scorer sorts the components by descending value, stably (reverse=True keeps
    # equal values in order); no value is nan (points > 0)
    pieces.sort(key=_value, reverse=True)
    text = ", ".join([piece for _, piece in pieces])
    return components, f"{_SIDE_TEXT[side]} confluence {raw}: {text}"


def stepped_signal(
    cols: Lookup,
    i: int,
    candle: Candle,
    weights: Mapping[str, float],
    scale: float,
    min_confidence: int,
    code: int,
) -> Signal:
    """``on_candle``'s signal on bar ``i`` (warm; ``code``: its flags) of the series
    ``cols`` was built from."""
    items: list[_Item] = []  # the evidence that counts: indicators, patterns, the level
    _indicators(items, weights, cols, i, code)
    _patterns(items, weights, cols, i, code, candle.close)
    long_ = short = 0.0
    for _, side, p, _ in items:  # summed in the evidence's order, as the scorer does
        if side is LONG:
            long_ += p
        else:
            short += p
    if long_ == short:
        side, raw = FLAT, 0
        components = {name: 0.0 for name, _, _, _ in items}
        text = "tied evidence" if items else "no evidence"
    else:
        side = LONG if long_ > short else SHORT
        raw = round(max(long_, short) - OPPOSING_COST * min(long_, short))
        raw = 0 if raw < 0 else 100 if raw > 100 else raw  # to_confidence
        components, text = _explained(items, side, raw)
    confidence = round(raw * scale)
    confidence = 0 if confidence < 0 else 100 if confidence > 100 else confidence
    ok = side is not FLAT and confidence >= min_confidence
    reason = text if ok else f"no entry: {text} (needs {min_confidence})"
    if scale != 1.0:
        scaled = _SCALES.get(scale) or _scale_text(scale)
        reason = f"{reason} [confidence {confidence} = {scaled} x raw]"
    # ``Signal(candle.symbol, side if ok else FLAT, confidence, candle.close,
    # candle.close_time_ms, atr, regime, reason, components)``, slot by slot
    sig = UnfrozenSignal()
    sig.symbol = candle.symbol
    sig.direction = side if ok else FLAT
    sig.confidence = confidence
    sig.price = candle.close
    sig.ts_ms = candle.close_time_ms
    sig.atr = cols.atr.item(i)
    sig.regime = _REGIMES[code & (TRENDING | SIDEWAYS)]
    sig.reason = reason
    sig.components = components
    sig.__class__ = Signal  # type: ignore[assignment]
    # no ``__post_init__``: the confidence is an int clamped to 0..100 above
    return sig  # type: ignore[return-value]
