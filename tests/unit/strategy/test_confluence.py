"""SignalScorer contributions, candlestick patterns, swing levels and the confluence strategy."""

from __future__ import annotations

import numpy as np
import pytest

from kinetic.domain import Candle, Direction
from kinetic.strategy import ConfluenceStrategy, Evidence, SignalScorer
from kinetic.strategy.confluence import indicator_evidence, pattern_evidence
from kinetic.strategy.features import Features
from kinetic.strategy.indicators import StochasticValue
from kinetic.strategy.patterns import (
    SwingLevels,
    bearish_engulfing,
    bullish_engulfing,
    doji,
    hammer,
    shooting_star,
)
from kinetic.strategy.scoring import DEFAULT_WEIGHTS

LONG, SHORT = Direction.LONG, Direction.SHORT


def c(o: float, h: float, lo: float, cl: float, i: int = 0) -> Candle:
    return Candle("BTCUSDT", i * 60_000, i * 60_000 + 59_999, o, h, lo, cl, 1.0)


def test_default_weights_add_up_to_100() -> None:
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(100.0)


def test_scorer_sums_weighted_evidence_and_charges_opposition() -> None:
    scorer = SignalScorer()
    score = scorer.score([
        Evidence("engulfing", LONG, 1.0, "bullish engulfing"),
        Evidence("support_resistance", LONG, 0.5, "support 100"),
        Evidence("rsi", SHORT, 0.4),
    ])  # fmt: skip
    assert score.side is LONG
    assert score.components == {"engulfing": 15.0, "support_resistance": 10.0, "rsi": -6.0}
    assert score.confidence == round(25.0 - 0.5 * 6.0)
    assert "engulfing +15.0 (bullish engulfing)" in score.reason
    assert "rsi -6.0" in score.reason


def test_scorer_ties_unknown_names_and_clamping() -> None:
    scorer = SignalScorer({"a": 50.0, "b": 50.0})
    tie = scorer.score([Evidence("a", LONG, 1.0), Evidence("b", SHORT, 1.0)])
    assert (tie.side, tie.confidence) == (Direction.FLAT, 0)
    assert scorer.score([Evidence("zzz", LONG, 1.0)]).side is Direction.FLAT
    strong = scorer.score([Evidence("a", SHORT, 7.0), Evidence("b", SHORT, 1.0)])
    assert (strong.side, strong.confidence) == (SHORT, 100)  # strength clamps at 1
    with pytest.raises(ValueError):
        SignalScorer({"a": -1.0})


def test_engulfing_patterns() -> None:
    down, up = c(10, 10.2, 8.8, 9), c(8.9, 11, 8.8, 10.5)
    assert bullish_engulfing(down, up)
    assert not bearish_engulfing(down, up)
    up2, down2 = c(9, 10.2, 8.9, 10), c(10.1, 10.3, 8.5, 8.8)
    assert bearish_engulfing(up2, down2)
    assert not bullish_engulfing(up2, down2)
    assert not bullish_engulfing(down, c(9.1, 9.8, 9.0, 9.5))  # body inside: no engulfing


def test_hammer_shooting_star_and_doji() -> None:
    assert hammer(c(10, 10.1, 8, 10.05))
    assert not shooting_star(c(10, 10.1, 8, 10.05))
    assert shooting_star(c(10, 12, 9.95, 9.98))
    assert not hammer(c(10, 12, 9.95, 9.98))
    assert doji(c(10, 11, 9, 10.05))
    assert not doji(c(10, 11, 9, 10.8))
    assert not hammer(c(10, 10, 10, 10))
    assert not doji(c(10, 10, 10, 10))


def test_swing_levels_find_support_below_and_resistance_above() -> None:
    levels = SwingLevels(swing_n=1)
    for h, lo in [(12, 10), (11, 8), (13, 10), (15, 12), (14, 11)]:
        levels.update(h, lo)
    near = levels.around(12.0)
    assert near.support == 8.0
    assert near.resistance == 15.0
    assert levels.around(20.0).resistance is None


def _features(**kw: float) -> Features:
    base: dict[str, float | None] = {
        "close": 100.0, "ema_fast": 101.0, "ema_slow": 100.0, "prev_ema_fast": None,
        "prev_ema_slow": None, "rsi": 50.0, "atr": 1.0, "adx": 20.0, "plus_di": 20.0,
        "minus_di": 10.0, "macd_hist": 0.5, "bb_mid": 100.0, "bb_upper": 102.0, "bb_lower": 98.0,
    }  # fmt: skip
    base.update(kw)
    return Features(**base)  # type: ignore[arg-type]


def test_indicator_evidence_rules() -> None:
    ev = {e.name: e for e in indicator_evidence(_features(rsi=25.0), StochasticValue(10.0, 5.0))}
    assert ev["ema_trend"].side is LONG
    assert ev["ema_trend"].strength == pytest.approx(1.0)
    assert ev["macd"].side is LONG
    assert ev["rsi"].side is LONG
    assert ev["rsi"].strength == pytest.approx(10 / 15)
    assert ev["stochastic"].strength == 1.0  # oversold and %K above %D
    ev = {e.name: e for e in indicator_evidence(_features(rsi=70.0), StochasticValue(90.0, 95.0))}
    assert ev["rsi"].side is SHORT
    assert ev["stochastic"].side is SHORT


def test_pattern_evidence_near_support_with_doji_bonus() -> None:
    levels = SwingLevels(swing_n=1)
    for h, lo in [(12, 10), (11, 8), (13, 10)]:
        levels.update(h, lo)
    ev = pattern_evidence(None, c(8.2, 8.6, 7.9, 8.2), levels, atr=1.0)
    sr = [e for e in ev if e.name == "support_resistance"]
    assert len(sr) == 1
    assert sr[0].side is LONG
    assert sr[0].strength == pytest.approx(1.0)  # 0.2 from the level (0.8) + doji 0.5, capped


def test_confluence_strategy_components_explain_confidence() -> None:
    rng = np.random.default_rng(3)
    closes = 100 + np.cumsum(rng.normal(0, 0.6, 400))
    strategy = ConfluenceStrategy(min_confidence=30, confidence_scale=1.0)  # raw scores
    prev = closes[0]
    signals = []
    for i, close in enumerate(closes):
        hi, lo = max(prev, close) + rng.random() * 0.5, min(prev, close) - rng.random() * 0.5
        signals.append(strategy.on_candle(c(prev, hi, lo, close, i)))
        prev = close
    scored = [s for s in signals if s.components]
    assert scored
    for s in scored:
        plus = sum(v for v in s.components.values() if v > 0)
        minus = -sum(v for v in s.components.values() if v < 0)
        assert s.confidence == min(100, max(0, round(plus - 0.5 * minus)))
        assert s.regime is not None
        assert s.atr > 0
    entries = [s for s in signals if s.direction is not Direction.FLAT]
    assert all(s.confidence >= 30 and "confluence" in s.reason for s in entries)


def test_same_named_opposite_evidence_is_listed_apart() -> None:
    score = SignalScorer().score([
        Evidence("support_resistance", LONG, 1.0), Evidence("support_resistance", SHORT, 0.5)
    ])  # fmt: skip
    assert score.components == {"support_resistance": 20.0, "support_resistance_against": -10.0}
    assert score.confidence == 15
